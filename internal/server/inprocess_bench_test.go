package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/server"
)

// benchBody is the /predict request of the in-process benchmarks: the
// real spam-v1 model, no cache, so every request runs the model.
var benchBody = []byte(`{"text": "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now.", "model_version": "spam-v1"}`)

// serveInProcess sends n /predict requests straight to h (no network,
// the fast path) and returns the time they took.
func serveInProcess(b *testing.B, h http.Handler, n int) time.Duration {
	start := time.Now()
	for range n {
		req := httptest.NewRequest(http.MethodPost, "/predict", bytes.NewReader(benchBody))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	return time.Since(start)
}

// BenchmarkPredictInProcess is /predict as `mlserve serve` runs it (the
// engine, no cache, tracing and payload log off), in process. It is the
// one benchmark that compiles on the commit before tracing existed too, so
// test binaries of both can be run alternately to compare tracing-off with
// what came before (scripts/bench-tracing.sh).
func BenchmarkPredictInProcess(b *testing.B) {
	reg, _ := benchRegistry(b)
	eng, err := inference.New(inference.Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(context.Background())
	s, err := server.New(reg, server.Options{Logger: quietLogger(), Engine: eng})
	if err != nil {
		b.Fatal(err)
	}
	serveInProcess(b, s, 200)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	serveInProcess(b, s, b.N)
	// CPU time (this process): on a shared machine it moves far less with
	// the other processes' load than ns/op does.
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu_ns/op")
}
