// Package traffic compares a candidate version of a model with the version
// that serves its name (the primary) on live requests, and decides between
// them.
//
// Three modes, set per name through PUT /models/{name}/traffic or a
// candidate's model.yaml traffic: section:
//
//   - shadow: every request to the name also runs on the candidate;
//   - mirror: a sampled share of requests does;
//   - canary: a share of requests is answered by the candidate, sticky by
//     the request's X-Traffic-Key header when it has one (the same key
//     always lands on the same side), random otherwise; the primary runs on
//     those requests for comparison.
//
// Only requests that name the model by its name (or name no model and get
// it as the default) take part: a request for "sentiment-v1" or "v1" gets
// that version.
//
// # Off the response path
//
// The second prediction of a request never delays its answer. Route, on
// the request path, is one atomic load when no policy runs, and a map
// lookup and an atomic add when one does (BenchmarkRoute); Observe hands the answered texts to a bounded
// queue without waiting: when the queue is full the comparison is dropped
// and counted (mlserve_traffic_dropped_total), never waited for. Workers
// (traffic.workers, 1) run the other version on their own goroutines, not
// in the inference engine's batch slots, so a comparison never makes a
// primary's batch wait for a slot; they compare labels and confidences and
// record both latencies.
//
// The workers also yield to the primaries (idle-time scheduling): with
// Options.Busy set (the server wires the inference engine), a worker
// starts a comparison only when no primary prediction is in flight. It
// waits on the engine's Idle channel, closed as the in-flight count drops
// to zero (no polling), for at most Options.MaxYield (20 ms); then the
// comparison runs anyway, so that under sustained load comparisons still
// progress, and the queue bounds what waits (mlserve_traffic_yields_total
// counts the waits, by outcome idle or forced). Every off-path comparison
// yields, canary's included; the answer a canary request gets is never
// delayed by it. A comparison stays one model call per request, the
// shortest window a primary can collide with (one request's prediction).
//
// Each worker runs on an OS thread of its own at the lowest scheduling
// priority (nice 19, on Linux; never the main thread): when a request
// arrives while a comparison runs, the kernel gives the request's threads a
// core first rather than sharing it with the comparison. Threads the
// runtime starts meanwhile keep the normal priority (Go starts them from a
// template thread while the calling one is locked).
//
// # What is compared
//
// Per text: label agreement and the confidence delta (candidate minus
// primary). Per request: each version's model latency (the primary's only
// when nothing of the request came from the prediction cache, so the two
// figures time the same work). Feedback (POST /feedback) on a compared
// request scores both versions' labels: live accuracy side by side.
// Monitoring sees the candidate's off-path predictions, so its drift
// figures are its own.
//
// # Gates
//
// With any gate set, once gates.min_samples texts (default 100) are
// compared the verdict is taken: every set gate passes, the candidate is
// promoted (made the name's default through the registry); one fails, the
// traffic is rolled back (stopped; the candidate unloaded when
// unload_on_rollback). min_live_accuracy waits for gates.min_feedback
// fed-back requests (default 20); max_latency_ratio compares medians.
// Each step is logged and kept in the view's events. A candidate or
// primary that retires, or a default that changes, ends the traffic.
package traffic
