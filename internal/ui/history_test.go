package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func nan(v float32) bool { return math.IsNaN(float64(v)) }

func TestNewHistoryRefusesBadSteps(t *testing.T) {
	for _, c := range []struct{ span, res time.Duration }{
		{time.Hour, 0}, {time.Hour, -time.Second}, {time.Hour, time.Hour}, {time.Hour, time.Millisecond},
	} {
		if _, err := NewHistory(c.span, c.res); !errors.Is(err, ErrResolution) {
			t.Errorf("span %s res %s: %v", c.span, c.res, err)
		}
	}
	if _, err := New(Options{Resolution: time.Hour}); !errors.Is(err, ErrResolution) {
		t.Errorf("New with a one-hour step: %v", err)
	}
}

// TestHistoryRates: the second sample's rates are the counters'
// differences over the time between the samples.
func TestHistoryRates(t *testing.T) {
	h, err := NewHistory(time.Minute, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a := &api.Stats{Requests: 10, Errors: 1, Models: map[string]api.ModelStats{
		"m-v1": {Requests: 10, Texts: 12, Errors: 1, CacheHits: 2, CacheMisses: 10, Predictions: map[string]int64{"pos": 7, "neg": 4},
			ErrorsByKind: map[string]int64{"timeout": 1}, LatencyP50MS: 1, LatencyP90MS: 2, LatencyP99MS: 3}},
		Cache:  &api.CacheStats{Memory: api.CacheTierStats{Hits: 2, Misses: 10}, Redis: &api.CacheTierStats{}},
		Queues: map[string]api.QueueStats{"m-v1": {Queued: 4}}}
	b := &api.Stats{Requests: 30, Errors: 3, Models: map[string]api.ModelStats{
		"m-v1": {Requests: 30, Texts: 52, Errors: 3, CacheHits: 12, CacheMisses: 20, Predictions: map[string]int64{"pos": 27, "neg": 14, "neu": 10},
			ErrorsByKind: map[string]int64{"timeout": 2, "model": 1}, LatencyP50MS: 4, LatencyP90MS: 5, LatencyP99MS: 6}},
		Cache:  &api.CacheStats{Memory: api.CacheTierStats{Hits: 12, Misses: 20}, Redis: &api.CacheTierStats{}, RedisFallback: true},
		Queues: map[string]api.QueueStats{"m-v1": {Queued: 1}}}
	h.Sample(t0, a)
	h.Sample(t0.Add(10*time.Second), b)
	s := h.Snapshot()
	if len(s.Times) != 2 || s.Times[0] != t0.UnixMilli() || s.Times[1] != t0.Add(10*time.Second).UnixMilli() {
		t.Fatalf("times %v", s.Times)
	}
	m := s.Models["m-v1"]
	cases := []struct {
		name  string
		got   Series
		first float32 // NaN: null
		want  float32
	}{
		{"requests/s", s.Series[SeriesRequests], float32(math.NaN()), 2},
		{"texts/s", s.Series[SeriesTexts], float32(math.NaN()), 4},
		{"errors/s", s.Series[SeriesErrors], float32(math.NaN()), 0.2},
		{"error rate", s.Series[SeriesErrorRate], float32(math.NaN()), 0.1},
		{"cache hit ratio", s.Series[SeriesCacheHitRatio], float32(math.NaN()), 0.5},
		{"redis fallback", s.Series[SeriesRedisFallback], 0, 1},
		{"queue depth", s.Series[SeriesQueueDepth], 4, 1},
		{"timeout/s", s.ErrorsByKind["timeout"], float32(math.NaN()), 0.1},
		{"model errors/s", s.ErrorsByKind["model"], float32(math.NaN()), 0.1},
		{"m requests/s", m.Series[SeriesRequests], float32(math.NaN()), 2},
		{"m cache hit ratio", m.Series[SeriesCacheHitRatio], float32(math.NaN()), 10.0 / 20},
		{"m p50", m.Series[SeriesP50], 1, 4},
		{"m p99", m.Series[SeriesP99], 3, 6},
		{"m queue", m.Series[SeriesQueueDepth], 4, 1},
		{"m pos/s", m.Predictions["pos"], float32(math.NaN()), 2},
		{"m neu/s", m.Predictions["neu"], float32(math.NaN()), 1},
	}
	for _, c := range cases {
		if len(c.got) != 2 {
			t.Errorf("%s: %d points", c.name, len(c.got))
			continue
		}
		if (nan(c.first) != nan(c.got[0])) || (!nan(c.first) && c.got[0] != c.first) {
			t.Errorf("%s: first point %v, want %v", c.name, c.got[0], c.first)
		}
		if math.Abs(float64(c.got[1]-c.want)) > 1e-6 {
			t.Errorf("%s: %v, want %v", c.name, c.got[1], c.want)
		}
	}
	js, err := json.Marshal(s.Series[SeriesRequests])
	if err != nil || string(js) != "[null,2]" {
		t.Errorf("JSON of a series: %s %v", js, err)
	}
}

// TestHistoryWrapsAndForgets: the rings keep the last span in order, a
// counter that went back (a version loaded again) is a gap, and a version
// gone for a whole span is dropped.
func TestHistoryWrapsAndForgets(t *testing.T) {
	h, err := NewHistory(50*time.Second, 10*time.Second) // 5 points
	if err != nil {
		t.Fatal(err)
	}
	st := func(i int, ids ...string) *api.Stats {
		s := &api.Stats{Requests: int64(10 * i), Models: map[string]api.ModelStats{}}
		for _, id := range ids {
			s.Models[id] = api.ModelStats{Requests: int64(10 * i)}
		}
		return s
	}
	for i := range 8 {
		h.Sample(t0.Add(time.Duration(i)*10*time.Second), st(i, "a-v1", "b-v1"))
	}
	s := h.Snapshot()
	if len(s.Times) != 5 || s.Times[0] != t0.Add(30*time.Second).UnixMilli() || s.Times[4] != t0.Add(70*time.Second).UnixMilli() {
		t.Fatalf("after wrapping: times %v", s.Times)
	}
	for i, v := range s.Series[SeriesRequests] {
		if v != 1 {
			t.Errorf("point %d: %v requests/s, want 1", i, v)
		}
	}
	// b-v1 restarts its counters; a-v1 stops appearing.
	h.Sample(t0.Add(80*time.Second), &api.Stats{Requests: 80, Models: map[string]api.ModelStats{"b-v1": {Requests: 1}}})
	s = h.Snapshot()
	if v := s.Models["b-v1"].Series[SeriesRequests][4]; !nan(v) {
		t.Errorf("a counter that went back gave %v, want a gap", v)
	}
	if v := s.Models["a-v1"].Series[SeriesRequests][4]; !nan(v) {
		t.Errorf("an absent version gave %v, want a gap", v)
	}
	for i := range 5 {
		h.Sample(t0.Add(time.Duration(90+10*i)*time.Second), &api.Stats{Requests: 80, Models: map[string]api.ModelStats{"b-v1": {Requests: 1}}})
	}
	if _, ok := h.Snapshot().Models["a-v1"]; ok {
		t.Error("a version gone for a whole span is still kept")
	}
}

// TestHistoryBounds: versions, labels and error kinds beyond the caps are
// left out, so no traffic can grow the history past them.
func TestHistoryBounds(t *testing.T) {
	h, err := NewHistory(time.Minute, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st := busyStats(MaxModels+10, MaxLabels+10, MaxKinds+10, 1)
	h.Sample(t0, st)
	s := h.Snapshot()
	if len(s.Models) != MaxModels {
		t.Errorf("%d versions kept, cap %d", len(s.Models), MaxModels)
	}
	for id, m := range s.Models {
		if len(m.Predictions) != MaxLabels {
			t.Fatalf("%s: %d labels kept, cap %d", id, len(m.Predictions), MaxLabels)
		}
	}
	if len(s.ErrorsByKind) != MaxKinds {
		t.Errorf("%d error kinds kept, cap %d", len(s.ErrorsByKind), MaxKinds)
	}
}

// busyStats are the stats of a server with the given numbers of versions,
// labels per version and error kinds, every counter at n.
func busyStats(models, labels, kinds int, n int64) *api.Stats {
	st := &api.Stats{Requests: n, Errors: n, Models: map[string]api.ModelStats{}, Queues: map[string]api.QueueStats{},
		Cache: &api.CacheStats{Memory: api.CacheTierStats{Hits: uint64(n), Misses: uint64(n)}, Redis: &api.CacheTierStats{}}}
	for i := range models {
		id := fmt.Sprintf("model%02d-v%d", i/2, 1+i%2)
		m := api.ModelStats{Requests: n, Texts: 2 * n, Errors: n, CacheHits: n, CacheMisses: n,
			LatencyP50MS: 1, LatencyP90MS: 2, LatencyP99MS: 3,
			Predictions: map[string]int64{}, ErrorsByKind: map[string]int64{}}
		for l := range labels {
			m.Predictions[fmt.Sprintf("label-%02d", l)] = n
		}
		for k := range kinds {
			m.ErrorsByKind[fmt.Sprintf("kind-%02d", k)] = n
		}
		st.Models[id] = m
		st.Queues[id] = api.QueueStats{Queued: 1}
	}
	return st
}

// TestHistoryMemory measures what the dashboard's history holds with 20
// model versions (10 labels each, 5 error kinds) after more than a full
// hour of samples at the default 10 s step: the heap it keeps alive must
// stay under 10 MB.
func TestHistoryMemory(t *testing.T) {
	const limit = 10 << 20
	// The inputs exist before the measure starts: two servers' stats,
	// alternated (the rings' size does not depend on the values).
	inputs := []*api.Stats{busyStats(20, 10, 5, 1), busyStats(20, 10, 5, 2)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rssBefore := residentBytes(t)
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := d.History()
	n := int(time.Hour / h.Resolution())
	for i := range n + n/2 {
		h.Sample(t0.Add(time.Duration(i)*h.Resolution()), inputs[i%2])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(d)
	s := h.Snapshot()
	if len(s.Models) != 20 || len(s.Times) != n {
		t.Fatalf("history holds %d versions and %d points, want 20 and %d", len(s.Models), len(s.Times), n)
	}
	rss := residentBytes(t) - rssBefore
	t.Logf("history with 20 versions, %d points per series: %d bytes of heap held (%.2f MB), resident set grew %.2f MB",
		n, held, float64(held)/(1<<20), float64(rss)/(1<<20))
	if held >= limit {
		t.Errorf("history holds %d bytes with 20 versions, limit %d", held, limit)
	}
	// The resident set also counts what the runtime has not returned of
	// the samples' garbage; it must stay under the limit too (the race
	// detector's shadow memory would multiply it: checked without).
	if !raceEnabled && rss >= limit {
		t.Errorf("resident set grew %d bytes with 20 versions, limit %d", rss, limit)
	}
}

// residentBytes is the process's resident set (VmRSS of /proc/self/status).
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkHistorySample is one sample of a server with 20 versions.
func BenchmarkHistorySample(b *testing.B) {
	h, err := NewHistory(time.Hour, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	sts := []*api.Stats{busyStats(20, 10, 5, 1), busyStats(20, 10, 5, 2)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Sample(t0.Add(time.Duration(i)*10*time.Second), sts[i%2])
		i++
	}
}

// BenchmarkHistorySnapshot is GET /ui/history's work with 20 versions.
func BenchmarkHistorySnapshot(b *testing.B) {
	h, err := NewHistory(time.Hour, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 360 {
		h.Sample(t0.Add(time.Duration(i)*10*time.Second), busyStats(20, 10, 5, int64(i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(h.Snapshot()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistorySnapshotOne is what the page asks for: the server-wide
// series and one version's, of 20.
func BenchmarkHistorySnapshotOne(b *testing.B) {
	h, err := NewHistory(time.Hour, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 360 {
		h.Sample(t0.Add(time.Duration(i)*10*time.Second), busyStats(20, 10, 5, int64(i)))
	}
	keep := func(id string) bool { return id == "model00-v1" }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(h.SnapshotOf(keep)); err != nil {
			b.Fatal(err)
		}
	}
}
