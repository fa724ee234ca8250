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
package loadgen
