package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/mlserve/mlserve/api"
)

// Bounds of what History keeps beside its fixed series.
const (
	// MaxModels is the most model versions History follows at once; more
	// are left out until one is dropped.
	MaxModels = 64
	// MaxLabels is the most predicted labels one version has series for.
	MaxLabels = 64
	// MaxKinds is the most error kinds the server-wide series cover.
	MaxKinds = 16
)

// The series' names, as GET /ui/history carries them.
const (
	SeriesRequests      = "requests_per_s"
	SeriesTexts         = "texts_per_s"
	SeriesErrors        = "errors_per_s"
	SeriesErrorRate     = "error_rate"
	SeriesCacheHitRatio = "cache_hit_ratio"
	SeriesRedisFallback = "redis_fallback"
	SeriesQueueDepth    = "queue_depth"
	SeriesP50           = "p50_ms"
	SeriesP90           = "p90_ms"
	SeriesP99           = "p99_ms"
)

var (
	globalSeries = []string{SeriesRequests, SeriesTexts, SeriesErrors, SeriesErrorRate, SeriesCacheHitRatio,
		SeriesRedisFallback, SeriesQueueDepth}
	modelSeries = []string{SeriesRequests, SeriesTexts, SeriesErrors, SeriesErrorRate, SeriesCacheHitRatio,
		SeriesQueueDepth, SeriesP50, SeriesP90, SeriesP99}
)

// ErrResolution is returned by NewHistory for a step that does not divide
// the span into at least two points.
var ErrResolution = errors.New("ui: history resolution out of range")

// ring is one series: a value per sample slot, NaN where there is none.
type ring []float32

func newRing(n int) ring {
	r := make(ring, n)
	for i := range r {
		r[i] = float32(math.NaN())
	}
	return r
}

// modelRings are one version's series.
type modelRings struct {
	series   map[string]ring
	labels   map[string]ring
	lastSeen uint64 // the sample sequence number it last appeared in
}

// History is the dashboard's memory of the last span: fixed-size rings of
// the server's and each model version's series, sampled from the server's
// stats every resolution. Its methods are safe for concurrent use.
type History struct {
	res time.Duration
	n   int // points per series

	mu     sync.Mutex
	seq    uint64  // samples taken
	times  []int64 // unix milliseconds of each slot
	global map[string]ring
	kinds  map[string]ring // server-wide errors per second by kind
	models map[string]*modelRings
	prev   *api.Stats // the previous sample, for the rates
	prevAt time.Time
}

// NewHistory returns a History of span/res points per series. The step must
// leave between 2 and 86,400 points.
func NewHistory(span, res time.Duration) (*History, error) {
	if res <= 0 || span/res < 2 || span/res > 86_400 {
		return nil, fmt.Errorf("%w: span %s, resolution %s", ErrResolution, span, res)
	}
	n := int(span / res)
	h := &History{res: res, n: n, times: make([]int64, n), global: map[string]ring{},
		kinds: map[string]ring{}, models: map[string]*modelRings{}}
	for _, name := range globalSeries {
		h.global[name] = newRing(n)
	}
	return h, nil
}

// Resolution is the time between two points.
func (h *History) Resolution() time.Duration { return h.res }

// Run samples source every resolution until ctx ends.
func (h *History) Run(ctx context.Context, source func() *api.Stats) {
	t := time.NewTicker(h.res)
	defer t.Stop()
	h.Sample(time.Now(), source())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.Sample(now, source())
		}
	}
}

