// Package minilm benchmarks sentiment/v3's int8 MiniLM encoder against the
// float32 one it replaced, side by side in one run (issue #17 item 4):
//
//	sh bench/minilm/run.sh
//
// run.sh builds the baseline folder (the wheel's encoder, which ONNX Runtime
// folds to float32 at load, with the classifier trained on it) and names it in
// MLSERVE_MINILM_BASELINE; the benchmark then loads both folders in one
// process and alternates between them, so that the ratio is measured under
// the same load on the shared machine.
package minilm

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/model/onnx"
)

// root is the repository root: the first folder above the test's with a go.mod.
func root(b *testing.B) string {
	b.Helper()
	dir, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			b.Fatal("no go.mod above the benchmark's directory")
		}
		dir = up
	}
}

// load loads the sentiment/v3 folder dir with one intra-op thread (the
// figures are per text on one core).
func load(b *testing.B, lib, dir string) *onnx.Model {
	b.Helper()
	m, err := onnx.LoadDir(context.Background(), dir, onnx.Options{LibraryPath: lib, IntraOpThreads: 1})
	if err != nil {
		b.Fatalf("%s: %v", dir, err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkSentimentV3 predicts the reviews of sentiment/v3's parity fixture
// one text per call (text=1) and 32 per call (batch=32) with the float32
// baseline (encoder=fp32) and the served int8 encoder (encoder=int8);
// ms/text is the figure to compare.
func BenchmarkSentimentV3(b *testing.B) {
	r := root(b)
	base := os.Getenv("MLSERVE_MINILM_BASELINE")
	if base == "" {
		b.Skip("MLSERVE_MINILM_BASELINE unset: run sh bench/minilm/run.sh")
	}
	lib := os.Getenv("MLSERVE_ONNX_LIBRARY_PATH")
	if lib == "" {
		lib = filepath.Join(r, onnx.DefaultLibrary)
	}
	raw, err := os.ReadFile(filepath.Join(r, "python", "fixtures", "onnx", "sentiment-v3-embeddings.json"))
	if err != nil {
		b.Fatal(err)
	}
	var fx struct {
		Texts []string `json:"texts"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		b.Fatal(err)
	}
	models := []struct {
		name string
		m    *onnx.Model
	}{
		{"fp32", load(b, lib, base)},
		{"int8", load(b, lib, filepath.Join(r, "models", "sentiment", "v3"))},
	}
	for _, per := range []int{1, 32} {
		for _, mm := range models {
			name := "encoder=" + mm.name + "/text=1"
			if per > 1 {
				name = "encoder=" + mm.name + "/batch=32"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				texts := 0
				for i := 0; b.Loop(); i++ {
					start := (i * per) % len(fx.Texts)
					end := min(start+per, len(fx.Texts))
					if _, err := mm.m.Predict(ctx, fx.Texts[start:end]); err != nil {
						b.Fatal(err)
					}
					texts += end - start
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(texts), "ms/text")
			})
		}
	}
}
