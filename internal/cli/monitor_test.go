package cli

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

func TestNewMonitoringOff(t *testing.T) {
	c := config.Default().Monitoring
	c.Enabled = false
	reg, mon, err := newMonitoring(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if reg != nil || mon != nil || err != nil {
		t.Errorf("monitoring off: %v %v %v, want nils", reg, mon, err)
	}
	if observeBatches(nil) != nil {
		t.Error("off: the engine still gets a batch hook")
	}
}

func TestLoadWatcher(t *testing.T) {
	reg := prometheus.NewRegistry()
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	w := &loadWatcher{met: met}
	at := time.Unix(100, 0)
	ready := model.Status{ID: "a-v1", State: model.StateReady, LoadedAt: at, LoadDuration: 300 * time.Millisecond}
	failed := model.Status{ID: "b-v1", State: model.StateFailed, Error: "bad pickle"}
	loading := model.Status{ID: "c-v1", State: model.StateLoading}
	w.tick([]model.Status{ready, failed, loading})
	w.tick([]model.Status{ready, failed, loading}) // nothing new
	reloaded := ready
	reloaded.LoadedAt = at.Add(time.Minute)
	w.tick([]model.Status{reloaded, failed})
	if n := testutil.ToFloat64(testutilCounter(t, reg, "mlserve_model_load_failures_total")); n != 1 {
		t.Errorf("load failures %v, want 1", n)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "mlserve_model_load_duration_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.599 || h.GetSampleSum() > 0.601 {
				t.Errorf("load durations: %d, sum %v; want 2 loads of 0.3 s", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}
}

// memTier is a second cache tier in memory, for countedTier.
type memTier struct {
	m    map[cache.Key]model.Prediction
	down bool
}

func (t *memTier) GetMany(_ context.Context, keys []cache.Key) ([]model.Prediction, []bool, error) {
	p, f := make([]model.Prediction, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		p[i], f[i] = t.m[k]
	}
	return p, f, nil
}
func (t *memTier) SetMany(_ context.Context, keys []cache.Key, preds []model.Prediction, _ time.Duration) error {
	for i, k := range keys {
		t.m[k] = preds[i]
	}
	return nil
}
func (t *memTier) FlushModel(context.Context, string) error { return nil }
func (t *memTier) InFallback() bool                         { return t.down }

func TestCountedTier(t *testing.T) {
	reg := prometheus.NewRegistry()
	met, _ := monitoring.NewMetrics(reg)
	inner := &memTier{m: map[cache.Key]model.Prediction{}, down: true}
	ct := countedTier{Tier: inner, met: met}
	k := cache.NewKey("m-v1", "v1", "x")
	if err := ct.SetMany(context.Background(), []cache.Key{k}, []model.Prediction{{Label: "a"}}, 0); err != nil {
		t.Fatal(err)
	}
	_, found, _ := ct.GetMany(context.Background(), []cache.Key{k, cache.NewKey("m-v1", "v1", "y")})
	if !found[0] || found[1] {
		t.Errorf("found %v", found)
	}
	if !ct.InFallback() || testutil.ToFloat64(testutilGauge(t, reg, "mlserve_cache_redis_fallback")) != 1 {
		t.Error("fallback not reported")
	}
}

func TestRenderStats(t *testing.T) {
	acc := 0.9
	st := &api.Stats{UptimeSeconds: 3725, Models: map[string]api.ModelStats{
		"spam-v1": {Requests: 1200, Texts: 1500, Errors: 12, LatencyP50MS: 1.2, LatencyP90MS: 3.4, LatencyP99MS: 9.9,
			ThroughputRPS: 20, ErrorsByKind: map[string]int64{"validation": 10, "timeout": 2}, ErrorRate: 0.01,
			CacheHits: 300, CacheMisses: 1200, CacheHitRatio: 0.2, Predictions: map[string]int64{"spam": 400, "ham": 1100},
			Drift: "warn", LiveAccuracy: &acc},
		"sentiment-v2": {Requests: 3, Texts: 3, Errors: 1, LatencyP50MS: 2, LatencyP99MS: 2},
	}, Cache: &api.CacheStats{Memory: api.CacheTierStats{Hits: 300, Misses: 1200, Entries: 900}}}
	out := renderStats(st, statsWidth)
	for _, want := range []string{"spam-v1", "drift warn", "live accuracy 90.0%", "sentiment-v2", "p90 3.4",
		"cache: memory 300 hits, 1200 misses, 900 entries", "ham", "spam"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lack %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "sentiment-v2") > strings.Index(out, "spam-v1") {
		t.Errorf("models not sorted by id:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > statsWidth {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	// Without monitoring the error rate still shows, from the error count:
	// sentiment-v2's 1 of 3, drawn in its own block.
	if i, j := strings.Index(out, "sentiment-v2"), strings.Index(out, "spam-v1"); !strings.Contains(out[i:j], "errors 33.3%") {
		t.Errorf("plain error rate is not 1/3:\n%s", out[i:j])
	}
}

func testutilCounter(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func testutilGauge(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			c := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
			c.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return c
		}
	}
	t.Fatalf("no %s", name)
	return nil
}