// Sample books st, the server's stats at now, as the newest point of every
// series; rates come from the difference with the previous sample.
func (h *History) Sample(now time.Time, st *api.Stats) {
	if st == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := int(h.seq % uint64(h.n))
	h.seq++
	h.times[slot] = now.UnixMilli()
	dt := math.NaN()
	var prev *api.Stats
	if h.prev != nil {
		if d := now.Sub(h.prevAt).Seconds(); d > 0 {
			dt, prev = d, h.prev
		}
	}
	rate := func(cur, old int64) float32 {
		if prev == nil || cur < old {
			return float32(math.NaN())
		}
		return float32(float64(cur-old) / dt)
	}
	share := func(part, whole int64) float32 {
		if whole <= 0 || part < 0 {
			return float32(math.NaN())
		}
		return float32(float64(part) / float64(whole))
	}

	// Server-wide series.
	var texts, prevTexts int64
	queued := 0
	for _, m := range st.Models {
		texts += m.Texts
	}
	for _, q := range st.Queues {
		queued += q.Queued
	}
	g := h.global
	var old api.Stats
	if prev != nil {
		old = *prev
		for _, m := range prev.Models {
			prevTexts += m.Texts
		}
	}
	g[SeriesRequests][slot] = rate(st.Requests, old.Requests)
	g[SeriesTexts][slot] = rate(texts, prevTexts)
	g[SeriesErrors][slot] = rate(st.Errors, old.Errors)
	g[SeriesErrorRate][slot] = float32(math.NaN())
	if prev != nil && st.Requests >= old.Requests && st.Errors >= old.Errors {
		g[SeriesErrorRate][slot] = share(st.Errors-old.Errors, st.Requests-old.Requests)
	}
	g[SeriesQueueDepth][slot] = float32(queued)
	g[SeriesCacheHitRatio][slot] = float32(math.NaN())
	g[SeriesRedisFallback][slot] = float32(math.NaN())
	if c := st.Cache; c != nil {
		hits, misses := int64(c.Memory.Hits), int64(c.Memory.Misses)
		if prev != nil && old.Cache != nil {
			g[SeriesCacheHitRatio][slot] = share(hits-int64(old.Cache.Memory.Hits),
				hits-int64(old.Cache.Memory.Hits)+misses-int64(old.Cache.Memory.Misses))
		}
		if c.Redis != nil {
			g[SeriesRedisFallback][slot] = 0
			if c.RedisFallback {
				g[SeriesRedisFallback][slot] = 1
			}
		}
	}
	byKind := map[string]int64{}
	prevKind := map[string]int64{}
	for _, m := range st.Models {
		for k, v := range m.ErrorsByKind {
			byKind[k] += v
		}
	}
	for _, m := range old.Models {
		for k, v := range m.ErrorsByKind {
			prevKind[k] += v
		}
	}
	for k := range h.kinds {
		h.kinds[k][slot] = rate(byKind[k], prevKind[k])
	}
	for _, k := range sortedKeys(byKind) {
		if _, ok := h.kinds[k]; !ok && len(h.kinds) < MaxKinds {
			r := newRing(h.n)
			r[slot] = rate(byKind[k], prevKind[k])
			h.kinds[k] = r
		}
	}

	// Per version.
	for _, id := range sortedKeys(st.Models) {
		m := st.Models[id]
		mr := h.models[id]
		if mr == nil {
			if len(h.models) >= MaxModels {
				continue
			}
			mr = &modelRings{series: map[string]ring{}, labels: map[string]ring{}}
			for _, name := range modelSeries {
				mr.series[name] = newRing(h.n)
			}
			h.models[id] = mr
		}
		mr.lastSeen = h.seq
		var pm api.ModelStats
		havePrev := false
		if prev != nil {
			pm, havePrev = prev.Models[id]
		}
		nan := float32(math.NaN())
		s := mr.series
		s[SeriesRequests][slot], s[SeriesTexts][slot], s[SeriesErrors][slot] = nan, nan, nan
		s[SeriesErrorRate][slot], s[SeriesCacheHitRatio][slot] = nan, nan
		if havePrev {
			s[SeriesRequests][slot] = rate(m.Requests, pm.Requests)
			s[SeriesTexts][slot] = rate(m.Texts, pm.Texts)
			s[SeriesErrors][slot] = rate(m.Errors, pm.Errors)
			if m.Requests >= pm.Requests && m.Errors >= pm.Errors {
				s[SeriesErrorRate][slot] = share(m.Errors-pm.Errors, m.Requests-pm.Requests)
			}
			dh, dm := m.CacheHits-pm.CacheHits, m.CacheMisses-pm.CacheMisses
			if dh >= 0 && dm >= 0 {
				s[SeriesCacheHitRatio][slot] = share(dh, dh+dm)
			}
		}
		s[SeriesP50][slot], s[SeriesP90][slot], s[SeriesP99][slot] = nan, nan, nan
		if m.LatencyP50MS > 0 || m.LatencyP99MS > 0 {
			s[SeriesP50][slot] = float32(m.LatencyP50MS)
			s[SeriesP90][slot] = float32(m.LatencyP90MS)
			s[SeriesP99][slot] = float32(m.LatencyP99MS)
		}
		s[SeriesQueueDepth][slot] = float32(st.Queues[id].Queued)
		for l, r := range mr.labels {
			r[slot] = nan
			if havePrev {
				r[slot] = rate(m.Predictions[l], pm.Predictions[l])
			}
		}
		for _, l := range sortedKeys(m.Predictions) {
			if _, ok := mr.labels[l]; ok || len(mr.labels) >= MaxLabels {
				continue
			}
			r := newRing(h.n)
			if havePrev {
				r[slot] = rate(m.Predictions[l], pm.Predictions[l])
			}
			mr.labels[l] = r
		}
	}
	// Versions absent from this sample get a gap; gone for a whole span,
	// they are dropped.
	for id, mr := range h.models {
		if mr.lastSeen == h.seq {
			continue
		}
		if h.seq-mr.lastSeen >= uint64(h.n) {
			delete(h.models, id)
			continue
		}
		for _, r := range mr.series {
			r[slot] = float32(math.NaN())
		}
		for _, r := range mr.labels {
			r[slot] = float32(math.NaN())
		}
	}
	h.prev, h.prevAt = st, now
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Series is one series' points, oldest first, as JSON numbers, null where
// there is no value.
type Series []float32

// MarshalJSON writes the points with null for NaN.
func (s Series) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(s)*6)
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, float64(v), 'g', 6, 32)
	}
	return append(b, ']'), nil
}

