package server

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkLatencySummary is GET /stats's latency work for one version
// with a full window: the percentiles as before the dashboard, and the
// same with the dashboard's latency histogram added; compare the two.
func BenchmarkLatencySummary(b *testing.B) {
	var lat [window]float64
	r := rand.New(rand.NewPCG(1, 2))
	for i := range lat {
		lat[i] = r.ExpFloat64() * 3
	}
	percentiles := func() []float64 {
		s := slices.Clone(lat[:])
		slices.Sort(s)
		_, _ = quantile(s, 0.50), quantile(s, 0.99)
		return s
	}
	b.Run("percentiles", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			percentiles()
		}
	})
	b.Run("percentiles+histogram", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if h := latencyHistogram(percentiles()); len(h) == 0 {
				b.Fatal("no histogram")
			}
		}
	})
}
