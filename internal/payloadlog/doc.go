// Package payloadlog is the request/response log: it ships sampled
// predictions (the input text or its hash, the label, the probabilities,
// the model, the latency, the request and trace ids) out of the server, to
// an HTTP sink as CloudEvents or to a rotating file as JSON lines, for
// audit and drift pipelines that live outside mlserve.
//
// # Events
//
// A prediction is two CloudEvents 1.0, as KServe's payload logger sends
// them, with mlserve's own types:
//
//	type org.mlserve.inference.request   data: {"text" or "text_sha256", "truncated", "model", "request_id", ...}
//	type org.mlserve.inference.response  data: {"label", "confidence", "probabilities", "cached", "latency_ms", ...}
//
// Both share the id ("<request id>" or "<request id>/<index>" in a batch)
// and differ by type, so a consumer joins them on id. source is
// "mlserve/<model id>"; when the request was traced, the traceparent
// extension attribute carries its trace (CloudEvents' distributed tracing
// extension) and trace_id is in the data.
//
// Over HTTP the events go in batched content mode (one POST of
// application/cloudevents-batch+json holding up to batch_size events) or,
// for sinks that take one event per request such as KServe's, binary
// content mode (ce-* headers, the data as the body).
//
// # Never in the way of a prediction
//
// Log only samples and enqueues: a full queue drops the event and counts it
// (mlserve_payload_events_total{outcome="dropped"}). One goroutine drains
// the queue into batches and sends them, each POST bounded by a timeout; a
// failed POST drops its batch and counts it (outcome="failed"). The sink
// being slow or down therefore costs a prediction one channel send, never a
// wait.
package payloadlog
