// Package server is mlserve's HTTP API: prediction, model administration,
// health, statistics, the OpenAPI document and its offline /docs, plus the
// Prometheus handler for the monitoring listener.
//
// Handlers are registered with huma, which generates the OpenAPI 3.1 document
// from the request and response types of the public api package. Every error
// is an RFC 9457 application/problem+json document with a field-level errors
// list; statuses come from one function, StatusOf.
//
// # Predict path
//
// POST /predict and /batch-predict are registered with huma (the OpenAPI
// document lists them) but a well-formed body that satisfies the schema is
// served by a fast path (fast.go): a strict one-pass decoder (decode.go), the
// same handler, and the answer or problem document written through huma's
// own negotiation and JSON format. Anything the decoder is not sure huma
// would accept unchanged goes to huma, which validates it and answers with
// its problem document, so a response never depends on the path; a
// differential test and fuzz target (fast_test.go) hold the two to the
// same bytes.
//
// A prediction resolves its model version, then looks up all its texts in the
// cache at once (Options.Cache); only the misses go to the engine
// (Options.Engine) under the request's deadline (the configured default, or
// timeout_ms when shorter), and their answers are stored in one call. Hits
// say "cached": true. The key is the resolved id, its version and the raw
// text: the registry applies a model's manifest preprocessing inside the
// model it hands out, so the cleaned text is not visible here.
//
// # Explanations and out-of-distribution scores
//
// A request with "explain" takes huma's path (the fast decoder hands it on)
// and, once classify has its answers, gets explanations while the version's
// lease is held (explain.go): the model's own (model.Explainer) where it has
// one, else occlusion, each distinct word removed in turn and the variants
// batched through the engine. Every answer of a version with a reference is
// scored by internal/ood (ood.go, ~80 ns) before it is booked; a reject
// policy turns a flagged text into a 422 (ood.ErrOutOfDistribution). The
// fast encoders write the ood member and hand answers carrying an
// explanation to huma.
//
// # Monitoring
//
// With Options.Monitor (nil: monitoring off) every request is booked in the
// latency histogram (predict calls with their model and version, errors by
// kind from errorKind, the status mapping's twin), and every answered text,
// cached or not, in the prediction distribution, the version's drift window
// (label, confidence, text length, and the out-of-vocabulary rate when the
// model can tell it) and the feedback ring under the request id
// ("<request_id>/<index>" for a batch). The monitor tracks a version from
// the registry's Loaded event to its Retired (internal/app wires it), not
// the server. Cache lookups are split by tier as cache.GetMany counts
// them. POST /feedback and
// GET /models/{id}/drift (public, like /stats) answer from the monitor, and
// /stats adds its figures (p90, throughput, errors by kind, cache hit ratio,
// predictions by label, drift status, live accuracy) to the server's own.
// Options.UI mounts the dashboard (package ui) at GET /ui; its history
// samples Server.Stats, what /stats answers (ui.go).
//
// # The registry
//
// The server depends on Registry, a small interface that *model.Registry
// satisfies as it is: the model package's handles, statuses and install
// requests, and its sentinel errors, which StatusOf maps. A version that
// leaves the registry (an unload, the keep-N policy, a repository change)
// is released by the registry's events (engine queue, cache entries,
// monitoring: see internal/app), not by the server.
//
// # Hostile and careless clients
//
// The http.Server's read timeouts (set by the serve command) cut off a
// client that trickles its body; uploads get Options.UploadTimeout as their
// own read deadline. A body over its limit is drained, within bounds,
// before the 413 (drain), because clients that write a whole body before
// reading would otherwise see a reset. Routing decisions that guard the
// admin API look at the escaped path, as the mux does. Problem documents
// quote request values only up to a cap. Answers are encoded before their
// status is written: a non-finite model answer is refused in classify
// (ErrModelOutput, a 500 naming the model), and the encodable transformer
// turns any other body JSON cannot carry into a 500 problem, so no route
// sends a 200 without a body.
//
// # Protocol doors
//
// Beside /predict the server speaks the Open Inference Protocol (KServe
// V2) over REST (/v2/...: health, metadata, ready, infer with Triton's
// binary tensor data extension, the model repository extension behind the
// admin rule) and KServe V1 (/v1/models/{name}[:predict]), because the
// tools users already run (tritonclient, the KServe SDK, perf_analyzer,
// KServe's batcher) speak only those. Every door decodes its wire format
// into an InferRequest and calls Infer, the shared core (oip.go) that the
// gRPC door uses too: one model resolution, one set of limits, the same
// cache, engine and monitoring as /batch-predict, errors classified by
// StatusOf. The protocols' errors are {"error": "..."}, not problem
// documents: oipErrorWriter rewrites any problem (huma's validation, the
// middleware's 413 and admin refusals, net/http's 404 and 405) on those
// paths, so no handler needs a second error type. Each door's predictions
// are booked under their own endpoint label (EndpointOf). The common JSON
// request of an OIP infer and a V1 predict takes a fast path (oipfast.go)
// fenced like /predict's: a strict decoder, the same Infer and errors, a
// hand-written encoder, the general path for anything else, and a
// differential test and fuzz target holding the two to the same bytes.
//
// # Shutdown
//
// Drain makes every response close its connection and /health/ready answer
// 503, so keep-alive clients leave before http.Server.Shutdown closes idle
// connections.
package server
