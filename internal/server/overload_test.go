package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// fixedCostModel takes cost per Predict call, whatever the batch size.
type fixedCostModel struct{ cost time.Duration }

func (m *fixedCostModel) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(m.cost):
	}
	out := make([]model.Prediction, len(texts))
	for i := range out {
		out[i] = model.Prediction{Label: "a", Confidence: 1}
	}
	return out, nil
}
func (m *fixedCostModel) Labels() []string { return []string{"a", "b"} }
func (m *fixedCostModel) Info() model.Info { return model.Info{Framework: "test"} }
func (m *fixedCostModel) Close() error     { return nil }

// TestOverload measures the server in-process (httptest, real engine): queue
// size 8, a model that sustains 100 requests/s (20 ms per call, 2 workers,
// one text per call), and an open-loop load of 1,000 requests/s for 5 s (1 s
// under -short). Only 200s and 503s with Retry-After may come back, the
// accepted requests' p99 must be within the request timeout, and afterwards
// goroutines and heap must be back near their baseline.
func TestOverload(t *testing.T) {
	const (
		rate    = 1000 // requests per second offered: 10x what the model sustains
		timeout = time.Second
	)
	dur := 5 * time.Second
	if testing.Short() {
		dur = time.Second
	}
	eng, err := inference.New(inference.Config{MaxQueue: 8, MaxBatchSize: 1, Workers: 2, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	reg := &oneModel{id: "fixed-v1", m: &fixedCostModel{cost: 20 * time.Millisecond}}
	s := newServer(t, reg, server.Options{Engine: eng, RequestTimeout: timeout})
	srv := httptest.NewServer(s)
	defer srv.Close()
	body := []byte(`{"text":"x","model_version":"fixed-v1"}`)

	runtime.GC()
	baseG := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapAlloc

	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	type result struct {
		status     int
		retryAfter string
		lat        time.Duration // as the client saw it
		serverMS   float64       // latency_ms of a 200
		err        error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	const tick = 10 * time.Millisecond
	tk := time.NewTicker(tick)
	start := time.Now()
	sent := 0
	for time.Since(start) < dur {
		<-tk.C
		for range rate * int(tick) / int(time.Second) {
			sent++
			wg.Go(func() {
				t0 := time.Now()
				resp, err := c.Post(srv.URL+"/predict", "application/json", bytes.NewReader(body))
				r := result{err: err}
				if err == nil {
					if resp.StatusCode == 200 {
						var pr api.PredictResponse
						r.err = json.NewDecoder(resp.Body).Decode(&pr)
						r.serverMS = pr.LatencyMS
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
				}
				r.lat = time.Since(t0)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			})
		}
	}
	tk.Stop()
	offered := float64(sent) / time.Since(start).Seconds()
	wg.Wait()

	var ok, full int
	var lat []time.Duration
	var srvLat []float64
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("request failed: %v", r.err)
		case r.status == 200:
			ok++
			lat = append(lat, r.lat)
			srvLat = append(srvLat, r.serverMS)
		case r.status == 503 && r.retryAfter != "":
			full++
		default:
			t.Errorf("status %d (Retry-After %q): want only 200 and 503 with Retry-After", r.status, r.retryAfter)
		}
	}
	slices.Sort(lat)
	slices.Sort(srvLat)
	var p99 time.Duration
	var srvP99 float64
	if len(lat) > 0 {
		p99 = lat[min(len(lat)-1, len(lat)*99/100)]
		srvP99 = srvLat[min(len(lat)-1, len(lat)*99/100)]
	}
	t.Logf("offered %.0f req/s for %s: %d ok, %d queue full; accepted p99 %.1f ms in the server, %s at the client",
		offered, dur, ok, full, srvP99, p99)
	// The server bounds what it controls, from the request's arrival to the
	// answer; the client's figure adds the load generator's own scheduling on
	// the same 2 cores, so it gets a margin.
	if srvP99 > float64(timeout.Milliseconds()) {
		t.Errorf("accepted p99 %.1f ms in the server exceeds the request timeout %s", srvP99, timeout)
	}
	if p99 > 2*timeout {
		t.Errorf("accepted p99 %s at the client exceeds twice the request timeout %s", p99, timeout)
	}
	// The model sustains 100/s; the accepted share must be real work, not a
	// server that refuses everything.
	if want := int(50 * dur.Seconds()); ok < want {
		t.Errorf("%d requests accepted in %s, want at least %d", ok, dur, want)
	}
	if full == 0 {
		t.Error("no request was refused: the load did not overload the queue")
	}

	tr.CloseIdleConnections()
	srv.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	var g int
	for {
		runtime.GC()
		if g = runtime.NumGoroutine(); g <= baseG+2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	runtime.ReadMemStats(&ms)
	t.Logf("goroutines %d (baseline %d), heap %.1f MiB (baseline %.1f MiB)", g, baseG, float64(ms.HeapAlloc)/(1<<20), float64(baseHeap)/(1<<20))
	if g > baseG+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d after the load, baseline %d:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if ms.HeapAlloc > baseHeap+16<<20 {
		t.Errorf("heap %d bytes after the load, baseline %d", ms.HeapAlloc, baseHeap)
	}
}
