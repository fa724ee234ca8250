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
package loadgen
