package monitoring

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// LatencyBuckets are the histogram bounds, in seconds, of every latency
// metric: 100 µs to 10 s, about three buckets per decade.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// BatchBuckets are the bounds of the batch-size histogram.
var BatchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// ConfidenceBuckets are the bounds of the confidence histogram (the same ten
// bins as a manifest's reference.confidence).
var ConfidenceBuckets = []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, 1}

// Error kinds counted by mlserve_errors_total.
const (
	KindValidation = "validation"
	KindNotFound   = "not_found"
	KindTimeout    = "timeout"
	KindQueueFull  = "queue_full"
	KindModel      = "model"
)

// Cache tiers for CacheHit and CacheMiss.
const (
	TierMemory = "memory"
	TierRedis  = "redis"
)

// Metrics are mlserve's Prometheus collectors. Every method is safe for
// concurrent use; a nil *Metrics ignores every call, so monitoring can be
// switched off without branches at the call sites.
type Metrics struct {
	requests      *prometheus.HistogramVec
	queueWait     *prometheus.HistogramVec
	inference     *prometheus.HistogramVec
	batchSize     *prometheus.HistogramVec
	predictions   *prometheus.CounterVec
	confidence    *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	cache         *prometheus.CounterVec
	redisFallback prometheus.Gauge
	fleetDown     prometheus.Gauge
	queueDepth    *prometheus.GaugeVec
	modelsLoaded  prometheus.Gauge
	loadDuration  prometheus.Histogram
	loadFailures  prometheus.Counter
	driftScore    *prometheus.GaugeVec
	driftState    *prometheus.GaugeVec
	liveAccuracy  *prometheus.GaugeVec
	feedback      *prometheus.CounterVec
	ood           *prometheus.CounterVec
}

// NewMetrics creates mlserve's collectors and registers them with reg. It
// fails when a collector of the same name is already registered there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "mlserve"
	mv := []string{"model", "version"}
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "http_request_duration_seconds", Help: "HTTP request latency by endpoint, model, version and status code.",
			Buckets: LatencyBuckets}, []string{"endpoint", "model", "version", "code"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "queue_wait_seconds", Help: "Time a text waited in the model's queue before its batch ran.",
			Buckets: LatencyBuckets}, mv),
		inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "inference_duration_seconds", Help: "Time of one model.Predict call on a batch.",
			Buckets: LatencyBuckets}, mv),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "batch_size", Help: "Texts per batch handed to the model.", Buckets: BatchBuckets}, mv),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "predictions_total", Help: "Predictions by predicted label (the prediction distribution)."},
			[]string{"model", "version", "label"}),
		confidence: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "prediction_confidence", Help: "Confidence of each prediction.", Buckets: ConfidenceBuckets}, mv),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "errors_total", Help: "Failed requests by kind (validation, not_found, timeout, queue_full, model)."},
			[]string{"kind", "model", "version"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "cache_lookups_total", Help: "Prediction-cache lookups (one per text) by tier and result (hit, miss)."},
			[]string{"tier", "result"}),
		redisFallback: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
			Name: "cache_redis_fallback", Help: "1 while Redis is down and bypassed, else 0."}),
		fleetDown: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
			Name: "fleet_redis_down", Help: "1 while the Redis the replicas share monitoring through is down (figures are this replica's), else 0."}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "queue_depth", Help: "Texts waiting in the model's queue."}, mv),
		modelsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
			Name: "models_loaded", Help: "Model versions loaded and serving."}),
		loadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns,
			Name: "model_load_duration_seconds", Help: "Time to load and warm up a model version (successful loads).",
			Buckets: LatencyBuckets}),
		loadFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns,
			Name: "model_load_failures_total", Help: "Model loads that failed."}),
		driftScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "drift_psi", Help: "Population stability index of recent traffic against the reference, by signal."},
			[]string{"model", "version", "signal"}),
		driftState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "drift_status", Help: "Drift state by signal (including accuracy): 0 ok, 1 warn, 2 alert."},
			[]string{"model", "version", "signal"}),
		liveAccuracy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "live_accuracy", Help: "Accuracy over the most recent feedback."}, mv),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "feedback_total", Help: "Feedback received, by whether the prediction was correct."},
			[]string{"model", "version", "result"}),
		ood: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "ood_total", Help: "Answered texts scored out of distribution, by outcome (scored, flagged, rejected)."},
			[]string{"model", "version", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.queueWait, m.inference, m.batchSize, m.predictions,
		m.confidence, m.errors, m.cache, m.redisFallback, m.fleetDown, m.queueDepth, m.modelsLoaded, m.loadDuration,
		m.loadFailures, m.driftScore, m.driftState, m.liveAccuracy, m.feedback, m.ood} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveRequest records one HTTP request's latency. code 0 means 200.
func (m *Metrics) ObserveRequest(endpoint, model, version string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if code == 0 {
		code = 200
	}
	m.requests.WithLabelValues(endpoint, model, version, strconv.Itoa(code)).Observe(d.Seconds())
}

// ObserveQueueWait records how long a text waited before its batch ran.
func (m *Metrics) ObserveQueueWait(model, version string, d time.Duration) {
	if m == nil {
		return
	}
	m.queueWait.WithLabelValues(model, version).Observe(d.Seconds())
}

// ObserveInference records the duration of one model.Predict call.
func (m *Metrics) ObserveInference(model, version string, d time.Duration) {
	if m == nil {
		return
	}
	m.inference.WithLabelValues(model, version).Observe(d.Seconds())
}

