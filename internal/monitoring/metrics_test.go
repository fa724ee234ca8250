package monitoring

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mlserve/mlserve/internal/config"
)

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// histogram returns the one histogram series of name with the given labels.
func histogram(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return m.GetHistogram()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func TestMetricsAfterKnownTraffic(t *testing.T) {
	m, reg := newTestMetrics(t)
	mon, err := New(config.Monitoring{}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Track("spam-v1", []string{"ham", "spam"}, nil); err != nil {
		t.Fatal(err)
	}
	// 3 good /predict calls at 2 ms, one 404, one 503; a batch of 4.
	for range 3 {
		mon.Request("/predict", "spam-v1", 200, 1, 2*time.Millisecond, "")
	}
	mon.Request("/predict", "spam-v9", 404, 1, 50*time.Microsecond, KindNotFound)
	mon.Request("/predict", "spam-v1", 503, 1, 300*time.Microsecond, KindQueueFull)
	mon.Request("/batch-predict", "spam-v1", 0, 4, 20*time.Second, "")
	for _, p := range []struct {
		label string
		conf  float64
	}{{"ham", .99}, {"ham", .95}, {"spam", .55}, {"ham", .05}} {
		mon.Record("spam-v1", "", Observation{Label: p.label, Confidence: p.conf, TextLength: 10})
	}
	m.ObserveQueueWait("spam", "v1", 150*time.Microsecond)
	m.ObserveQueueWait("spam", "v1", 3*time.Millisecond)
	m.ObserveInference("spam", "v1", 700*time.Microsecond)
	m.ObserveBatchSize("spam", "v1", 4)
	m.ObserveBatchSize("spam", "v1", 100)
	mon.CacheLookup("spam-v1", TierMemory, 3, 5)
	mon.CacheLookup("spam-v1", TierRedis, 2, 3)
	m.SetRedisFallback(true)
	m.SetQueueDepth("spam", "v1", 7)
	m.SetModelsLoaded(3)
	m.ObserveModelLoad(1500*time.Millisecond, true)
	m.ObserveModelLoad(time.Second, false)
	m.ObserveModelLoad(time.Second, false)

	h := histogram(t, reg, "mlserve_http_request_duration_seconds",
		map[string]string{"endpoint": "/predict", "model": "spam", "version": "v1", "code": "200"})
	if h.GetSampleCount() != 3 || h.GetSampleSum() < 0.0059 || h.GetSampleSum() > 0.0061 {
		t.Errorf("predict 200: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 0.0025 {
			want = 3
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("le=%g: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	// An unknown model's request is booked without model labels.
	if got := histogram(t, reg, "mlserve_http_request_duration_seconds",
		map[string]string{"code": "404", "model": "", "version": ""}); got.GetSampleCount() != 1 {
		t.Errorf("404 count %d", got.GetSampleCount())
	}
	// 20 s lands above the last bucket (10 s), in +Inf only.
	hb := histogram(t, reg, "mlserve_http_request_duration_seconds", map[string]string{"endpoint": "/batch-predict"})
	if last := hb.GetBucket()[len(hb.GetBucket())-1]; last.GetUpperBound() != 10 || last.GetCumulativeCount() != 0 {
		t.Errorf("batch 20 s: last bucket le=%g count %d", last.GetUpperBound(), last.GetCumulativeCount())
	}
	qw := histogram(t, reg, "mlserve_queue_wait_seconds", nil)
	if qw.GetSampleCount() != 2 || qw.GetBucket()[1].GetCumulativeCount() != 1 { // le=250µs holds the 150 µs wait
		t.Errorf("queue wait: %v", qw)
	}
	if bs := histogram(t, reg, "mlserve_batch_size", nil); bs.GetSampleCount() != 2 || bs.GetSampleSum() != 104 {
		t.Errorf("batch size: count %d sum %v", bs.GetSampleCount(), bs.GetSampleSum())
	}
	conf := histogram(t, reg, "mlserve_prediction_confidence", nil)
	if conf.GetSampleCount() != 4 || conf.GetBucket()[0].GetCumulativeCount() != 1 || conf.GetBucket()[5].GetCumulativeCount() != 2 {
		t.Errorf("confidence: %v", conf)
	}

	want := `
# HELP mlserve_predictions_total Predictions by predicted label (the prediction distribution).
# TYPE mlserve_predictions_total counter
mlserve_predictions_total{label="ham",model="spam",version="v1"} 3
mlserve_predictions_total{label="spam",model="spam",version="v1"} 1
# HELP mlserve_errors_total Failed requests by kind (validation, not_found, timeout, queue_full, model).
# TYPE mlserve_errors_total counter
mlserve_errors_total{kind="not_found",model="",version=""} 1
mlserve_errors_total{kind="queue_full",model="spam",version="v1"} 1
# HELP mlserve_cache_lookups_total Prediction-cache lookups (one per text) by tier and result (hit, miss).
# TYPE mlserve_cache_lookups_total counter
mlserve_cache_lookups_total{result="hit",tier="memory"} 3
mlserve_cache_lookups_total{result="hit",tier="redis"} 2
mlserve_cache_lookups_total{result="miss",tier="memory"} 5
mlserve_cache_lookups_total{result="miss",tier="redis"} 3
# HELP mlserve_cache_redis_fallback 1 while Redis is down and bypassed, else 0.
# TYPE mlserve_cache_redis_fallback gauge
mlserve_cache_redis_fallback 1
# HELP mlserve_queue_depth Texts waiting in the model's queue.
# TYPE mlserve_queue_depth gauge
mlserve_queue_depth{model="spam",version="v1"} 7
# HELP mlserve_models_loaded Model versions loaded and serving.
# TYPE mlserve_models_loaded gauge
mlserve_models_loaded 3
# HELP mlserve_model_load_failures_total Model loads that failed.
# TYPE mlserve_model_load_failures_total counter
mlserve_model_load_failures_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mlserve_predictions_total", "mlserve_errors_total",
		"mlserve_cache_lookups_total", "mlserve_cache_redis_fallback", "mlserve_queue_depth", "mlserve_models_loaded",
		"mlserve_model_load_failures_total"); err != nil {
		t.Error(err)
	}
	if h := histogram(t, reg, "mlserve_model_load_duration_seconds", nil); h.GetSampleCount() != 1 || h.GetSampleSum() != 1.5 {
		t.Errorf("load duration: %v", h)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n < 15 {
		t.Errorf("%d series, %v", n, err)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}

	// Untrack drops the version's series.
	mon.Untrack("spam-v1")
	if n := testutil.CollectAndCount(m.predictions); n != 0 {
		t.Errorf("%d prediction series after Untrack", n)
	}
}

func TestNewMetricsTwiceOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("second NewMetrics on the same registry succeeded")
	}
}

func TestNilMetricsIgnoresCalls(t *testing.T) {
	var m *Metrics
	m.ObserveRequest("/predict", "a", "v1", 200, time.Millisecond)
	m.ObservePrediction("a", "v1", "x", 1)
	m.Error(KindModel, "a", "v1")
	m.SetDrift("a", "v1", SignalLabel, 1, LevelAlert)
	m.Forget("a", "v1")
	var off *Monitor
	if err := off.Track("a-v1", []string{"x"}, nil); err != nil {
		t.Errorf("nil Monitor Track: %v", err)
	}
	off.Request("/predict", "a-v1", 200, 1, time.Millisecond, "")
	off.Record("a-v1", "r", Observation{})
	off.CacheLookup("a-v1", TierMemory, 1, 1)
	off.Untrack("a-v1")
	if _, err := off.Feedback("r", "x"); !errors.Is(err, ErrUnknownRequest) {
		t.Errorf("nil Monitor Feedback: %v", err)
	}
	if _, err := off.Drift("a-v1"); !errors.Is(err, ErrNotTracked) {
		t.Errorf("nil Monitor Drift: %v", err)
	}
	if off.Summary().Models != nil || off.Metrics() != nil {
		t.Error("nil Monitor has figures")
	}
	mon, err := New(config.Monitoring{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mon.Request("/predict", "a-v1", 200, 1, time.Millisecond, "")
	if got := mon.Summary(); len(got.Models) != 0 {
		t.Errorf("untracked model in the summary: %+v", got)
	}
	if err := mon.Track("a-v1", []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	mon.Request("/predict", "a-v1", 200, 1, time.Millisecond, "")
	mon.Record("a-v1", "r", Observation{Label: "x"})
	if got := mon.Summary(); len(got.Models) != 1 || got.Models["a-v1"].Requests != 1 || got.Models["a-v1"].Predictions["x"] != 1 {
		t.Errorf("summary without metrics: %+v", got)
	}
}

func TestObserveBatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveBatch("spam", "v1", 5, []time.Duration{time.Millisecond, 3 * time.Millisecond}, 2*time.Millisecond, true, 7)
	m.ObserveBatch("spam", "v1", 1, []time.Duration{0}, time.Second, false, 0)
	for _, tc := range []struct {
		name  string
		count uint64
		sum   float64
	}{
		{"mlserve_queue_wait_seconds", 3, 0.004},
		{"mlserve_batch_size", 2, 6},
		{"mlserve_inference_duration_seconds", 1, 0.002}, // the failed batch's time is left out
	} {
		t.Run(tc.name, func(t *testing.T) {
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				if mf.GetName() == tc.name {
					h := mf.GetMetric()[0].GetHistogram()
					if h.GetSampleCount() != tc.count || math.Abs(h.GetSampleSum()-tc.sum) > 1e-9 {
						t.Errorf("count %d sum %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), tc.count, tc.sum)
					}
					return
				}
			}
			t.Errorf("no %s", tc.name)
		})
	}
	if got := testutil.ToFloat64(m.queueDepth.WithLabelValues("spam", "v1")); got != 0 {
		t.Errorf("queue depth %v, want the last batch's 0", got)
	}
}
