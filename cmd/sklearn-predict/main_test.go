package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	td := "../../internal/model/sklearn/testdata"
	var exp struct {
		Cases map[string]struct {
			Labels []string    `json:"labels"`
			Proba  [][]float64 `json:"proba"`
		} `json:"cases"`
	}
	b, err := os.ReadFile(filepath.Join(td, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	texts, err := os.ReadFile(filepath.Join(td, "texts.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, model, texts string
		stdin              string
		wantErr            string
	}{
		{name: "file", model: "tfidf_lr_binary.joblib", texts: filepath.Join(td, "texts.json")},
		{name: "stdin", model: "tfidf_sgd_mhuber.joblib", texts: "-", stdin: string(texts)},
		{name: "no decision for NB", model: "count_mnb.joblib", texts: "-", stdin: string(texts)},
		{name: "bad texts", model: "count_mnb.joblib", texts: "-", stdin: `{"a":1}`, wantErr: "JSON array"},
		{name: "refused model", model: "refuse_bagging.joblib", texts: "-", stdin: `["x"]`, wantErr: "BaggingClassifier is not supported"},
		{name: "missing flags", wantErr: "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{}
			if tc.model != "" {
				args = append(args, "-model", filepath.Join(td, tc.model), "-texts", tc.texts)
			}
			err := run(args, strings.NewReader(tc.stdin), &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got output
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			e := exp.Cases[strings.TrimSuffix(tc.model, ".joblib")]
			if len(got.Predictions) != len(e.Labels) {
				t.Fatalf("%d predictions, want %d", len(got.Predictions), len(e.Labels))
			}
			for i, p := range got.Predictions {
				if p.Label != e.Labels[i] {
					t.Errorf("text %d: %q, sklearn %q", i, p.Label, e.Labels[i])
				}
				// JSON round trip keeps floats exactly: compare with tolerance
				// only for the Go-vs-Python difference.
				for k, v := range p.Probabilities {
					if d := v - e.Proba[i][k]; d > 1e-9 || d < -1e-9 {
						t.Errorf("text %d proba %d: %v vs %v", i, k, v, e.Proba[i][k])
					}
				}
			}
			if got.Info.Framework != "sklearn" || len(got.Labels) < 2 {
				t.Errorf("info %+v labels %v", got.Info, got.Labels)
			}
			if tc.model == "count_mnb.joblib" && !bytes.Contains(out.Bytes(), []byte(`"decision":null`)) {
				t.Errorf("NB output has a decision")
			}
		})
	}
}
