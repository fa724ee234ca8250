package api

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"
)

// MaxBatchTexts is the most texts one batch request may carry.
const MaxBatchTexts = 100

// PredictRequest asks for the label of one text.
type PredictRequest struct {
	// Text is the text to classify.
	Text string `json:"text" minLength:"1" doc:"Text to classify."`
	// ModelVersion selects the model: a full id ("sentiment-v2"), a bare
	// name (that name's default version) or a bare version ("v1", of the
	// default model's name). Empty means the server's default model.
	ModelVersion string `json:"model_version,omitempty" doc:"Model id (sentiment-v2), bare name (sentiment) or bare version (v1); default model when omitted."`
	// ReturnProbabilities adds every label's probability to the response.
	ReturnProbabilities bool `json:"return_probabilities,omitempty" doc:"Add every label's probability to the response."`
	// TimeoutMS bounds the request on the server, in milliseconds; zero
	// means the server's request timeout.
	TimeoutMS int `json:"timeout_ms,omitempty" minimum:"0" maximum:"600000" nullable:"true" doc:"Server-side deadline in milliseconds (an integer; 49.0 reads as 49); 0 or null uses the server's default."`
	// Explain asks for an explanation of the prediction.
	Explain Explain `json:"explain,omitzero"`
}

// PredictResponse is the label of one text.
type PredictResponse struct {
	// Label is the predicted class.
	Label string `json:"label" doc:"Predicted class label."`
	// Confidence is the probability of Label (or, for a model without
	// probabilities, the score its metadata names).
	Confidence float64 `json:"confidence" doc:"Probability of the label (or the score the model's metadata names)."`
	// LatencyMS is the server-side time from the request's arrival to the
	// response, in milliseconds with microsecond precision.
	LatencyMS float64 `json:"latency_ms" doc:"Server-side latency in milliseconds."`
	// ModelVersion is the full id of the model that produced the label.
	ModelVersion string `json:"model_version" doc:"Full id of the model that answered, e.g. sentiment-v2."`
	// RequestID identifies the request in the server's logs.
	RequestID string `json:"request_id" doc:"Request id (X-Request-ID if the client sent one)."`
	// Cached says whether the answer came from the prediction cache.
	Cached bool `json:"cached" doc:"Whether the answer came from the cache."`
	// Probabilities maps every label to its probability, when asked for
	// and the model has probabilities.
	Probabilities map[string]float64 `json:"probabilities,omitempty" doc:"Every label's probability, when requested."`
	// Labels are, for a multi-label model, every label whose probability
	// is over the model's threshold, in label order; absent for a
	// single-label model and when no label is over it.
	Labels []string `json:"labels,omitempty" doc:"Multi-label models: every label over the model's threshold (absent when none is)."`
	// Explanation says why the model chose Label, when asked for.
	Explanation *Explanation `json:"explanation,omitempty" doc:"Why the model chose the label, when explain was asked for."`
	// OOD is the out-of-distribution verdict, when the version has a
	// reference.
	OOD *OOD `json:"ood,omitempty" doc:"Out-of-distribution score and flag, when the model version has a reference."`
}

// BatchPredictRequest asks for the labels of 1 to MaxBatchTexts texts.
type BatchPredictRequest struct {
	// Texts are the texts to classify, in order.
	Texts []string `json:"texts" minItems:"1" maxItems:"100" doc:"1 to 100 texts to classify."`
	// ModelVersion selects the model as in PredictRequest.
	ModelVersion string `json:"model_version,omitempty" doc:"Model id, bare name or bare version; default model when omitted."`
	// ReturnProbabilities adds every label's probability to each prediction.
	ReturnProbabilities bool `json:"return_probabilities,omitempty" doc:"Add every label's probability to each prediction."`
	// TimeoutMS bounds the request on the server, in milliseconds.
	TimeoutMS int `json:"timeout_ms,omitempty" minimum:"0" maximum:"600000" nullable:"true" doc:"Server-side deadline in milliseconds (an integer; 49.0 reads as 49); 0 or null uses the server's default."`
	// Explain asks for an explanation of each prediction.
	Explain Explain `json:"explain,omitzero"`
}

