package monitoring

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mlserve/mlserve/api"
)

// latencyWindow is how many recent request latencies each model keeps for
// its percentiles.
const latencyWindow = 2048

// rateSeconds is the span, in seconds, of the throughput figure.
const rateSeconds = 60

// Stats keeps the in-process counters behind GET /stats. It is safe for
// concurrent use.
type Stats struct {
	start  time.Time
	now    func() time.Time
	mu     sync.Mutex
	models map[string]*book
}

type book struct {
	requests, texts int64
	errors          map[string]int64
	hits, misses    int64
	predictions     map[string]int64
	lat             [latencyWindow]float64
	latN, latNext   int
	sec             [rateSeconds]int64 // requests per second, by unix second % rateSeconds
	secAt           [rateSeconds]int64 // which unix second each slot holds
}

// newStats starts an empty summary at time start; now is the clock (nil:
// time.Now).
func newStats(start time.Time, now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	return &Stats{start: start, now: now, models: map[string]*book{}}
}

func (s *Stats) book(id string) *book {
	b := s.models[id]
	if b == nil {
		b = &book{errors: map[string]int64{}, predictions: map[string]int64{}}
		s.models[id] = b
	}
	return b
}

// Request books one request on model id with texts texts; errKind is ""
// for a success, else a Kind* constant.
func (s *Stats) Request(id string, texts int, d time.Duration, errKind string) {
	sec := s.now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.book(id)
	b.requests++
	b.texts += int64(texts)
	slot := sec % rateSeconds
	if b.secAt[slot] != sec {
		b.secAt[slot], b.sec[slot] = sec, 0
	}
	b.sec[slot]++
	if errKind != "" {
		b.errors[errKind]++
		return
	}
	b.lat[b.latNext] = float64(d.Microseconds()) / 1000
	b.latNext = (b.latNext + 1) % latencyWindow
	b.latN = min(b.latN+1, latencyWindow)
}

// Prediction counts one prediction of label by model id.
func (s *Stats) Prediction(id, label string) {
	s.mu.Lock()
	s.book(id).predictions[label]++
	s.mu.Unlock()
}

// Cache counts hits and misses (texts) of model id's cache lookups.
func (s *Stats) Cache(id string, hits, misses int) {
	s.mu.Lock()
	b := s.book(id)
	b.hits += int64(hits)
	b.misses += int64(misses)
	s.mu.Unlock()
}

// Forget drops model id's counters (after unload).
func (s *Stats) Forget(id string) {
	s.mu.Lock()
	delete(s.models, id)
	s.mu.Unlock()
}

// Summary returns the figures as GET /stats carries them: per tracked
// model id its requests, texts and errors, latency percentiles,
// throughput, errors by kind, cache hits and predictions, with the totals
// of requests and errors. drift adds each model's drift status and live
// accuracy when not nil.
func (s *Stats) Summary(drift func(id string) (status string, acc *float64)) api.Stats {
	now := s.now()
	s.mu.Lock()
	sum := api.Stats{UptimeSeconds: now.Sub(s.start).Seconds()}
	span := min(float64(rateSeconds), max(sum.UptimeSeconds, 1))
	for id, b := range s.models {
		ms := api.ModelStats{Requests: b.requests, Texts: b.texts, CacheHits: b.hits, CacheMisses: b.misses,
			Predictions: maps.Clone(b.predictions)}
		var n int64
		for i, at := range b.secAt {
			if at > now.Unix()-rateSeconds && at <= now.Unix() {
				n += b.sec[i]
			}
		}
		ms.ThroughputRPS = float64(n) / span
		for k, v := range b.errors {
			if v > 0 {
				if ms.ErrorsByKind == nil {
					ms.ErrorsByKind = map[string]int64{}
				}
				ms.ErrorsByKind[k] = v
				ms.Errors += v
			}
		}
		if b.requests > 0 {
			ms.ErrorRate = float64(ms.Errors) / float64(b.requests)
		}
		if b.hits+b.misses > 0 {
			ms.CacheHitRatio = float64(b.hits) / float64(b.hits+b.misses)
		}
		if b.latN > 0 {
			lat := slices.Clone(b.lat[:b.latN])
			slices.Sort(lat)
			ms.LatencyP50MS, ms.LatencyP90MS, ms.LatencyP99MS = quantile(lat, .5), quantile(lat, .9), quantile(lat, .99)
		}
		if sum.Models == nil {
			sum.Models = map[string]api.ModelStats{}
		}
		sum.Models[id] = ms
		sum.Requests += ms.Requests
		sum.Errors += ms.Errors
	}
	s.mu.Unlock()
	if drift != nil {
		for id, ms := range sum.Models {
			ms.Drift, ms.LiveAccuracy = drift(id)
			sum.Models[id] = ms
		}
	}
	return sum
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// totals returns model id's counters so far, as a Delta from zero.
func (s *Stats) totals(id string) Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.models[id]
	if b == nil {
		return Delta{ID: id}
	}
	t := Delta{ID: id, Requests: b.requests, Texts: b.texts, Predictions: maps.Clone(b.predictions)}
	for _, v := range b.errors {
		t.Errors += v
	}
	return t
}

// since returns the counts of totals t since sent (the totals at the last
// flush); counters that went back (the id was forgotten and tracked
// again) count from zero.
func since(t, sent Delta) Delta {
	id := t.ID
	if t.Requests < sent.Requests || t.Texts < sent.Texts || t.Errors < sent.Errors {
		sent = Delta{}
	}
	d := Delta{ID: id, Requests: t.Requests - sent.Requests, Texts: t.Texts - sent.Texts, Errors: t.Errors - sent.Errors}
	for l, n := range t.Predictions {
		if n -= sent.Predictions[l]; n > 0 {
			if d.Predictions == nil {
				d.Predictions = map[string]int64{}
			}
			d.Predictions[l] = n
		}
	}
	return d
}
