// Package monitoring watches what mlserve serves: Prometheus metrics,
// drift detection per model version, live accuracy from feedback, and the
// summary behind GET /stats and `mlserve stats`.
//
// # Parts
//
//   - Metrics: every Prometheus collector, registered on an injected
//     registry (NewMetrics). A nil *Metrics ignores every call, which is how
//     monitoring is switched off.
//   - Detector: one model version's drift state. Four signals are binned
//     and compared with a reference by the population stability index:
//     predicted label, confidence, text length (code points) and
//     out-of-vocabulary rate. The reference is the manifest's `reference`
//     block or, without one, the first DriftConfig.Bootstrap predictions
//     after load. A sliding window of the last DriftConfig.Window
//     predictions is kept as bin counts, so recording is O(1); scores are
//     re-evaluated every Window/20 predictions and on every Status call.
//   - Feedback: predictions are remembered by request id in a bounded ring
//     (Config.Pending, Config.PendingTTL); Feedback compares the true label
//     and keeps a rolling accuracy over the last DriftConfig.FeedbackWindow
//     feedbacks. It alerts when that falls more than DriftConfig.Tolerance
//     below the manifest's accuracy (no alert without one).
//   - Stats and Render: per-model counters, throughput over the last minute,
//     latency percentiles over the last 2,048 requests, and a renderer for
//     an 80-column terminal.
//   - Monitor: the calls the server makes, tying the above together.
//
// # Why PSI
//
// PSI = Σ (a−e)·ln(a/e) over bins of the reference share e and window
// share a. It is the industry's drift score with agreed thresholds (0.1
// moderate shift, 0.25 significant; the defaults), it is additive over bins
// so one can see which bin moved, and it works on the binned histograms the
// training script already writes. Its weakness, empty bins, is handled by
// flooring shares at a small epsilon (1e-4), which caps one empty bin's
// contribution. Jensen–Shannon is bounded and symmetric but has no
// customary thresholds, and with ten bins both rank shifts the same way.
// Expect PSI ≈ (bins−1)/Window from sampling noise alone (about 0.01 at the
// default window of 1,000), far below the warn level.
//
// # Out-of-vocabulary rate
//
// Per text: the share of the model analyzer's word unigrams (the word
// vectorizer's own analyzer with ngram_range=(1, 1)) that are not in its
// vocabulary_, 0 for a text without tokens, as python/train_samples.py
// computes the reference. The model backend computes it; this package only
// takes it in Observation.OOVRate (negative: unknown, signal left out).
//
// # Wiring it into the server
//
// This is how internal/server and internal/cli call it (the engine's
// per-batch figures come through inference.Config.Observe, Redis lookups
// through a counting wrapper of the tier, loads from the registry's
// statuses on a 2 s tick). At start-up (internal/cli serve):
//
//	reg := prometheus.NewRegistry()
//	met, err := monitoring.NewMetrics(reg)      // replaces server.newMetrics
//	mon, err := monitoring.New(cfg.Monitoring, met, log.With("component", "monitoring"))
//	// /metrics on the monitoring listener: server.MetricsHandler(reg)
//
// Config's yaml tags make it the config file's `monitoring:` block
// (drift: {window, min_samples, bootstrap, warn, alert, epsilon,
// feedback_window, min_feedback, tolerance}, pending, pending_ttl), to be
// added to internal/config. With monitoring off, pass a nil *Monitor: every
// call is a no-op, which is the "off" side of the overhead benchmark.
//
// Metrics registers mlserve_http_request_duration_seconds with labels
// endpoint, model, version, code (model is the name, version "vN", as
// SplitID gives) and buckets from 100 µs; the server has no collector of
// its own. It calls `mon.Request(endpoint, id, code, texts, d, kind)`, which also feeds
// /stats and mlserve_errors_total (kind from the one error-mapping
// function: KindValidation for 400/413/422, KindNotFound 404, KindQueueFull
// 503, KindTimeout 504, KindModel 500; "" for 2xx).
//
// Registry (on install and on unload of a version):
//
//	met.ObserveModelLoad(time.Since(start), err == nil)
//	mon.Track(id, m.Labels(), manifest)       // before the version serves; manifest may be nil
//	met.SetModelsLoaded(n)
//	mon.Untrack(id)                           // when a version is released
//
// Only tracked ids are booked under their model and version labels and in
// /stats; a request for an unknown model counts with empty labels, so
// clients cannot create series.
//
// Inference engine, per batch (name, version := monitoring.SplitID(id)):
//
//	met.ObserveQueueWait(name, version, started.Sub(enqueued)) // per text
//	met.ObserveBatchSize(name, version, len(batch))
//	met.ObserveInference(name, version, predictDuration)
//	met.SetQueueDepth(name, version, queueLen)
//
// Handlers, per text answered (model-computed or cached):
//
//	mon.Record(id, requestID, monitoring.Observation{Label: p.Label,
//	    Confidence: p.Confidence, TextLength: utf8.RuneCountInString(text),
//	    OOVRate: oov /* or -1 */})
//
// For /batch-predict use requestID + "/" + index (or "" to skip feedback).
// The cache calls mon.CacheLookup(id, monitoring.TierMemory, hits, misses)
// (and TierRedis for the texts that reached Redis) and
// met.SetRedisFallback(on) when Redis goes down or comes back.
//
// Endpoints:
//
//	POST /feedback {"request_id","label"} → mon.Feedback(id, label)
//	    (ErrUnknownRequest → 404)
//	GET /models/{id}/drift → mon.Drift(id) (ErrNotTracked → 404), JSON as is
//	GET /stats → mon.Summary(), JSON as is; `mlserve stats` prints
//	    monitoring.Render(summary, terminalWidth) (the JSON types would move
//	    to api/ when the client needs them).
package monitoring