// ObserveBatchSize records the number of texts in one batch.
func (m *Metrics) ObserveBatchSize(model, version string, n int) {
	if m == nil {
		return
	}
	m.batchSize.WithLabelValues(model, version).Observe(float64(n))
}

// ObserveBatch records one batch at once (one label lookup per metric):
// each request's queue wait, the batch size, the model time when ok, and
// the texts still queued after it.
func (m *Metrics) ObserveBatch(model, version string, size int, waits []time.Duration, inference time.Duration, ok bool, queued int) {
	if m == nil {
		return
	}
	qw := m.queueWait.WithLabelValues(model, version)
	for _, w := range waits {
		qw.Observe(w.Seconds())
	}
	m.batchSize.WithLabelValues(model, version).Observe(float64(size))
	if ok {
		m.inference.WithLabelValues(model, version).Observe(inference.Seconds())
	}
	m.queueDepth.WithLabelValues(model, version).Set(float64(queued))
}

// MaxLabelValueBytes bounds a Prometheus label value taken from a model
// file (a class label): it is stored in every series and scraped on every
// pull, and a model may carry labels of any length.
const MaxLabelValueBytes = 64

// LabelValue makes s fit to be a Prometheus label value: invalid UTF-8
// (which the client library refuses with a panic) becomes U+FFFD, and a
// value longer than MaxLabelValueBytes is cut at a code point boundary and
// marked with "…". Two long labels that share their first 60-odd bytes
// then share a series; the exposition format escapes the rest (quotes,
// backslashes, newlines) itself.
func LabelValue(s string) string {
	if len(s) <= MaxLabelValueBytes && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxLabelValueBytes {
		return s
	}
	const mark = "…"
	cut := MaxLabelValueBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// ObservePrediction counts one prediction by label (LabelValue) and
// records its confidence.
func (m *Metrics) ObservePrediction(model, version, label string, confidence float64) {
	if m == nil {
		return
	}
	m.predictions.WithLabelValues(model, version, LabelValue(label)).Inc()
	m.confidence.WithLabelValues(model, version).Observe(confidence)
}

// Error counts one failed request of the given kind (Kind* constants);
// model and version may be empty when the request named no known model.
func (m *Metrics) Error(kind, model, version string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(kind, model, version).Inc()
}

// CacheHit counts n texts found in the cache tier (Tier* constants).
func (m *Metrics) CacheHit(tier string, n int) {
	if m == nil {
		return
	}
	m.cache.WithLabelValues(tier, "hit").Add(float64(n))
}

// CacheMiss counts n texts not found in the cache tier.
func (m *Metrics) CacheMiss(tier string, n int) {
	if m == nil {
		return
	}
	m.cache.WithLabelValues(tier, "miss").Add(float64(n))
}

// SetRedisFallback records whether Redis is bypassed right now.
func (m *Metrics) SetRedisFallback(on bool) {
	if m == nil {
		return
	}
	m.redisFallback.Set(b2f(on))
}

// SetFleetDown records whether the fleet's Redis is down right now.
func (m *Metrics) SetFleetDown(down bool) {
	if m == nil {
		return
	}
	m.fleetDown.Set(b2f(down))
}

// SetQueueDepth records the number of texts waiting for a model version.
func (m *Metrics) SetQueueDepth(model, version string, n int) {
	if m == nil {
		return
	}
	m.queueDepth.WithLabelValues(model, version).Set(float64(n))
}

// SetModelsLoaded records the number of loaded model versions.
func (m *Metrics) SetModelsLoaded(n int) {
	if m == nil {
		return
	}
	m.modelsLoaded.Set(float64(n))
}

// ObserveModelLoad records a load attempt: its duration when ok, a failure
// otherwise.
func (m *Metrics) ObserveModelLoad(d time.Duration, ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.loadDuration.Observe(d.Seconds())
	} else {
		m.loadFailures.Inc()
	}
}

// SetDrift records a drift signal's score and level (Level constants).
func (m *Metrics) SetDrift(model, version, signal string, psi float64, level Level) {
	if m == nil {
		return
	}
	m.driftScore.WithLabelValues(model, version, signal).Set(psi)
	m.driftState.WithLabelValues(model, version, signal).Set(float64(level))
}

// SetDriftLevel records a drift signal's level without a score (accuracy).
func (m *Metrics) SetDriftLevel(model, version, signal string, level Level) {
	if m == nil {
		return
	}
	m.driftState.WithLabelValues(model, version, signal).Set(float64(level))
}

// SetLiveAccuracy records a model version's rolling accuracy.
func (m *Metrics) SetLiveAccuracy(model, version string, acc float64) {
	if m == nil {
		return
	}
	m.liveAccuracy.WithLabelValues(model, version).Set(acc)
}

// ObserveFeedback counts one feedback by whether the prediction was right.
func (m *Metrics) ObserveFeedback(model, version string, correct bool) {
	if m == nil {
		return
	}
	r := "wrong"
	if correct {
		r = "correct"
	}
	m.feedback.WithLabelValues(model, version, r).Inc()
}

// Forget deletes every series of a model version (after unload), so
// dashboards do not show stale gauges.
func (m *Metrics) Forget(model, version string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"model": model, "version": version}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.requests, m.queueWait,
		m.inference, m.batchSize, m.predictions, m.confidence, m.errors, m.queueDepth, m.driftScore,
		m.driftState, m.liveAccuracy, m.feedback} {
		v.DeletePartialMatch(l)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