// Snapshot is the history as GET /ui/history answers it.
type Snapshot struct {
	// ResolutionS is the time between two points, in seconds.
	ResolutionS float64 `json:"resolution_s"`
	// Times are the points' sample times in unix milliseconds, oldest first.
	Times []int64 `json:"times"`
	// Series are the server-wide series by name.
	Series map[string]Series `json:"series"`
	// ErrorsByKind are the server-wide errors per second by kind.
	ErrorsByKind map[string]Series `json:"errors_by_kind"`
	// Models are each version's series, by model id.
	Models map[string]ModelSnapshot `json:"models"`
}

// ModelSnapshot is one version's series.
type ModelSnapshot struct {
	// Series are its series by name.
	Series map[string]Series `json:"series"`
	// Predictions are its predictions per second by label.
	Predictions map[string]Series `json:"predictions"`
}

// Snapshot returns the points taken so far, at most the last span's, of
// the server-wide series and of every version.
func (h *History) Snapshot() Snapshot { return h.SnapshotOf(nil) }

// SnapshotOf is Snapshot with only the versions keep accepts (nil: all).
func (h *History) SnapshotOf(keep func(id string) bool) Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	count := int(min(h.seq, uint64(h.n)))
	start := int((h.seq - uint64(count)) % uint64(h.n))
	order := func(r ring) Series {
		out := make(Series, count)
		for i := range out {
			out[i] = r[(start+i)%h.n]
		}
		return out
	}
	snap := Snapshot{ResolutionS: h.res.Seconds(), Times: make([]int64, count), Series: map[string]Series{},
		ErrorsByKind: map[string]Series{}, Models: map[string]ModelSnapshot{}}
	for i := range snap.Times {
		snap.Times[i] = h.times[(start+i)%h.n]
	}
	for k, r := range h.global {
		snap.Series[k] = order(r)
	}
	for k, r := range h.kinds {
		snap.ErrorsByKind[k] = order(r)
	}
	for id, mr := range h.models {
		if keep != nil && !keep(id) {
			continue
		}
		ms := ModelSnapshot{Series: map[string]Series{}, Predictions: map[string]Series{}}
		for k, r := range mr.series {
			ms.Series[k] = order(r)
		}
		for k, r := range mr.labels {
			ms.Predictions[k] = order(r)
		}
		snap.Models[id] = ms
	}
	return snap
}
