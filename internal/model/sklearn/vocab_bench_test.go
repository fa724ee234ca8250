package sklearn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/loadgen"
	"github.com/mlserve/mlserve/internal/memtest"
)

// sampleTfidf are the sample repository's TF-IDF models.
var sampleTfidf = []string{"sentiment/v1", "sentiment/v2", "spam/v1"}

// BenchmarkSampleTfidf measures, for each TF-IDF model of models/, loading
// it (load; retained-B is the live heap the loaded model keeps), one text
// per Predict (predict: TF-IDF transform and classifier) and OOVRate (oov:
// one vocabulary lookup a word). It uses only LoadReader, Predict and
// OOVRate, so that the same file measures an older commit in interleaved
// rounds:
//
//	go test -run '^$' -bench SampleTfidf ./internal/model/sklearn/
func BenchmarkSampleTfidf(b *testing.B) {
	texts := loadgen.Corpus()[:100]
	ctx := context.Background()
	for _, name := range sampleTfidf {
		raw, err := os.ReadFile(filepath.Join("..", "..", "..", "models", name, "model.joblib"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/load", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadReader(bytes.NewReader(raw)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(memtest.HeapKept(func() any { m, _ := LoadReader(bytes.NewReader(raw)); return m })), "retained-B")
		})
		m, err := LoadReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/predict", func(b *testing.B) {
			n := 0
			for b.Loop() {
				if _, err := m.Predict(ctx, texts[n%len(texts):n%len(texts)+1]); err != nil {
					b.Fatal(err)
				}
				n++
			}
		})
		b.Run(name+"/oov", func(b *testing.B) {
			n := 0
			for b.Loop() {
				m.OOVRate(texts[n%len(texts)])
				n++
			}
		})
	}
}
