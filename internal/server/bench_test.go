package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/server"
)

// benchClients is the concurrency of design.md §7's measurements (hey -c 32).
const benchClients = 32

// echoHandler is the ceiling a single predict is measured against: it only
// decodes the request and encodes a response of the same shape.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	var req api.PredictRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(api.PredictResponse{Label: "ham", Confidence: 0.99, LatencyMS: 0.01, ModelVersion: "spam-v1", RequestID: "x"})
}

// load sends n POSTs of body to url from benchClients closed-loop clients and
// returns the latencies and the elapsed time.
func load(b *testing.B, url string, body []byte, n int) ([]time.Duration, time.Duration) {
	b.Helper()
	tr := &http.Transport{MaxIdleConns: benchClients, MaxIdleConnsPerHost: benchClients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range benchClients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				resp, err := c.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	return slices.Concat(lat...), time.Since(start)
}

// summary is the throughput and p99 of latencies over elapsed.
func summary(lat []time.Duration, elapsed time.Duration) (perSec, p99ms float64) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return float64(len(lat)) / elapsed.Seconds(), float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()) / 1000
}

// BenchmarkPredictVsEcho measures POST /predict against a bare JSON echo
// handler in the same run, both with benchClients concurrent clients, and
// reports both throughputs, both p99s and their ratio (target ≥ 0.6).
func BenchmarkPredictVsEcho(b *testing.B) {
	reg, id := benchRegistry(b)
	eng, err := inference.New(inference.Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(context.Background())
	// As `mlserve serve` runs it: through the inference engine.
	s, err := server.New(reg, server.Options{Logger: quietLogger(), Engine: eng})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	echo := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer echo.Close()
	body := []byte(`{"text": "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now.", "model_version": "` + id + `"}`)
	n := max(b.N, 2000)
	// Warm both (connections, the model's first call).
	load(b, srv.URL+"/predict", body, 200)
	load(b, echo.URL, body, 200)
	b.ResetTimer()
	// Alternate rounds so both see the same background load on a shared machine.
	const rounds = 10
	var pLat, eLat []time.Duration
	var pEl, eEl time.Duration
	for range rounds {
		l, el := load(b, srv.URL+"/predict", body, n/rounds)
		pLat, pEl = append(pLat, l...), pEl+el
		l, el = load(b, echo.URL, body, n/rounds)
		eLat, eEl = append(eLat, l...), eEl+el
	}
	b.StopTimer()
	pRate, pP99 := summary(pLat, pEl)
	eRate, eP99 := summary(eLat, eEl)
	b.ReportMetric(pRate, "predict_req/s")
	b.ReportMetric(pP99, "predict_p99_ms")
	b.ReportMetric(eRate, "echo_req/s")
	b.ReportMetric(eP99, "echo_p99_ms")
	b.ReportMetric(pRate/eRate, "ratio")
}
