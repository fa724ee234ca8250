package monitoring

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

func benchMonitor(b *testing.B, withMetrics bool) *Monitor {
	b.Helper()
	var met *Metrics
	if withMetrics {
		var err error
		if met, err = NewMetrics(prometheus.NewRegistry()); err != nil {
			b.Fatal(err)
		}
	}
	mon, err := New(config.Monitoring{}, met, nil)
	if err != nil {
		b.Fatal(err)
	}
	acc := .99
	ref := &model.Reference{LabelDistribution: map[string]float64{"ham": .67, "spam": .33},
		Confidence: &model.Histogram{Edges: unitEdges, Fractions: []float64{0, 0, 0, 0, 0, .01, .01, .01, .02, .95}},
		TextLength: &model.Histogram{Edges: lengthEdges, Fractions: []float64{0, 0, 0, 0, 0, .01, .16, .58, .16, .08, .01}},
		OOVRate:    &model.Histogram{Edges: unitEdges, Fractions: []float64{.84, .14, .01, .01, 0, 0, 0, 0, 0, 0}}}
	if err := mon.Track("spam-v1", []string{"ham", "spam"}, &model.Manifest{Reference: ref, Accuracy: &acc}); err != nil {
		b.Fatal(err)
	}
	return mon
}

// BenchmarkRecord is the per-prediction cost the serving path pays:
// metrics, stats, drift window and the feedback ring.
func BenchmarkRecord(b *testing.B) {
	for _, tt := range []struct {
		name      string
		metrics   bool
		requestID bool
	}{{"drift+stats", false, false}, {"metrics+drift+stats", true, false}, {"all+request_id", true, true}} {
		b.Run(tt.name, func(b *testing.B) {
			mon := benchMonitor(b, tt.metrics)
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = fmt.Sprintf("0192f6c2-7a1e-7c3b-9d4e-%012d", i)
			}
			obs := []Observation{{Label: "ham", Confidence: .97, TextLength: 1800, OOVRate: .05},
				{Label: "spam", Confidence: .88, TextLength: 4200, OOVRate: .12}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := ""
				if tt.requestID {
					id = ids[i%len(ids)]
				}
				mon.Record("spam-v1", id, obs[i&1])
				i++
			}
		})
	}
}

// BenchmarkRecordParallel is Record under concurrent handlers.
func BenchmarkRecordParallel(b *testing.B) {
	mon := benchMonitor(b, true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		o := Observation{Label: "ham", Confidence: .97, TextLength: 1800, OOVRate: .05}
		for pb.Next() {
			mon.Record("spam-v1", "", o)
		}
	})
}

// BenchmarkRequest is the per-request cost: latency histogram and stats.
func BenchmarkRequest(b *testing.B) {
	mon := benchMonitor(b, true)
	b.ReportAllocs()
	for b.Loop() {
		mon.Request("/predict", "spam-v1", 200, 1, 1200*time.Microsecond, "")
	}
}

// BenchmarkPredictMonitored compares the real spam model predicting one
// held-out mail with and without monitoring. Both run interleaved in the same
// loop (same texts, same machine load); it reports each path's ns per
// prediction and the throughput ratio on/off (target ≥ 0.9).
func BenchmarkPredictMonitored(b *testing.B) {
	_, _, held, _ := spamData(b)
	m, err := sklearn.Load("../../models/spam/v1/model.joblib")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	mon := benchMonitor(b, true)
	ctx := context.Background()
	texts := make([]string, 256)
	for i := range texts {
		texts[i] = held[i*len(held)/len(texts)].text
	}
	predict := func(t string, mon *Monitor) time.Duration {
		start := time.Now()
		p, err := m.Predict(ctx, []string{t})
		if err != nil {
			b.Fatal(err)
		}
		if mon != nil {
			mon.Record("spam-v1", "", Observation{Label: p[0].Label, Confidence: p[0].Confidence,
				TextLength: utf8.RuneCountInString(t), OOVRate: -1})
			mon.Request("/predict", "spam-v1", 200, 1, time.Since(start), "")
		}
		return time.Since(start)
	}
	var off, on time.Duration
	i := 0
	for b.Loop() {
		t := texts[i%len(texts)]
		if i&1 == 0 { // alternate which goes first
			off += predict(t, nil)
			on += predict(t, mon)
		} else {
			on += predict(t, mon)
			off += predict(t, nil)
		}
		i++
	}
	b.ReportMetric(float64(off.Nanoseconds())/float64(i), "ns/pred-off")
	b.ReportMetric(float64(on.Nanoseconds())/float64(i), "ns/pred-on")
	b.ReportMetric(float64(off)/float64(on), "on/off-throughput")
}
