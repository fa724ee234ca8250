package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/cache/redis"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/server"
)

// longText is a 2,000-character email-like text; i makes it unique.
func longText(i int) string {
	base := fmt.Sprintf("Subject: offer %d\n\n", i) +
		strings.Repeat("Dear friend, you have been selected to receive a FREE prize. Click here to claim it now! ", 30)
	return base[:2000]
}

func predictBody(text, model string) []byte {
	b, _ := json.Marshal(api.PredictRequest{Text: text, ModelVersion: model})
	return b
}

// meanLatency posts body(i) for i in [from, from+n) one after another and
// returns the mean time per request; every answer's cached flag must be want.
func meanLatency(b *testing.B, c *http.Client, url string, body func(i int) []byte, from, n int, want bool) time.Duration {
	b.Helper()
	start := time.Now()
	for i := from; i < from+n; i++ {
		resp, err := c.Post(url, "application/json", bytes.NewReader(body(i)))
		if err != nil {
			b.Fatal(err)
		}
		var r api.PredictResponse
		err = json.NewDecoder(resp.Body).Decode(&r)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		if r.Cached != want {
			b.Fatalf("request %d: cached %v, want %v", i, r.Cached, want)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// cachedServer serves spam-v1 (the sklearn sample) through the engine with
// cfg's cache.
func cachedServer(b *testing.B, cfg cache.Config) *httptest.Server {
	reg, _ := benchRegistry(b)
	eng, err := inference.New(inference.Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(context.Background()) })
	c, err := cache.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(reg, server.Options{Logger: quietLogger(), Engine: eng, Cache: c})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkCacheHitVsMiss: POST /predict of a 2,000-character text on
// spam-v1 through the HTTP server, one client, answered from the memory cache
// (the same text again) versus computed (a new text each time, looked up and
// stored). Reports both mean latencies and miss/hit (target ≥ 5).
func BenchmarkCacheHitVsMiss(b *testing.B) {
	srv := cachedServer(b, cache.Config{MaxSize: 100_000, TTL: time.Hour})
	c := &http.Client{}
	url := srv.URL + "/predict"
	hit := predictBody(longText(-1), "spam-v1")
	miss := func(i int) []byte { return predictBody(longText(i), "spam-v1") }
	meanLatency(b, c, url, func(int) []byte { return hit }, 0, 1, false) // stores it
	n := max(b.N, 200)
	b.ResetTimer()
	var hitT, missT time.Duration
	const rounds = 10
	for r := range rounds {
		hitT += meanLatency(b, c, url, func(int) []byte { return hit }, 0, n/rounds, true)
		missT += meanLatency(b, c, url, miss, r*n, n/rounds, false)
	}
	b.StopTimer()
	b.ReportMetric(float64(hitT.Microseconds())/rounds, "hit_µs")
	b.ReportMetric(float64(missT.Microseconds())/rounds, "miss_µs")
	b.ReportMetric(float64(missT)/float64(hitT), "miss/hit")
}

// throughput posts body(i) for i in [from, from+n) from benchClients
// closed-loop clients and returns requests per second.
func throughput(b *testing.B, url string, body func(i int) []byte, from, n int) float64 {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	next := make(chan int, n)
	for i := from; i < from+n; i++ {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			for i := range next {
				resp, err := c.Post(url, "application/json", bytes.NewReader(body(i)))
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
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkCacheHitVsMissThroughput is BenchmarkCacheHitVsMiss with
// benchClients concurrent clients: requests per second when every text is a
// hit versus when every text is new, and hit/miss.
func BenchmarkCacheHitVsMissThroughput(b *testing.B) {
	srv := cachedServer(b, cache.Config{MaxSize: 100_000, TTL: time.Hour})
	url := srv.URL + "/predict"
	hit := predictBody(longText(-1), "spam-v1")
	hitBody := func(int) []byte { return hit }
	miss := func(i int) []byte { return predictBody(longText(i), "spam-v1") }
	throughput(b, url, hitBody, 0, 100) // warm, and store the hit
	n := max(b.N, 2000)
	b.ResetTimer()
	var hitRate, missRate float64
	const rounds = 5
	for r := range rounds {
		hitRate += throughput(b, url, hitBody, 0, n/rounds) / rounds
		missRate += throughput(b, url, miss, r*n, n/rounds) / rounds
	}
	b.StopTimer()
	b.ReportMetric(hitRate, "hit_req/s")
	b.ReportMetric(missRate, "miss_req/s")
	b.ReportMetric(hitRate/missRate, "hit/miss")
}

// BenchmarkPredictRedis: POST /predict of a 2,000-character text on spam-v1,
// one client, with the memory cache alone versus Redis (a real redis-server)
// behind it. "miss" texts are new each time (memory alone: a lookup and a
// store in process; with Redis: plus one MGET and one SET round trip);
// "redis_hit" texts are answered by Redis behind a one-entry memory tier.
func BenchmarkPredictRedis(b *testing.B) {
	rs := redistest.Start(b)
	store, err := redis.New(redis.Options{URL: rs.URL(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	mem := cachedServer(b, cache.Config{MaxSize: 100_000, TTL: time.Hour})
	withRedis := cachedServer(b, cache.Config{MaxSize: 100_000, TTL: time.Hour, Remote: store})
	redisOnly := cachedServer(b, cache.Config{MaxSize: 1, TTL: time.Hour, Remote: store})
	c := &http.Client{}
	n := max(b.N, 200)
	// Texts distinct across the three servers (they share Redis).
	body := func(off int) func(int) []byte {
		return func(i int) []byte { return predictBody(longText(off+i), "spam-v1") }
	}
	// redisOnly's texts go into Redis first (through withRedis), so its
	// lookups are Redis hits.
	const hitTexts = 2
	meanLatency(b, c, withRedis.URL+"/predict", body(3_000_000), 0, hitTexts, false)
	hitBody := func(i int) []byte { return predictBody(longText(3_000_000+i%hitTexts), "spam-v1") }
	b.ResetTimer()
	var memT, redisT, redisHitT time.Duration
	const rounds = 10
	for r := range rounds {
		memT += meanLatency(b, c, mem.URL+"/predict", body(0), r*n, n/rounds, false)
		redisT += meanLatency(b, c, withRedis.URL+"/predict", body(1_000_000), r*n, n/rounds, false)
		redisHitT += meanLatency(b, c, redisOnly.URL+"/predict", hitBody, r*n, n/rounds, true)
	}
	b.StopTimer()
	if store.InFallback() {
		b.Fatal("Redis went into fallback during the benchmark")
	}
	b.ReportMetric(float64(memT.Microseconds())/rounds, "mem_miss_µs")
	b.ReportMetric(float64(redisT.Microseconds())/rounds, "redis_miss_µs")
	b.ReportMetric(float64(redisHitT.Microseconds())/rounds, "redis_hit_µs")
	b.ReportMetric(float64(redisT)/float64(memT), "redis/mem_miss")
}

// BenchmarkCacheLookupVsModel isolates what the cache replaces: for one
// 2,000-character text on spam-v1, the model's Predict (clean, TF-IDF,
// logistic regression) versus the cache's key and memory lookup, without
// HTTP and JSON. Reports both per text and model/lookup.
func BenchmarkCacheLookupVsModel(b *testing.B) {
	reg, id := benchRegistry(b)
	lease, err := reg.Resolve(id)
	if err != nil {
		b.Fatal(err)
	}
	c, err := cache.New(cache.Config{MaxSize: 1000, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	texts := []string{longText(-1)}
	preds, err := lease.Model.Predict(ctx, texts)
	if err != nil {
		b.Fatal(err)
	}
	c.SetMany(ctx, []cache.Key{cache.NewKey(id, "v1", texts[0])}, preds)
	n := max(b.N, 1000)
	b.ResetTimer()
	t0 := time.Now()
	for range n {
		if _, err := lease.Model.Predict(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	model := time.Since(t0)
	t0 = time.Now()
	for range n {
		if _, ok, _ := c.GetMany(ctx, []cache.Key{cache.NewKey(id, "v1", texts[0])}); !ok[0] {
			b.Fatal("miss")
		}
	}
	lookup := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(model.Nanoseconds())/float64(n)/1000, "model_µs")
	b.ReportMetric(float64(lookup.Nanoseconds())/float64(n)/1000, "lookup_µs")
	b.ReportMetric(float64(model)/float64(lookup), "model/lookup")
}
