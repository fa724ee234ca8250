package redis

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// BenchmarkRecord is the monitor's per-answer call on the request path,
// alone and shared through a real redis-server (queued for the writer,
// drift bins kept for the flush), side by side in one run: the fleet's
// cost per prediction, in this process, is shared minus alone. Parallel,
// as requests are.
func BenchmarkRecord(b *testing.B) {
	rs := redistest.Start(b)
	for _, shared := range []bool{false, true} {
		name := "alone"
		if shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			mon, err := monitoring.New(config.Monitoring{}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			var f *Fleet
			if shared {
				f = open(b, rs.URL(), Options{})
				mon.ShareWith(f, "bench")
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); mon.RunFleet(ctx) }()
				b.Cleanup(func() { cancel(); <-done })
			}
			acc := .9
			man := &model.Manifest{Accuracy: &acc, Reference: &model.Reference{
				LabelDistribution: map[string]float64{"ham": .7, "spam": .3},
				Confidence:        &model.Histogram{Edges: []float64{0, .5, .8, 1}, Fractions: []float64{.1, .4, .5}}}}
			if err := mon.Track("spam-v1", []string{"ham", "spam"}, man); err != nil {
				b.Fatal(err)
			}
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = "0193b7f2-5c1e-7a44-9d1e-" + strconv.Itoa(100000000000+i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					mon.Record("spam-v1", ids[i%len(ids)], monitoring.Observation{Label: "spam", Confidence: .93, TextLength: 80, OOVRate: .1})
				}
			})
			b.StopTimer()
			if f != nil {
				time.Sleep(50 * time.Millisecond) // let the writer catch up before Close
				b.ReportMetric(float64(f.Dropped())/float64(b.N), "dropped/op")
			}
		})
	}
}
