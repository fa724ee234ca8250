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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// fixedCostModel takes cost per Predict call, whatever the batch size; with
// a gate, each call instead blocks until the gate is closed, so that a test
// can hold the engine's workers busy and its queue full for as long as it
// needs, whatever the machine's load.
type fixedCostModel struct {
	cost time.Duration
	gate <-chan struct{}
}

func (m *fixedCostModel) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	var timer <-chan time.Time // nil, never ready, when gated
	if m.gate == nil {
		timer = time.After(m.cost)
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-m.gate: // nil, never ready, when not gated
	case <-timer:
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

// TestOverloadSoak runs the server in-process (httptest, real engine): queue
// size 8, a model that sustains 100 requests/s (20 ms per call, 2 workers,
// one text per call), and an open-loop load of 1,000 requests/s for 5 s (1 s
// under -short). Only 200s and 503s with Retry-After may come back, and
// afterwards goroutines and heap must be back near their baseline. Latency and
// the accepted/refused split are logged, not asserted: they depend on how
// much CPU the load generator gets, which a saturated machine takes away;
// TestOverload asserts the refusal itself without timing.
func TestOverloadSoak(t *testing.T) {
	const (
		rate = 1000 // requests per second offered: 10x what the model sustains
		// timeout is far above any queueing delay so that a starved
		// machine cannot turn an accepted request into a 504.
		timeout = time.Minute
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
	c := &http.Client{Transport: tr, Timeout: 2 * timeout}
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
	var (
		p99    time.Duration
		srvP99 float64
	)
	if len(lat) > 0 {
		p99 = lat[min(len(lat)-1, len(lat)*99/100)]
		srvP99 = srvLat[min(len(lat)-1, len(lat)*99/100)]
	}
	t.Logf("offered %.0f req/s for %s: %d ok, %d queue full; accepted p99 %.1f ms in the server, %s at the client",
		offered, dur, ok, full, srvP99, p99)

	tr.CloseIdleConnections()
	srv.CloseClientConnections()
	deadline := time.Now().Add(30 * time.Second)
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

// TestOverload fills the real engine (2 workers, queue of 8) with requests
// that a gated model (fixedCostModel with a gate) holds, waiting on the engine's own counters rather than
// on time, then checks that the next request is refused with 503, a
// Retry-After and a problem body naming the model; that the refusal neither
// ran the model nor disturbed the held requests (all 10 answer 200 once the
// model is released); and that the server accepts again afterwards.
func TestOverload(t *testing.T) {
	const (
		workers  = 2
		maxQueue = 8
		id       = "gated-v1"
	)
	eng, err := inference.New(inference.Config{MaxQueue: maxQueue, MaxBatchSize: 1, Workers: workers, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release() // a failed assertion must not leave handlers blocked
	s := newServer(t, &oneModel{id: id, m: &fixedCostModel{gate: gate}}, server.Options{Engine: eng, RequestTimeout: time.Minute})
	body := `{"text":"x","model_version":"` + id + `"}`

	stats := func() inference.QueueStats {
		for _, q := range eng.Stats() {
			if q.Model == id {
				return q
			}
		}
		return inference.QueueStats{}
	}
	// waitFor polls the engine until it holds n requests, bounded so that a
	// broken engine fails the test instead of hanging it.
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			q := stats()
			if q.Running+q.Queued >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("engine holds %d running + %d queued, want %d", q.Running, q.Queued, n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	held := make([]*httptest.ResponseRecorder, workers+maxQueue)
	var wg sync.WaitGroup
	for i := range held {
		wg.Go(func() { held[i] = do(t, s, call{method: "POST", path: "/predict", body: body}) })
		waitFor(i + 1) // one at a time, so the count is exact
	}
	if q := stats(); q.Running != workers || q.Queued != maxQueue || q.Rejected != 0 {
		t.Fatalf("before the refusal: running %d queued %d rejected %d, want %d, %d, 0", q.Running, q.Queued, q.Rejected, workers, maxQueue)
	}

	w := do(t, s, call{method: "POST", path: "/predict", body: body})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("full queue: status %d, want 503: %s", w.Code, w.Body)
	}
	if ra := w.Header().Get("Retry-After"); ra == "" {
		t.Error("full queue: no Retry-After")
	} else if n, err := strconv.Atoi(ra); err != nil || n < 1 {
		t.Errorf("full queue: Retry-After %q, want a positive number of seconds", ra)
	}
	p := problemOf(t, w)
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Detail, `queue full for model "`+id+`"`) {
		t.Errorf("full queue: problem %+v", p)
	}
	if q := stats(); q.Rejected != 1 || q.Running != workers || q.Queued != maxQueue {
		t.Errorf("after the refusal: running %d queued %d rejected %d, want %d, %d, 1", q.Running, q.Queued, q.Rejected, workers, maxQueue)
	}

	release()
	wg.Wait()
	for i, w := range held {
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"label":"a"`) {
			t.Errorf("held request %d: %d %s", i, w.Code, w.Body)
		}
	}
	if w := do(t, s, call{method: "POST", path: "/predict", body: body}); w.Code != http.StatusOK {
		t.Errorf("after the queue drained: %d %s", w.Code, w.Body)
	}
}