// BatchPrediction is one text's result in a batch.
type BatchPrediction struct {
	// Label is the predicted class.
	Label string `json:"label"`
	// Confidence is the probability of Label.
	Confidence float64 `json:"confidence"`
	// Cached says whether this text's answer came from the prediction cache.
	Cached bool `json:"cached" doc:"Whether this answer came from the cache."`
	// Probabilities maps every label to its probability, when asked for.
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
	// Labels are, for a multi-label model, every label over its threshold.
	Labels []string `json:"labels,omitempty" doc:"Multi-label models: every label over the model's threshold (absent when none is)."`
	// Explanation says why the model chose Label, when asked for.
	Explanation *Explanation `json:"explanation,omitempty"`
	// OOD is the out-of-distribution verdict, when the version has a
	// reference.
	OOD *OOD `json:"ood,omitempty"`
}

// BatchPredictResponse holds one prediction per text, in request order.
type BatchPredictResponse struct {
	// Predictions has one entry per text.
	Predictions []BatchPrediction `json:"predictions"`
	// TotalLatencyMS is the server-side time for the whole batch.
	TotalLatencyMS float64 `json:"total_latency_ms" doc:"Server-side latency of the whole batch in milliseconds."`
	// ModelVersion is the full id of the model that produced the labels.
	ModelVersion string `json:"model_version"`
	// RequestID identifies the request in the server's logs.
	RequestID string `json:"request_id"`
}

// ModelStatus is where a model version is in its life.
type ModelStatus string

// Model statuses.
const (
	StatusLoading  ModelStatus = "loading"  // being read and warmed up
	StatusReady    ModelStatus = "ready"    // serving
	StatusFailed   ModelStatus = "failed"   // could not be loaded; see ModelInfo.Error
	StatusDraining ModelStatus = "draining" // retired, finishing in-flight requests
	StatusUnloaded ModelStatus = "unloaded" // in the repository, unloaded by an admin
)

// ModelInfo describes one model version known to the server.
type ModelInfo struct {
	// ID is the full id, "<name>-<version>".
	ID string `json:"id"`
	// Name is the model's name ("sentiment").
	Name string `json:"name"`
	// Version is "v<N>".
	Version string `json:"version"`
	// Status is the version's state.
	Status ModelStatus `json:"status"`
	// Default says whether this is its name's default version.
	Default bool `json:"default"`
	// Framework is "sklearn" or "onnx".
	Framework string `json:"framework,omitempty"`
	// Labels are the class labels.
	Labels []string `json:"labels,omitempty"`
	// Accuracy is the held-out accuracy from the manifest, if any.
	Accuracy *float64 `json:"accuracy,omitempty"`
	// LoadedAt is when the version became ready.
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	// LoadMS is how long loading and warming it took, in milliseconds.
	LoadMS *float64 `json:"load_ms,omitempty"`
	// Error is why the version failed to load, when it did.
	Error string `json:"error,omitempty"`
	// Metadata is the manifest's content (model.yaml), if any.
	Metadata map[string]any `json:"metadata,omitempty"`
	// Artifact is what was read from the file itself.
	Artifact map[string]any `json:"artifact,omitempty"`
	// Requests and Errors count the version's predict calls.
	Requests int64 `json:"requests"`
	// Errors counts the version's failed predict calls.
	Errors int64 `json:"errors"`
	// Certificate is the parity certificate's status (model.yaml's golden:
	// section checked at load time); nil before the version was loaded.
	Certificate *Certificate `json:"certificate,omitempty"`
}

// ModelList is the answer to listing models.
type ModelList struct {
	// Models are all known versions, ordered by id.
	Models []ModelInfo `json:"models"`
	// DefaultModel is the id that requests without model_version get.
	DefaultModel string `json:"default_model,omitempty"`
}

// LoadModelRequest uploads an artifact as a new model version.
type LoadModelRequest struct {
	// ArtifactPath is the model file to upload (.joblib, .pkl, .onnx).
	ArtifactPath string
	// ManifestPath is an optional model.yaml to upload with it.
	ManifestPath string
	// FilePaths are other files the model needs (an ONNX model's vocab.txt or
	// tokenizer.json, a two-stage model's classifier), uploaded with it and
	// written beside the artifact under their base names.
	FilePaths []string
	// Name is the model's name; required.
	Name string
	// Version is "v<N>"; empty lets the server pick the next one.
	Version string
	// MakeDefault switches the name's default to the new version once it is
	// loaded and warm.
	MakeDefault bool
}

