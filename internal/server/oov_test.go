package server

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// oovModel measures the OOV rate in Predict for texts that start with "m"
// (rate 0.05) and leaves it unmeasured for the others, whose OOVRate
// fallback says 0.95; it counts the fallback calls.
type oovModel struct{ fallbacks int }

func (m *oovModel) Predict(_ context.Context, texts []string) ([]model.Prediction, error) {
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		out[i] = model.Prediction{Label: "a", Confidence: 0.9}
		if strings.HasPrefix(t, "m") {
			out[i].OOV = model.OOVRate{Rate: 0.05, Measured: true}
		}
	}
	return out, nil
}

func (m *oovModel) OOVRate(string) (float64, bool) { m.fallbacks++; return 0.95, true }
func (m *oovModel) Labels() []string               { return []string{"a", "b"} }
func (m *oovModel) Info() model.Info               { return model.Info{Framework: "fake"} }
func (m *oovModel) Close() error                   { return nil }

// TestRecordOOV checks that record takes a prediction's measured OOV rate
// and asks the model's OOVRate only for the others, and that a memory cache
// hit keeps the measurement its first answer took.
func TestRecordOOV(t *testing.T) {
	met, err := monitoring.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitoring.New(config.Monitoring{Drift: config.Drift{Window: 20, Bootstrap: 10, FeedbackWindow: 10, MinFeedback: 4}}, met, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cache.Config{MaxSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	const id = "spam-v1"
	s := &Server{mon: mon, opts: Options{Cache: c}}
	m := &oovModel{}
	if err := mon.Track(id, m.Labels(), nil); err != nil {
		t.Fatal(err)
	}
	// Six measured texts, four not; then the same ten again from the cache.
	texts := []string{"m1", "m2", "m3", "m4", "m5", "m6", "u1", "u2", "u3", "u4"}
	for round := range 2 {
		preds, cached, err := s.predictCached(context.Background(), id, texts, m.Predict)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range preds {
			if cached[i] != (round == 1) || p.OOV.Measured != strings.HasPrefix(texts[i], "m") {
				t.Fatalf("round %d, %q: cached %v, OOV %+v", round, texts[i], cached[i], p.OOV)
			}
		}
		s.record(id, m, "r", true, texts, texts, preds)
	}
	if m.fallbacks != 8 {
		t.Errorf("OOVRate called %d times, want 8 (the unmeasured texts, twice)", m.fallbacks)
	}
	st, err := mon.Drift(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Signals {
		if g.Signal != monitoring.SignalOOVRate {
			continue
		}
		// The reference is the first ten texts: 0.6 in [0, 0.1), 0.4 in [0.9, 1].
		if len(g.Reference) != 10 || g.Reference[0] != 0.6 || g.Reference[9] != 0.4 {
			t.Errorf("oov_rate reference %v, want 0.6 in the first bin and 0.4 in the last", g.Reference)
		}
		return
	}
	t.Fatalf("no oov_rate signal in %+v", st.Signals)
}
