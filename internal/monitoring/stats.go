package monitoring

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// latencyWindow is how many recent request latencies each model keeps for
// its percentiles.
const latencyWindow = 2048

// rateSeconds is the span, in seconds, of the throughput figure.
const rateSeconds = 60

// Percentiles are latency percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
}

// ModelSummary is one model version's figures in GET /stats.
type ModelSummary struct {
	// ID is the model id, e.g. "spam-v1".
	ID string `json:"id"`
	// Requests counts predict and batch-predict calls; Texts the texts in them.
	Requests int64 `json:"requests"`
	Texts    int64 `json:"texts"`
	// Throughput is requests per second over the last minute (or since
	// start when shorter).
	Throughput float64 `json:"throughput_rps"`
	// Latency summarises the most recent successful requests.
	Latency Percentiles `json:"latency"`
	// Errors counts failed requests by kind; ErrorRate is their share of
	// Requests.
	Errors    map[string]int64 `json:"errors,omitempty"`
	ErrorRate float64          `json:"error_rate"`
	// CacheHits and CacheMisses count texts; CacheHitRatio is hits over both.
	CacheHits     int64   `json:"cache_hits"`
	CacheMisses   int64   `json:"cache_misses"`
	CacheHitRatio float64 `json:"cache_hit_ratio"`
	// Predictions counts predictions by label.
	Predictions map[string]int64 `json:"predictions,omitempty"`
	// Drift is the drift status (ok, warn, alert); empty when not tracked.
	Drift string `json:"drift,omitempty"`
	// LiveAccuracy is the rolling accuracy from feedback, when any.
	LiveAccuracy *float64 `json:"live_accuracy,omitempty"`
}

// Summary is the body of GET /stats.
type Summary struct {
	// UptimeSeconds is how long the server has run.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Models holds one entry per model version, sorted by id.
	Models []ModelSummary `json:"models"`
}

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

// NewStats starts an empty summary at time start; now is the clock (nil:
// time.Now).
func NewStats(start time.Time, now func() time.Time) *Stats {
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

// Summary returns the figures; drift adds each model's drift status and
// live accuracy when not nil.
func (s *Stats) Summary(drift func(id string) (status string, acc *float64)) Summary {
	now := s.now()
	s.mu.Lock()
	sum := Summary{UptimeSeconds: now.Sub(s.start).Seconds()}
	span := min(float64(rateSeconds), max(sum.UptimeSeconds, 1))
	for id, b := range s.models {
		ms := ModelSummary{ID: id, Requests: b.requests, Texts: b.texts, CacheHits: b.hits, CacheMisses: b.misses,
			Predictions: maps.Clone(b.predictions)}
		var n int64
		for i, at := range b.secAt {
			if at > now.Unix()-rateSeconds && at <= now.Unix() {
				n += b.sec[i]
			}
		}
		ms.Throughput = float64(n) / span
		var errs int64
		for k, v := range b.errors {
			if v > 0 {
				if ms.Errors == nil {
					ms.Errors = map[string]int64{}
				}
				ms.Errors[k] = v
				errs += v
			}
		}
		if b.requests > 0 {
			ms.ErrorRate = float64(errs) / float64(b.requests)
		}
		if b.hits+b.misses > 0 {
			ms.CacheHitRatio = float64(b.hits) / float64(b.hits+b.misses)
		}
		if b.latN > 0 {
			lat := slices.Clone(b.lat[:b.latN])
			slices.Sort(lat)
			ms.Latency = Percentiles{P50: quantile(lat, .5), P90: quantile(lat, .9), P99: quantile(lat, .99)}
		}
		sum.Models = append(sum.Models, ms)
	}
	s.mu.Unlock()
	slices.SortFunc(sum.Models, func(a, b ModelSummary) int { return strings.Compare(a.ID, b.ID) })
	if drift != nil {
		for i := range sum.Models {
			sum.Models[i].Drift, sum.Models[i].LiveAccuracy = drift(sum.Models[i].ID)
		}
	}
	return sum
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