// SetDefaultRequest names the version that becomes a name's default.
type SetDefaultRequest struct {
	// Version is "v<N>" or the full id.
	Version string `json:"version" minLength:"1" doc:"Version (v2) or full id (sentiment-v2) to make the default."`
}

// ModelStats are one model version's counters.
type ModelStats struct {
	// Requests counts predict and batch-predict calls.
	Requests int64 `json:"requests"`
	// Texts counts classified texts.
	Texts int64 `json:"texts"`
	// Errors counts failed calls.
	Errors int64 `json:"errors"`
	// LatencyP50MS and LatencyP99MS summarise recent request latencies.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	// LatencyP99MS is the 99th percentile of recent latencies.
	LatencyP99MS float64 `json:"latency_p99_ms"`

	// The figures below come from monitoring; they are zero when it is off.

	// LatencyP90MS is the 90th percentile of recent latencies.
	LatencyP90MS float64 `json:"latency_p90_ms,omitempty"`
	// ThroughputRPS is requests per second over the last minute.
	ThroughputRPS float64 `json:"throughput_rps,omitempty"`
	// ErrorsByKind counts failed calls by kind (validation, not_found,
	// timeout, queue_full, model); ErrorRate is their share of Requests.
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	ErrorRate    float64          `json:"error_rate,omitempty"`
	// CacheHits and CacheMisses count texts; CacheHitRatio is hits over both.
	CacheHits     int64   `json:"cache_hits,omitempty"`
	CacheMisses   int64   `json:"cache_misses,omitempty"`
	CacheHitRatio float64 `json:"cache_hit_ratio,omitempty"`
	// Predictions counts predictions by label (the prediction distribution).
	Predictions map[string]int64 `json:"predictions,omitempty"`
	// Drift is the drift status: ok, warn or alert.
	Drift string `json:"drift,omitempty"`
	// LiveAccuracy is the rolling accuracy from feedback, when any.
	LiveAccuracy *float64 `json:"live_accuracy,omitempty"`
	// LatencyHistogram counts the server's recent request latencies (its
	// last 2048 answered requests) in fixed buckets (LatencyBucketsMS), for
	// the dashboard's histogram.
	LatencyHistogram []LatencyBucket `json:"latency_histogram,omitempty"`
	// Feedback and FeedbackCorrect count all feedback and the right
	// predictions among it, summed over the replicas (scope fleet).
	Feedback        int64 `json:"feedback,omitempty"`
	FeedbackCorrect int64 `json:"feedback_correct,omitempty"`
}

// LatencyBucketsMS are the upper bounds, in milliseconds, of the latency
// histogram's buckets; a last bucket without a bound counts the rest.
var LatencyBucketsMS = []float64{0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000}

// LatencyBucket is one bucket of a latency histogram.
type LatencyBucket struct {
	// LE is the bucket's upper bound in milliseconds (inclusive); nil for
	// the last bucket, which has none.
	LE *float64 `json:"le"`
	// Count is how many latencies fall in it and above the bucket before.
	Count int64 `json:"count"`
}

// FeedbackRequest reports the true label of an earlier prediction.
type FeedbackRequest struct {
	// RequestID is the request_id the prediction answered with; for
	// /batch-predict it is "<request_id>/<index>".
	RequestID string `json:"request_id" minLength:"1" maxLength:"200" doc:"request_id of the prediction (batch: request_id/index)."`
	// Label is the true label; it must be one of the model's labels.
	Label string `json:"label" minLength:"1" doc:"The true label."`
}

// FeedbackResponse says how the prediction fared.
type FeedbackResponse struct {
	// ModelVersion is the model version that made the prediction.
	ModelVersion string `json:"model_version"`
	// Predicted is the label it predicted; Correct whether it was right.
	Predicted string `json:"predicted"`
	Correct   bool   `json:"correct"`
	// LiveAccuracy is the model's rolling accuracy after this feedback.
	LiveAccuracy float64 `json:"live_accuracy"`
}

