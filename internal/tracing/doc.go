// Package tracing builds mlserve's OpenTelemetry tracing: the tracer
// provider and its OTLP exporter (gRPC or HTTP/protobuf) from the
// `tracing:` configuration and the standard OTEL_* environment variables,
// the W3C propagator (traceparent, tracestate, baggage), the attribute keys
// of mlserve's own spans, and an slog handler that stamps log records with
// the trace and span ids of the span in their context.
//
// # Cost when off
//
// Tracing is off unless tracing.enabled is set. Off, no provider exists:
// the server and the engine hold a nil trace.Tracer and test it before
// anything else, so the hot path pays one nil check. Code below them that
// has only a context (a model's tokenizer, its ONNX run) calls Child, which
// starts a span only under a recording parent and otherwise returns the
// context unchanged, without allocating.
//
// # Span tree of a prediction
//
//	POST /predict                     server span (HTTP semantic conventions)
//	├── cache.lookup                  mlserve.cached, mlserve.cache_hits
//	├── inference.queue               the wait in the version's queue (queued requests only)
//	├── inference.batch               the model call: one per batch, linked to every request it served
//	│   ├── onnx.tokenize / onnx.run  (ONNX models) or sklearn.predict
//	└── cache.store
//
// A batch that merged several requests is the child of the first and
// carries a link to each request's span, so every trace reaches the model
// call that served it.
package tracing
