package server

import (
	"slices"
	"sync"
	"time"

	"github.com/mlserve/mlserve/api"
)

// window is how many recent latencies each model keeps for its percentiles.
const window = 2048

// statsBook is the simple in-process summary behind GET /stats: counters and
// a ring of recent latencies per model.
type statsBook struct {
	start  time.Time
	mu     sync.Mutex
	models map[string]*modelBook
}

type modelBook struct {
	requests, texts, errors int64
	lat                     [window]float64
	n                       int // latencies recorded, capped at window
	next                    int
}

func newStatsBook(start time.Time) *statsBook {
	return &statsBook{start: start, models: map[string]*modelBook{}}
}

// record books one request on model id that began at start.
func (b *statsBook) record(id string, texts int, start time.Time, err error) {
	ms := float64(time.Since(start).Microseconds()) / 1000
	b.mu.Lock()
	m := b.models[id]
	if m == nil {
		m = &modelBook{}
		b.models[id] = m
	}
	m.requests++
	m.texts += int64(texts)
	if err != nil {
		m.errors++
	} else {
		m.lat[m.next] = ms
		m.next = (m.next + 1) % window
		if m.n < window {
			m.n++
		}
	}
	b.mu.Unlock()
}

func (b *statsBook) model(id string) api.ModelStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.models[id].stats()
}

func (b *statsBook) snapshot() *api.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := &api.Stats{UptimeSeconds: time.Since(b.start).Seconds(), Models: make(map[string]api.ModelStats, len(b.models))}
	for id, m := range b.models {
		ms := m.stats()
		st.Models[id] = ms
		st.Requests += ms.Requests
		st.Errors += ms.Errors
	}
	return st
}

func (m *modelBook) stats() api.ModelStats {
	if m == nil {
		return api.ModelStats{}
	}
	s := api.ModelStats{Requests: m.requests, Texts: m.texts, Errors: m.errors}
	if m.n > 0 {
		lat := slices.Clone(m.lat[:m.n])
		slices.Sort(lat)
		s.LatencyP50MS = quantile(lat, 0.50)
		s.LatencyP99MS = quantile(lat, 0.99)
		s.LatencyHistogram = latencyHistogram(lat)
	}
	return s
}

// latencyHistogram counts sorted latencies in api.LatencyBucketsMS's
// buckets and one last unbounded bucket.
func latencyHistogram(sorted []float64) []api.LatencyBucket {
	out := make([]api.LatencyBucket, len(api.LatencyBucketsMS)+1)
	i := 0
	for b, le := range api.LatencyBucketsMS {
		out[b].LE = &api.LatencyBucketsMS[b]
		for i < len(sorted) && sorted[i] <= le {
			out[b].Count++
			i++
		}
	}
	out[len(out)-1].Count = int64(len(sorted) - i)
	return out
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
