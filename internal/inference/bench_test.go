package inference

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures the engine's own overhead: one text through
// queue, batcher and worker on a model that costs nothing.
func BenchmarkRoundTrip(b *testing.B) {
	e := newEngine(b, Config{})
	m := &echoModel{}
	in := []string{"hello"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Predict(ctx, "m", m, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatching runs 64 concurrent clients of single-text requests
// against a model whose cost is mostly fixed (1 ms per call + 10 µs per
// text), with batching on and off, and reports texts per second.
//
//	go test -run '^$' -bench Batching -benchtime 3s ./internal/inference
func BenchmarkBatching(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("batching=%v", on), func(b *testing.B) {
			m := &echoModel{fixed: time.Millisecond, perText: 10 * time.Microsecond, noBatch: !on}
			e := newEngine(b, Config{MaxBatchSize: 32, BatchTimeout: 5 * time.Millisecond, MaxQueue: 128})
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := []string{"text"}
					for next.Add(1) <= int64(b.N) {
						if _, err := e.Predict(context.Background(), "m", m, in); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "texts/s")
			sizes := m.batchSizes()
			b.ReportMetric(float64(b.N)/float64(len(sizes)), "texts/batch")
		})
	}
}
