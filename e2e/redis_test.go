package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
)

// TestRedisCache runs the real binary with Redis behind a one-entry memory
// tier (so lookups reach Redis) under load from 8 clients cycling over 40
// spam texts: Redis answers hits; killed mid-run, no request fails and
// answers keep coming while /stats shows the fallback; restarted, Redis is
// used again and its new hits show in /stats. Last, the admin flush empties
// both tiers.
func TestRedisCache(t *testing.T) {
	rs := redistest.Start(t)
	p := startServerWith(t, copyModels(t), fmt.Sprintf(
		"cache:\n  enabled: true\n  max_size: 1\n  ttl_seconds: 600\n  redis_url: %s\n", rs.URL()))
	phase := 2 * time.Second
	if testing.Short() {
		phase = time.Second
	}
	texts := make([]string, 40)
	for i := range texts {
		texts[i] = fmt.Sprintf("Subject: offer %d\n\nClaim your FREE prize number %d now, click here!", i, i)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var latMu sync.Mutex
	var lat []time.Duration // during the outage
	var down atomic.Bool
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := c * 5; ctx.Err() == nil; i++ {
				t0 := time.Now()
				_, err := p.client.Predict(context.Background(), &api.PredictRequest{Text: texts[i%len(texts)], ModelVersion: "spam-v1"})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
				if down.Load() {
					latMu.Lock()
					lat = append(lat, time.Since(t0))
					latMu.Unlock()
				}
			}
		})
	}
	stats := func() *api.CacheStats {
		t.Helper()
		st, err := p.client.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Cache == nil || st.Cache.Redis == nil {
			t.Fatalf("/stats has no Redis cache: %+v", st.Cache)
		}
		return st.Cache
	}

	time.Sleep(phase)
	up := stats()
	if up.Redis.Hits == 0 || up.RedisFallback {
		t.Fatalf("with Redis up: %+v %+v", up, *up.Redis)
	}

	rs.Kill()
	down.Store(true)
	okBefore := ok.Load()
	sawFallback := false
	for end := time.Now().Add(phase); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		sawFallback = sawFallback || stats().RedisFallback
	}
	down.Store(false)
	if !sawFallback {
		t.Error("/stats never showed the Redis fallback while Redis was down")
	}
	if served := ok.Load() - okBefore; served < 10 {
		t.Errorf("only %d answers while Redis was down", served)
	}

	hitsBefore := stats().Redis.Hits
	rs.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := stats()
		if !st.RedisFallback && st.Redis.Hits > hitsBefore {
			t.Logf("Redis used again: hits %d → %d", hitsBefore, st.Redis.Hits)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis not used again 15 s after its restart: %+v %+v", st, *st.Redis)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()
	latMu.Lock()
	slices.Sort(lat)
	var p99 time.Duration
	if len(lat) > 0 {
		p99 = lat[len(lat)*99/100]
	}
	latMu.Unlock()
	t.Logf("%d answers, %d failed; p99 while Redis was down %s", ok.Load(), failed.Load(), p99)
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d requests failed, first: %v", n, firstErr.Load())
	}

	// DELETE /models/spam-v1/cache empties both tiers: the memory tier holds
	// one entry, so these lookups would otherwise be Redis hits.
	ask := func() bool {
		t.Helper()
		r, err := p.client.Predict(context.Background(), &api.PredictRequest{Text: texts[0], ModelVersion: "spam-v1"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Cached
	}
	ask()
	ask() // filled Redis if the first was a miss; now the entry is in both tiers
	if !ask() {
		t.Fatal("a repeated text was not cached")
	}
	if err := p.client.FlushCache(context.Background(), "spam-v1"); err != nil {
		t.Fatal(err)
	}
	if ask() {
		t.Error("answered from the cache after DELETE /models/spam-v1/cache")
	}
}