// DriftStatus is the answer of GET /models/{id}/drift: drift detection on
// predicted labels, confidence, text length and out-of-vocabulary rate (PSI
// against the reference), and live accuracy from feedback.
type DriftStatus struct {
	// Model and Version name the model version.
	Model   string `json:"model"`
	Version string `json:"version"`
	// Status is the worst of all signals and the accuracy: ok, warn or alert.
	Status string `json:"status" enum:"ok,warn,alert"`
	// Reference is "manifest", "bootstrap" or "collecting".
	Reference string `json:"reference"`
	// Collected is how many predictions the bootstrap has, of Bootstrap.
	Collected int `json:"collected,omitempty"`
	Bootstrap int `json:"bootstrap,omitempty"`
	// Window is the sliding window's capacity; Samples how full it is.
	Window  int `json:"window"`
	Samples int `json:"samples"`
	// Warn and Alert are the PSI thresholds.
	Warn  float64 `json:"warn"`
	Alert float64 `json:"alert"`
	// Signals are the per-signal figures.
	Signals []DriftSignal `json:"signals"`
	// Accuracy is performance drift from feedback.
	Accuracy DriftAccuracy `json:"accuracy"`
	// Scope says whose traffic the figures cover: "fleet" (every replica
	// sharing the Redis of monitoring.fleet, the last WindowMinutes
	// minutes) or "replica" (this replica's own window: no Redis, or Redis
	// down; ScopeDetail says which). Empty from servers before scale-out.
	Scope string `json:"scope,omitempty" enum:"fleet,replica"`
	// ScopeDetail says why the figures are this replica's only.
	ScopeDetail string `json:"scope_detail,omitempty"`
	// WindowMinutes is the fleet window's span (scope "fleet").
	WindowMinutes int `json:"window_minutes,omitempty"`
}

// DriftSignal is one drift signal's figures.
type DriftSignal struct {
	// Signal is label, confidence, text_length or oov_rate.
	Signal string `json:"signal"`
	// PSI is the population stability index of the window against the reference.
	PSI float64 `json:"psi"`
	// Samples is how many window values the PSI covers.
	Samples int `json:"samples"`
	// Status is ok, warn or alert.
	Status string `json:"status" enum:"ok,warn,alert"`
	// Reference and Window are the bins' shares.
	Reference []float64 `json:"reference"`
	Window    []float64 `json:"window"`
	// Edges are the bin boundaries; Bins name the label bins.
	Edges []float64 `json:"edges,omitempty"`
	Bins  []string  `json:"bins,omitempty"`
}

// DriftAccuracy is live accuracy against the model's reference accuracy.
type DriftAccuracy struct {
	// Live is the accuracy over the last Feedback feedbacks; nil before any.
	Live *float64 `json:"live,omitempty"`
	// Reference is the manifest's accuracy; nil when unknown.
	Reference *float64 `json:"reference,omitempty"`
	// Feedback is how many feedbacks Live covers; Window is its maximum.
	Feedback int `json:"feedback"`
	Window   int `json:"window"`
	// Tolerance is how far Live may fall below Reference.
	Tolerance float64 `json:"tolerance"`
	// Status is ok or alert.
	Status string `json:"status" enum:"ok,warn,alert"`
}

// Stats is the server's in-process summary.
type Stats struct {
	// UptimeSeconds is how long the server has run.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Requests counts all predict and batch-predict calls.
	Requests int64 `json:"requests"`
	// Errors counts all failed calls.
	Errors int64 `json:"errors"`
	// Models holds per-model counters by model id.
	Models map[string]ModelStats `json:"models"`
	// Cache counts prediction-cache lookups; nil when the cache is off.
	Cache *CacheStats `json:"cache,omitempty"`
	// Queues describes the inference engine's queue of each model version
	// that has one, by model id.
	Queues map[string]QueueStats `json:"queues,omitempty"`
	// Scope is "replica" (GET /stats: this replica's figures) or "fleet"
	// (GET /stats?scope=fleet: summed over the replicas sharing Redis).
	Scope string `json:"scope,omitempty" enum:"replica,fleet"`
	// Fleet says whether this replica shares feedback, live accuracy and
	// drift with the others; nil with monitoring off.
	Fleet *FleetState `json:"fleet,omitempty"`
	// Traffic holds each model name's shadow/canary/mirror comparison, by
	// name, when one was set.
	Traffic map[string]TrafficView `json:"traffic,omitempty"`
}

