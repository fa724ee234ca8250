// Package grpcserver is mlserve's gRPC door: the Open Inference Protocol's
// inference.GRPCInferenceService (what tritonclient.grpc, the KServe SDK's
// InferenceGRPCClient and perf_analyzer speak), beside the standard gRPC
// health checking service and server reflection, on its own listener.
//
// Why a separate door and not a gRPC gateway in front of REST: the
// protocol's gRPC clients send tensors as protobuf, mostly as
// raw_input_contents, and a second hop would cost the throughput the door is
// for. The door does no serving of its own. It decodes a ModelInferRequest
// into a server.InferRequest and encodes the server.InferResult, so every
// request runs through the same resolution, limits, cache, queue, engine and
// monitoring as /batch-predict (Core, satisfied by *server.Server).
//
// Errors: the server classifies every error once (server.StatusOf, an HTTP
// status); this package turns that status into a gRPC code in one table
// (codeOf), with one refinement the HTTP status cannot carry: a full queue
// (503 over HTTP, with Retry-After) is RESOURCE_EXHAUSTED here, while a
// version still loading or a server draining is UNAVAILABLE. codeOf tells
// them apart from the error itself: the server's problem documents keep the
// error they were made from (errors.Is reaches inference.ErrQueueFull).
//
// Tensors, as the OIP REST door has them: one input "text", BYTES, shape [N]
// or [N,1], 1 ≤ N ≤ 100 (the server checks the count and the text sizes);
// outputs "label" (BYTES [N]), "confidence" (FP64 [N]) and "probabilities"
// (FP64 [N,C], columns in the order of the model metadata's labels). Inputs
// come in contents.bytes_contents or raw_input_contents (each element a
// 4-byte little-endian length, then its bytes); outputs always go back in
// raw_output_contents, as Triton answers, because tritonclient.grpc reads
// FP64 outputs only from there.
//
// Cost per call: grpc-go's transport is most of what the door adds to a
// call over /predict (README, Performance). What is the door's own is kept
// small: encodeInfer allocates each kind of thing once per answer, and the
// answer is written by the door's codec (codec.go), byte for byte what the
// protobuf library writes, without its reflection over the parameters map
// (BenchmarkDoorCodec).
//
// Shutdown: the health service turns NOT_SERVING first, then the server
// stops accepting and waits for calls in flight (GracefulStop) within the
// same drain timeout as the HTTP listener; past it the calls are cut.
//
// Hostile clients (grpc_hostile_test.go): grpc-go's defaults let one
// connection open any number of calls, give a new connection 120 s to send
// its preface and never close an idle one. The door sets 256 calls per
// connection (a client that opens thousands and never reads the answers
// has the rest refused, and holds a bounded heap), 10 s for the handshake
// and 5 minutes idle (Options); the app's listener caps the connections.
package grpcserver
