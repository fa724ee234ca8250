// Package ui is mlserve's built-in dashboard: one page served at GET /ui on
// the API listener from assets embedded in the binary (no CDN, no fonts, no
// network), and the short history its charts draw.
//
// The page reads the server's own JSON APIs (/stats, /models,
// /models/{id}/drift, /predict and the admin calls, which it sends with the
// admin token typed into the page) and one endpoint of its own,
// GET /ui/history: the last hour of each series at a fixed resolution.
//
// # History and its memory bound
//
// History keeps one ring of float32 per series, all rings sharing one clock
// ring of the sample times, so a point costs 4 bytes and a series
// span/resolution points (360 at the default 10 s step over an hour). The
// series are a fixed set per server (requests, errors and their kinds,
// cache hit ratio, Redis fallback, queue depth) and per model version
// (requests, errors, p50/p90/p99, queue depth, cache hit ratio and one
// series per predicted label, at most MaxLabels of them). A version that
// has not appeared in the stats for a whole span is dropped, and at most
// MaxModels versions are kept, so the memory is bounded whatever the
// traffic: TestHistoryMemory measures it with 20 versions.
//
// Rates are counter differences between two samples divided by the time
// between them; a series is null (NaN in the ring) where there was no sample
// or nothing to divide by.
package ui
