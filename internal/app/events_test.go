package app

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newMonitor is monitoring as the serve command builds it: mlserve's
// metrics and the Go and process collectors on one registry.
func newMonitor(t *testing.T) (*prometheus.Registry, *monitoring.Monitor) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitoring.New(config.Monitoring{}, met, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return reg, mon
}

// labelLoader loads a version whose artifact reads "label=<l>": a model that
// gives every text that label. "fail" fails the load.
type labelLoader struct{}

func (labelLoader) Load(_ context.Context, dir string, m *model.Manifest) (model.Model, error) {
	b, err := os.ReadFile(filepath.Join(dir, m.Artifact))
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if s == "fail" {
		return nil, model.ErrInvalid
	}
	return labelModel(strings.TrimPrefix(s, "label=")), nil
}

type labelModel string

func (l labelModel) Predict(_ context.Context, texts []string) ([]model.Prediction, error) {
	out := make([]model.Prediction, len(texts))
	for i := range texts {
		out[i] = model.Prediction{Label: string(l), Confidence: 1, Probabilities: []float64{1}}
	}
	return out, nil
}
func (l labelModel) Labels() []string { return []string{string(l)} }
func (labelModel) Info() model.Info   { return model.Info{Framework: "sklearn", Probabilistic: true} }
func (labelModel) Close() error       { return nil }

func putVersion(t *testing.T, root, name, version, artifact string) {
	t.Helper()
	dir := filepath.Join(root, name, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.joblib"), []byte(artifact), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stack is the serving parts wired as Run wires them, over a real registry.
type stack struct {
	reg   *model.Registry
	eng   *inference.Engine
	cache *cache.Cache
	mon   *monitoring.Monitor
	prom  *prometheus.Registry
	srv   *server.Server
}

func newStack(t *testing.T, root string, opts model.Options) *stack {
	t.Helper()
	st := &stack{}
	st.prom, st.mon = newMonitor(t)
	var err error
	if st.eng, err = inference.New(inference.Config{Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.eng.Close(context.Background()) })
	if st.cache, err = cache.New(cache.Config{MaxSize: 100}); err != nil {
		t.Fatal(err)
	}
	repo, err := model.OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	opts.Subscribers = Subscribers(st.eng, st.cache, st.mon, quiet())
	st.reg = model.NewRegistry(repo, map[string]model.Loader{"sklearn": labelLoader{}}, opts, quiet())
	if err := st.reg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.reg.Close(context.Background()) })
	if st.srv, err = server.New(st.reg, server.Options{Logger: quiet(), Engine: st.eng, Cache: st.cache, Monitor: st.mon}); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *stack) do(t *testing.T, method, path, body string) int {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "127.0.0.1:1234"
	w := httptest.NewRecorder()
	st.srv.ServeHTTP(w, r)
	return w.Code
}

// held reports what the serving parts still hold for id: its engine queue,
// its cache entries, its monitoring and its metric series.
func (st *stack) held(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	if slices.Contains(st.eng.QueueIDs(), id) {
		out = append(out, "engine queue")
	}
	if _, ok := st.cache.Get(context.Background(), cache.NewKey(id, strings.SplitN(id, "-", 2)[1], "hello")); ok {
		out = append(out, "cache entry")
	}
	if _, err := st.mon.Drift(id); err == nil {
		out = append(out, "drift tracking")
	}
	name, version, _ := model.SplitID(id)
	mfs, err := st.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var n, v string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "model":
					n = lp.GetValue()
				case "version":
					v = lp.GetValue()
				}
			}
			if n == name && v == version {
				out = append(out, "series "+mf.GetName())
			}
		}
	}
	return out
}

