package monitoring

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
)

// FuzzReference feeds arbitrary model.yaml bytes (uploaded by users) through
// ParseManifest into Track, then records traffic: Track either refuses the
// reference with ErrConfig or every PSI it reports is finite and ≥ 0.
func FuzzReference(f *testing.F) {
	for _, p := range []string{"spam/v1", "sentiment/v1", "sentiment/v2"} {
		if b, err := os.ReadFile(filepath.Join(root, "models", p, "model.yaml")); err == nil {
			f.Add(b, 0.5, 300)
		}
	}
	f.Add([]byte("reference: {label_distribution: {a: -1}}"), .5, 10)
	f.Add([]byte("reference: {confidence: {edges: [0, .nan], fractions: [1]}}"), .5, 10)
	f.Add([]byte("reference: {text_length: {edges: [0, 0, 1], fractions: [0, 0]}}"), .5, 10)
	f.Add([]byte("accuracy: .9\nreference: {oov_rate: {edges: [0, 1], fractions: [1e308]}}"), math.Inf(1), -5)
	f.Fuzz(func(t *testing.T, yml []byte, conf float64, length int) {
		man, _, err := model.ParseManifest(yml)
		if err != nil {
			return
		}
		mon, err := New(config.Monitoring{Drift: config.Drift{Window: 20, Bootstrap: 20}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := mon.Track("m-v1", man.Labels, man); err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Track: %v, want ErrConfig", err)
			}
			return
		}
		for i := range 60 {
			l := "a"
			if len(man.Labels) > 0 {
				l = man.Labels[i%len(man.Labels)]
			}
			mon.Record("m-v1", "", Observation{Label: l, Confidence: conf, TextLength: length * i, OOVRate: conf})
		}
		st, err := mon.Drift("m-v1")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st.Signals {
			if math.IsNaN(s.PSI) || math.IsInf(s.PSI, 0) || s.PSI < 0 {
				t.Fatalf("%s: PSI %v", s.Signal, s.PSI)
			}
		}
	})
}
