package sklearn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/loadgen"
)

// benchModels are make_skmodels_bench.py's models: one per estimator
// family of issue 16, fitted on SpamAssassin e-mails through TF-IDF.
var benchModels = []string{
	"ovr_sgd", "ovo_linsvc", "voting_soft", "stacking",
	"tree", "forest300", "extratrees200", "gb200", "ada200", "hgb_svd",
	"svc_rbf_proba", "mlp", "knn", "centroid",
}

// TestBenchModels loads each benchmark model and predicts the spam sample
// texts, so that a benchmark never measures a model that does not load,
// and checks it tells spam from ham on them (every model was fitted to).
func TestBenchModels(t *testing.T) {
	texts := loadgen.Corpus()[:20]
	for _, name := range benchModels {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata/bench", name+".joblib"))
			if err != nil {
				t.Fatal(err)
			}
			preds, err := m.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, p := range preds {
				seen[p.Label] = true
			}
			if strings.Join(m.Labels(), ",") != "ham,spam" || len(seen) == 0 {
				t.Errorf("labels %v, predicted %v", m.Labels(), seen)
			}
		})
	}
}

// BenchmarkModels measures, for each model of benchModels, loading the
// file (load) and predicting the spam sample texts one call per text
// (predict: µs/text and allocations per text).
//
//	go test -run '^$' -bench BenchmarkModels -benchtime 200x ./internal/model/sklearn/
func BenchmarkModels(b *testing.B) {
	texts := loadgen.Corpus()[:100]
	ctx := context.Background()
	for _, name := range benchModels {
		raw, err := os.ReadFile(filepath.Join("testdata/bench", name+".joblib"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/load", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := LoadReader(bytes.NewReader(raw)); err != nil {
					b.Fatal(err)
				}
			}
		})
		m, err := LoadReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/predict", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := m.Predict(ctx, texts[n%len(texts):n%len(texts)+1]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/text")
		})
	}
}