// TestRetiredReleasedAtOnce: an unload or a hot swap that retires a
// version releases its engine queue, cache entries, monitoring and metric
// series within 100 ms (there is no reconcile timer any more), and the
// versions that stay keep theirs.
func TestRetiredReleasedAtOnce(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "m", "v1", "label=one")
	putVersion(t, root, "m", "v2", "label=two")
	st := newStack(t, root, model.Options{DefaultModel: "m", KeepLoaded: 2})
	warm := func(id string) {
		t.Helper()
		for range 2 { // the second answer comes from the cache
			if code := st.do(t, "POST", "/predict", `{"text":"hello","model_version":"`+id+`"}`); code != 200 {
				t.Fatalf("predict %s: %d", id, code)
			}
		}
		if got := st.held(t, id); len(got) < 4 {
			t.Fatalf("%s after predictions holds only %q", id, got)
		}
	}
	gone := func(id, after string) {
		t.Helper()
		deadline := time.Now().Add(100 * time.Millisecond)
		for {
			got := st.held(t, id)
			if len(got) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still holds %q 100 ms after %s", id, got, after)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	warm("m-v1")
	warm("m-v2")
	if code := st.do(t, "DELETE", "/models/m-v1", ""); code != 204 {
		t.Fatalf("unload: %d", code)
	}
	gone("m-v1", "its unload")
	if got := st.held(t, "m-v2"); len(got) < 4 {
		t.Fatalf("unloading m-v1 released m-v2's parts too: %q left", got)
	}
	loaded := func() float64 {
		t.Helper()
		mfs, _ := st.prom.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "mlserve_models_loaded" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no mlserve_models_loaded")
		return 0
	}
	if n := loaded(); n != 1 {
		t.Errorf("models_loaded %v after the unload, want 1", n)
	}

	// Hot swap: v3 becomes the default, v4 is installed next to it, and
	// the keep-2 policy retires v2.
	putVersion(t, root, "m", "v3", "label=three")
	if err := st.reg.SetDefault(context.Background(), "m", "v3"); err != nil {
		t.Fatal(err)
	}
	warm("m-v3")
	putVersion(t, root, "m", "v4", "label=four")
	if err := st.reg.SetDefault(context.Background(), "m", "v4"); err != nil {
		t.Fatal(err)
	}
	gone("m-v2", "the swap that retired it")
	if got := st.held(t, "m-v3"); len(got) < 4 {
		t.Fatalf("the swap released m-v3 (kept): %q left", got)
	}
	if n := loaded(); n != 2 {
		t.Errorf("models_loaded %v after the swap, want 2", n)
	}
}

// TestLoadMetrics: loads and failures are booked once each, as the
// registry reports them.
func TestLoadMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	sub := loadMetrics(met)
	sub(model.Event{Kind: model.Loaded, ID: "a-v1", LoadDuration: 300 * time.Millisecond})
	sub(model.Event{Kind: model.LoadFailed, ID: "b-v1", Err: model.ErrInvalid})
	sub(model.Event{Kind: model.DefaultChanged, ID: "a-v1"})
	sub(model.Event{Kind: model.Retiring, ID: "a-v1"})
	sub(model.Event{Kind: model.Retired, ID: "a-v1"})
	sub(model.Event{Kind: model.Loaded, ID: "a-v1", LoadDuration: 300 * time.Millisecond})
	sub(model.Event{Kind: model.Loaded, ID: "c-v1", LoadDuration: 0})
	mfs, _ := reg.Gather()
	seen := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "mlserve_model_load_duration_seconds":
			seen++
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 3 || h.GetSampleSum() < 0.599 || h.GetSampleSum() > 0.601 {
				t.Errorf("load durations: %d, sum %v; want 3 loads, 0.6 s in all", h.GetSampleCount(), h.GetSampleSum())
			}
		case "mlserve_model_load_failures_total":
			seen++
			if n := mf.GetMetric()[0].GetCounter().GetValue(); n != 1 {
				t.Errorf("load failures %v, want 1", n)
			}
		case "mlserve_models_loaded":
			seen++
			if n := mf.GetMetric()[0].GetGauge().GetValue(); n != 2 {
				t.Errorf("models loaded %v, want 2", n)
			}
		}
	}
	if seen != 3 {
		t.Errorf("%d of the 3 load metrics gathered", seen)
	}
}

// memTier is a second cache tier in memory, for fallbackTier.
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

func TestFallbackTier(t *testing.T) {
	reg := prometheus.NewRegistry()
	met, _ := monitoring.NewMetrics(reg)
	inner := &memTier{m: map[cache.Key]model.Prediction{}, down: true}
	ft := fallbackTier{Tier: inner, met: met}
	k := cache.NewKey("m-v1", "v1", "x")
	if err := ft.SetMany(context.Background(), []cache.Key{k}, []model.Prediction{{Label: "a"}}, 0); err != nil {
		t.Fatal(err)
	}
	_, found, _ := ft.GetMany(context.Background(), []cache.Key{k, cache.NewKey("m-v1", "v1", "y")})
	if !found[0] || found[1] {
		t.Errorf("found %v", found)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "mlserve_cache_redis_fallback" {
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	if !ft.InFallback() || testutil.ToFloat64(g) != 1 {
		t.Error("fallback not reported")
	}
}