// FleetState says whether a replica shares its monitoring state (pending
// feedback, live accuracy, drift bins, counters) through Redis.
type FleetState struct {
	// State is "shared" (Redis in use), "down" (Redis configured but not
	// answering: every figure is this replica's until it answers) or "off"
	// (no Redis configured: this replica's figures).
	State string `json:"state" enum:"shared,down,off"`
	// Detail says why, when not shared.
	Detail string `json:"detail,omitempty"`
	// Replicas is how many replicas reported into Redis in the last minute
	// (scope fleet, state shared).
	Replicas int `json:"replicas,omitempty"`
}

// QueueStats describes one model version's inference queue.
type QueueStats struct {
	// Queued is the number of requests waiting; Running the batches running.
	Queued  int `json:"queued"`
	Running int `json:"running"`
	// Batches and Texts count the model calls made and the texts in them.
	Batches uint64 `json:"batches"`
	Texts   uint64 `json:"texts"`
	// Rejected counts requests refused because the queue was full.
	Rejected uint64 `json:"rejected"`
}

// CacheStats counts the prediction cache's lookups by tier.
type CacheStats struct {
	// Memory is the in-process tier.
	Memory CacheTierStats `json:"memory"`
	// Redis is the shared tier; nil without cache.redis_url.
	Redis *CacheTierStats `json:"redis,omitempty"`
	// RedisFallback says Redis is down and bypassed right now.
	RedisFallback bool `json:"redis_fallback"`
}

// CacheTierStats counts one cache tier's lookups, one per text.
type CacheTierStats struct {
	// Hits and Misses count texts found and not found in the tier.
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Errors counts failed calls to the tier (Redis only).
	Errors uint64 `json:"errors,omitempty"`
	// Entries is the number of entries held (memory only).
	Entries int `json:"entries,omitempty"`
}

// Health is the answer of the health endpoints.
type Health struct {
	// Status is "ok", or "not ready" with Detail saying why.
	Status string `json:"status"`
	// Detail explains a not-ready state.
	Detail string `json:"detail,omitempty"`
}

// UnmarshalJSON reads a PredictRequest as encoding/json does, except that
// timeout_ms may be any JSON number with an integral value (49.0, 4.9e1),
// as JSON Schema's integer allows and the OpenAPI document says, and null.
func (r *PredictRequest) UnmarshalJSON(b []byte) error {
	type plain PredictRequest
	aux := struct {
		*plain
		TimeoutMS json.RawMessage `json:"timeout_ms,omitempty"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	r.TimeoutMS, err = integral(aux.TimeoutMS, "PredictRequest", "timeout_ms")
	return err
}

// UnmarshalJSON reads a BatchPredictRequest as PredictRequest's does.
func (r *BatchPredictRequest) UnmarshalJSON(b []byte) error {
	type plain BatchPredictRequest
	aux := struct {
		*plain
		TimeoutMS json.RawMessage `json:"timeout_ms,omitempty"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	r.TimeoutMS, err = integral(aux.TimeoutMS, "BatchPredictRequest", "timeout_ms")
	return err
}

// integral decodes an integer field that may be written as any JSON number
// with an integral value; absent or null is 0. Anything else is the error
// encoding/json gives for a value that does not fit an int.
func integral(raw json.RawMessage, structName, field string) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var num json.Number
	if err := json.Unmarshal(raw, &num); err == nil {
		if n, err := strconv.ParseInt(string(num), 10, 0); err == nil {
			return int(n), nil
		}
		if f, err := strconv.ParseFloat(string(num), 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int(f), nil
		}
		return 0, &json.UnmarshalTypeError{Value: "number " + string(num), Type: reflect.TypeFor[int](), Struct: structName, Field: field}
	}
	kind := "string"
	switch raw[0] {
	case '[':
		kind = "array"
	case '{':
		kind = "object"
	case 't', 'f':
		kind = "bool"
	}
	return 0, &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[int](), Struct: structName, Field: field}
}
