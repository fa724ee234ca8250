// Package loadgen is the HTTP load generator behind `mlserve benchmark` and
// the bench/ comparison: it drives /predict or /batch-predict of any server
// that speaks mlserve's request and response shapes, closed loop (each client
// sends its next request when the last one answers) or open loop (requests
// start at a fixed rate, latency counted from the scheduled start), and
// reports throughput, latency percentiles, a terminal histogram, errors by
// status and the share of answers served from the server's cache.
//
// The hot path reuses connections and buffers and does not decode whole
// responses, so the generator is not the bottleneck of what it measures.
// For http:// targets it speaks HTTP/1.1 itself (ClientLean): one
// keep-alive connection per client, each request written in one piece and
// each response parsed by hand, at well under half of net/http's CPU per
// request — CPU that, on one machine, it would take from the server under
// test. net/http (ClientStd) serves https:// and is there by choice.
//
// The gRPC door's load (ProtocolGRPC) comes the same way from the
// generator's own unary gRPC client over cleartext HTTP/2 (leangrpc.go,
// Config.GRPCClient ClientLean, the default): one connection per client,
// one call at a time, the header block HPACK-encoded until it is all
// indexed and then reused, the request marshalled into a reused buffer,
// the answer's frames read into reused buffers and its header blocks
// decoded only into the fields it reads, at about a third of grpc-go's
// client CPU per call. grpc-go's client (ClientStd) is there by choice.
// Everything the lean clients accept from a server is bounded (frame,
// header list and answer sizes, flow-control windows, a deadline per
// call); what breaks a bound fails the call, counted under its status or
// gRPC code, and the client reconnects.
package loadgen
