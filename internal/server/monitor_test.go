package server_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

// newMonitored returns a server with monitoring on, and the registry its
// metrics are on.
func newMonitored(t *testing.T, opts server.Options) (*server.Server, *prometheus.Registry, *monitoring.Monitor) {
	t.Helper()
	reg := prometheus.NewRegistry()
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitoring.New(config.Monitoring{Drift: config.Drift{Window: 20, Bootstrap: 10, FeedbackWindow: 10, MinFeedback: 4}}, met, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Monitor = mon
	return newServer(t, newFakeRegistry(), opts), reg, mon
}

func metricsText(t *testing.T, reg prometheus.Gatherer) string {
	t.Helper()
	w := httptest.NewRecorder()
	server.MetricsHandler(reg).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

// TestMonitoringMetrics sends known traffic through the real server and
// checks the request histogram's counts per label set, the prediction
// distribution, the error kinds and the cache lookups by tier.
func TestMonitoringMetrics(t *testing.T) {
	c, err := cache.New(cache.Config{MaxSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	s, reg, _ := newMonitored(t, server.Options{Cache: c})
	for _, text := range []string{"good one", "good two", "good one", "bad", "worse"} {
		if w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"` + text + `"}`}); w.Code != 200 {
			t.Fatalf("predict %q: %d %s", text, w.Code, w.Body)
		}
	}
	if w := do(t, s, call{method: "POST", path: "/batch-predict", body: `{"texts":["good three","bad"],"model_version":"spam-v1"}`}); w.Code != 200 {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	do(t, s, call{method: "POST", path: "/predict", body: `{"text":"x","model_version":"nope"}`})
	do(t, s, call{method: "POST", path: "/predict", body: `{"text":""}`})
	do(t, s, call{method: "GET", path: "/health/live"})

	if n := testutil.CollectAndCount(reg, "mlserve_http_request_duration_seconds"); n != 5 {
		t.Errorf("%d request series, want 5 (predict 200, batch 200, predict 404, predict 422, health 200)", n)
	}
	text := metricsText(t, reg)
	for _, want := range []string{
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/predict",model="sentiment",version="v2"} 5`,
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/batch-predict",model="spam",version="v1"} 1`,
		`mlserve_http_request_duration_seconds_count{code="404",endpoint="/predict",model="",version=""} 1`,
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/health/live",model="",version=""} 1`,
		`mlserve_errors_total{kind="not_found",model="",version=""} 1`,
		`mlserve_prediction_confidence_count{model="sentiment",version="v2"} 5`,
		`mlserve_cache_lookups_total{result="hit",tier="memory"} 1`,
		`mlserve_cache_lookups_total{result="miss",tier="memory"} 6`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, tc := range []struct {
		model, version, label string
		want                  float64
	}{
		{"sentiment", "v2", "positive", 3},
		{"sentiment", "v2", "negative", 2},
		{"spam", "v1", "positive", 1},
		{"spam", "v1", "negative", 1},
	} {
		t.Run(tc.model+"/"+tc.label, func(t *testing.T) {
			if got := testutil.ToFloat64(counter(t, reg, "mlserve_predictions_total", map[string]string{
				"model": tc.model, "version": tc.version, "label": tc.label})); got != tc.want {
				t.Errorf("predictions_total = %v, want %v", got, tc.want)
			}
		})
	}
	// 422 for the empty text: huma validates before the model is resolved.
	if !strings.Contains(text, `mlserve_errors_total{kind="validation",model="",version=""} 1`) {
		t.Errorf("no validation error counted:\n%s", grep(text, "errors_total"))
	}
}

// counter finds one counter series by its labels.
func counter(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
			c.Add(m.GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFeedbackAndDrift covers POST /feedback and GET /models/{id}/drift,
// their errors, and the monitoring figures in /stats.
func TestFeedbackAndDrift(t *testing.T) {
	s, _, _ := newMonitored(t, server.Options{})
	for i := range 6 {
		id := "req-" + string(rune('a'+i))
		w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"X-Request-ID": id}})
		var r api.PredictResponse
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || w.Code != 200 {
			t.Fatalf("predict: %d %s", w.Code, w.Body)
		}
		if r.RequestID != id {
			t.Fatalf("predict: request_id %q, want the X-Request-ID %q", r.RequestID, id)
		}
	}
	w := do(t, s, call{method: "POST", path: "/batch-predict", body: `{"texts":["bad","good"]}`, header: map[string]string{"X-Request-ID": "batch"}})
	if w.Code != 200 {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	tests := []struct {
		name, body string
		code       int
		correct    bool
	}{
		{"right", `{"request_id":"req-a","label":"positive"}`, 200, true},
		{"again", `{"request_id":"req-a","label":"positive"}`, 404, false},
		{"unknown id", `{"request_id":"nope","label":"positive"}`, 404, false},
		{"unknown label", `{"request_id":"req-b","label":"spam"}`, 422, false},
		{"wrong", `{"request_id":"req-b","label":"negative"}`, 200, false},
		{"batch index", `{"request_id":"batch/0","label":"negative"}`, 200, true},
		{"batch index out of range", `{"request_id":"batch/2","label":"negative"}`, 404, false},
		{"no label", `{"request_id":"req-c"}`, 422, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, call{method: "POST", path: "/feedback", body: tt.body})
			if w.Code != tt.code {
				t.Fatalf("%s: %d %s", tt.body, w.Code, w.Body)
			}
			if tt.code != 200 {
				var p api.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != tt.code {
					t.Errorf("problem %s", w.Body)
				}
				return
			}
			var r api.FeedbackResponse
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || r.Correct != tt.correct || r.ModelVersion != "sentiment-v2" {
				t.Errorf("feedback answer %s", w.Body)
			}
		})
	}

	w = do(t, s, call{method: "GET", path: "/models/sentiment-v2/drift", remote: "192.0.2.1:1234"})
	if w.Code != 200 {
		t.Fatalf("drift (non-loopback client: public like /stats): %d %s", w.Code, w.Body)
	}
	var d api.DriftStatus
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("drift body %s: %v", w.Body, err)
	}
	if d.Model != "sentiment" || d.Version != "v2" || d.Reference != "collecting" || d.Collected != 8 || d.Bootstrap != 10 ||
		d.Accuracy.Feedback != 3 || d.Accuracy.Live == nil || *d.Accuracy.Live < 0.66 || *d.Accuracy.Live > 0.67 {
		t.Errorf("drift %+v", d)
	}
	if w := do(t, s, call{method: "GET", path: "/models/nope-v1/drift"}); w.Code != 404 {
		t.Errorf("nope-v1: %d %s", w.Code, w.Body)
	}
	// spam-v1 is loaded but never served: tracked since its Loaded event,
	// with nothing collected.
	if w := do(t, s, call{method: "GET", path: "/models/spam-v1/drift"}); w.Code != 200 || !strings.Contains(w.Body.String(), `"samples":0`) || !strings.Contains(w.Body.String(), `"reference":"collecting"`) {
		t.Errorf("spam-v1 (never served): %d %s", w.Code, w.Body)
	}

	var st api.Stats
	w = do(t, s, call{method: "GET", path: "/stats"})
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	m := st.Models["sentiment-v2"]
	if m.Requests != 7 || m.Texts != 8 || m.Predictions["positive"] != 7 || m.Predictions["negative"] != 1 ||
		m.Drift != "ok" || m.LiveAccuracy == nil || m.ThroughputRPS <= 0 {
		t.Errorf("stats %+v", m)
	}
	if !(0 < m.LatencyP50MS && m.LatencyP50MS <= m.LatencyP90MS && m.LatencyP90MS <= m.LatencyP99MS) {
		t.Errorf("percentiles out of order: p50 %v p90 %v p99 %v", m.LatencyP50MS, m.LatencyP90MS, m.LatencyP99MS)
	}
}

// TestMonitoringOff: without a monitor the endpoints answer 404 and
// predictions work as before.
func TestMonitoringOff(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"X-Request-ID": "r1"}})
	if w.Code != 200 {
		t.Fatalf("predict: %d", w.Code)
	}
	for _, c := range []call{
		{method: "POST", path: "/feedback", body: `{"request_id":"r1","label":"positive"}`},
		{method: "GET", path: "/models/sentiment-v2/drift"},
	} {
		if w := do(t, s, c); w.Code != 404 {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
}

// TestUnloadUntracks: a version that leaves the registry leaves monitoring
// (no drift figures, no /stats entry).
func TestUnloadUntracks(t *testing.T) {
	reg := newFakeRegistry()
	pr := prometheus.NewRegistry()
	met, _ := monitoring.NewMetrics(pr)
	mon, _ := monitoring.New(config.Monitoring{}, met, nil)
	s := newServer(t, reg, server.Options{Monitor: mon})
	do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good","model_version":"sentiment-v1"}`})
	if _, err := mon.Drift("sentiment-v1"); err != nil {
		t.Fatalf("not tracked after a predict: %v", err)
	}
	if got := testutil.ToFloat64(gauge(t, pr, "mlserve_models_loaded")); got != 3 {
		t.Errorf("models_loaded = %v, want 3", got)
	}
	if w := do(t, s, call{method: "DELETE", path: "/models/sentiment-v1"}); w.Code != 204 {
		t.Fatalf("unload: %d %s", w.Code, w.Body)
	}
	if _, err := mon.Drift("sentiment-v1"); err == nil {
		t.Error("still tracked after unload")
	}
	if got := testutil.ToFloat64(gauge(t, pr, "mlserve_models_loaded")); got != 2 {
		t.Errorf("models_loaded = %v, want 2", got)
	}
}

func gauge(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			c := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
			c.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return c
		}
	}
	t.Fatalf("no %s", name)
	return nil
}
