package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../internal/model/onnx/testdata"

func needRuntime(t *testing.T) {
	t.Helper()
	if os.Getenv("MLSERVE_ONNX_LIBRARY_PATH") != "" {
		return
	}
	p, _ := filepath.Abs("../../.cache/onnxruntime/libonnxruntime.so")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("MLSERVE_REQUIRE_ONNX") == "1" {
			t.Fatalf("ONNX Runtime not at %s (MLSERVE_REQUIRE_ONNX=1)", p)
		}
		t.Skipf("ONNX Runtime not at %s", p)
	}
	t.Setenv("MLSERVE_ONNX_LIBRARY_PATH", p)
}

func TestRun(t *testing.T) {
	needRuntime(t)
	b, err := os.ReadFile(filepath.Join(fixtures, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Encoder struct {
			Texts         []string    `json:"texts"`
			IDs           [][]int64   `json:"ids"`
			Probabilities [][]float64 `json:"probabilities"`
			Embeddings    [][]float64 `json:"embeddings"`
		} `json:"encoder"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	want := all.Encoder
	texts, _ := json.Marshal(want.Texts)
	for _, batch := range []string{"0", "3"} {
		t.Run("batch="+batch, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"-model", filepath.Join(fixtures, "encoder"), "-texts", "-", "-tokens", "-embeddings", "-batch", batch}
			if err := run(context.Background(), args, bytes.NewReader(texts), &out); err != nil {
				t.Fatal(err)
			}
			var got output
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Predictions) != len(want.Texts) || len(got.Tokens) != len(want.Texts) || len(got.Embeddings) != len(want.Texts) {
				t.Fatalf("%d predictions, %d tokens, %d embeddings for %d texts", len(got.Predictions), len(got.Tokens), len(got.Embeddings), len(want.Texts))
			}
			for i := range want.Texts {
				if fmt.Sprint(got.Tokens[i].IDs) != fmt.Sprint(want.IDs[i]) {
					t.Errorf("text %d: ids %v, want %v", i, got.Tokens[i].IDs, want.IDs[i])
				}
				for j, w := range want.Probabilities[i] {
					if math.Abs(got.Predictions[i].Probabilities[j]-w) > 1e-6 {
						t.Errorf("text %d: p[%d] = %v, want %v", i, j, got.Predictions[i].Probabilities[j], w)
					}
				}
				for j, w := range want.Embeddings[i] {
					if math.Abs(got.Embeddings[i][j]-w) > 1e-6 {
						t.Errorf("text %d: embedding[%d] = %v, want %v", i, j, got.Embeddings[i][j], w)
					}
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		in   string
		want string
	}{
		{"no flags", nil, "", "usage"},
		{"texts not an array", []string{"-model", filepath.Join(fixtures, "bag"), "-texts", "-"}, `{"a": 1}`, "JSON array of strings"},
		{"no model.yaml", []string{"-model", t.TempDir(), "-texts", "-"}, `["x"]`, "model.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, strings.NewReader(tt.in), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
