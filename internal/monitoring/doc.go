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
//     block or, without one, the first config.Drift.Bootstrap
//     predictions after load. A sliding window of the last
//     config.Drift.Window predictions is kept as bin counts, so recording is O(1); scores are
//     re-evaluated every Window/20 predictions and on every Status call.
//   - Feedback: predictions are remembered by request id in a bounded ring
//     (config.Monitoring's Pending and PendingTTL); Feedback compares the
//     true label and keeps a rolling accuracy over the last
//     config.Drift.FeedbackWindow feedbacks. It alerts when that falls
//     more than config.Drift.Tolerance
//     below the manifest's accuracy (no alert without one).
//   - Stats and Render: per-model counters, throughput over the last minute,
//     latency percentiles over the last 2,048 requests, and a renderer for
//     an 80-column terminal.
//   - Monitor: the calls the server makes, tying the above together.
//
// # Fleet: replicas that behave as one
//
// ShareWith gives the monitor a Fleet (Redis: package monitoring/redis),
// the state the replicas behind one load balancer share. Each replica
// keeps all of its own state as before; in addition:
//
//   - Record queues each prediction for the fleet (Fleet.Remember, which
//     never blocks), and the detector counts its window entries not yet
//     sent. Nothing else on the request path touches the fleet.
//   - FeedbackContext looks for the prediction in the fleet first (a
//     claim leaves a "taken" mark, so each prediction takes one feedback
//     fleet-wide), then in this replica's memory (a prediction not yet
//     written, or Redis down); the true label goes to the version's shared
//     accuracy window, whose figure the answer, the alert and the gauge
//     take.
//   - RunFleet, every monitoring.fleet.flush, adds the counters and drift
//     bins since the last flush (FlushFleet) and sets the live-accuracy
//     gauges to the fleet's, so every replica's metric agrees.
//   - DriftContext computes the PSI over the fleet's bins of the last
//     monitoring.fleet.window minutes, against this replica's reference
//     (the same manifest everywhere; a bootstrapped one is each replica's
//     own, from the same edges); SummaryContext answers GET /stats with
//     the fleet's drift and live accuracy, and scope fleet with the
//     counters summed over the replicas.
//
// While the fleet is down (State) every figure is this replica's, and the
// answers say so: api.DriftStatus.Scope "replica" with ScopeDetail,
// api.Stats.Fleet state "down". Counts a failed flush could not add are
// kept for the next; predictions made while down are this replica's.
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
// # Shape
//
// The package owns no types of its own for what it reports: Drift answers
// an api.DriftStatus, Feedback an api.FeedbackResponse and Summary an
// api.Stats, the types the server sends and the client decodes, so a
// monitoring figure cannot drift from its JSON. Its settings are
// config.Monitoring, the config file's `monitoring:` block, whose defaults
// and checks live in the config package (New applies both). A version is
// booked under the name and version model.SplitID gives its id; Track
// refuses an id it cannot split, and only tracked ids reach the model and
// version labels and the summary, so a client naming unknown models cannot
// create series. A nil *Monitor or *Metrics ignores every call: that is
// monitoring switched off, with no branches in the callers.
//
// The server calls Track when a version starts serving and Untrack when it
// leaves (which drops its detector, counters and series), Request and
// Record per request and answered text, CacheLookup per cache tier, and
// Feedback, Drift and Summary behind POST /feedback, GET
// /models/{id}/drift and GET /stats. The inference engine and the cache
// report through Metrics directly. The error kinds (Kind*) are the classes
// the server's one error-to-status function assigns.
package monitoring
