package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/model"
)

func newStore(t testing.TB, url string, log *slog.Logger) *Store {
	t.Helper()
	// A generous timeout: -race on a busy machine must not look like an outage.
	s, err := New(Options{URL: url, Logger: log, Timeout: 300 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pred(label string) model.Prediction {
	return model.Prediction{Label: label, Index: 1, Confidence: 0.9, Probabilities: []float64{0.1, 0.9}}
}

func TestNewRejectsBadURL(t *testing.T) {
	if _, err := New(Options{URL: "http://nope"}); err == nil {
		t.Error("accepted a non-redis URL")
	}
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.URL(), nil)
	ctx := context.Background()
	models := []string{"spam-v1", "spam-v2", "we*ird?[id]"}
	var keys []cache.Key
	var preds []model.Prediction
	for _, m := range models {
		for i := range 3 {
			keys = append(keys, cache.NewKey(m, "", fmt.Sprint(i)))
			preds = append(preds, pred(m+fmt.Sprint(i)))
		}
	}
	if err := s.SetMany(ctx, keys, preds, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.GetMany(ctx, append(keys, cache.NewKey("spam-v1", "", "absent")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if !found[i] || !reflect.DeepEqual(got[i], preds[i]) {
			t.Errorf("key %d: found %v, got %+v", i, found[i], got[i])
		}
	}
	if found[len(keys)] {
		t.Error("absent key found")
	}
	if ttl := s.rdb.TTL(ctx, s.key(keys[0])).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL = %s, want set from the cache's ttl", ttl)
	}
	// A corrupt entry is a miss.
	s.rdb.Set(ctx, s.key(keys[1]), "garbage", 0)
	if _, found, _ := s.GetMany(ctx, keys[1:2]); found[0] {
		t.Error("corrupt entry served")
	}
	for _, tc := range []struct {
		flush string
		left  []bool // per model, whether its keys remain
	}{
		{"we*ird?[id]", []bool{true, true, false}},
		{"spam-v1", []bool{false, true, false}},
	} {
		t.Run("flush "+tc.flush, func(t *testing.T) {
			if err := s.FlushModel(ctx, tc.flush); err != nil {
				t.Fatal(err)
			}
			_, found, err := s.GetMany(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range found {
				if i == 1 {
					continue // the corrupted one
				}
				if want := tc.left[i/3]; f != want {
					t.Errorf("key %d (%s): present %v, want %v", i, keys[i].Model, f, want)
				}
			}
		})
	}
}

// Replicas share Redis: a second cache with a cold memory tier finds what the
// first stored, and promotes it to memory.
func TestSharedSecondTier(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a, _ := cache.New(cache.Config{MaxSize: 100, TTL: time.Minute, Remote: newStore(t, srv.URL(), nil)})
	b, _ := cache.New(cache.Config{MaxSize: 100, TTL: time.Minute, Remote: newStore(t, srv.URL(), nil)})
	k := cache.NewKey("spam-v1", "v1", "free money")
	a.SetMany(ctx, []cache.Key{k}, []model.Prediction{pred("spam")})
	for i, want := range []cache.Stats{
		{Memory: cache.TierStats{Misses: 1, Entries: 1}, Remote: &cache.TierStats{Hits: 1}},
		{Memory: cache.TierStats{Hits: 1, Misses: 1, Entries: 1}, Remote: &cache.TierStats{Hits: 1}},
	} {
		p, ok := b.Get(ctx, k)
		if !ok || p.Label != "spam" {
			t.Fatalf("lookup %d: %v %+v", i, ok, p)
		}
		if got := b.Stats(); !reflect.DeepEqual(got, want) {
			t.Errorf("lookup %d: stats %+v %+v, want %+v %+v", i, got, got.Remote, want, want.Remote)
		}
	}
}

// Kill Redis during a load run: no lookup fails or is slowed past the
// timeout, responses keep coming, the fallback is logged once; start it
// again on the same port: it is used again.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	logs := &logCounter{}
	store := newStore(t, srv.URL(), slog.New(logs))
	c, _ := cache.New(cache.Config{MaxSize: 1 << 16, TTL: time.Minute, Remote: store})
	ctx := context.Background()

	var served, slow atomic.Int64
	var maxLatency atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				keys := make([]cache.Key, 4)
				for j := range keys {
					keys[j] = cache.NewKey("m-v1", "v1", fmt.Sprint(w, "/", i, "/", j))
				}
				start := time.Now()
				_, found, _ := c.GetMany(ctx, keys)
				if found[0] {
					t.Errorf("unexpected hit")
				}
				c.SetMany(ctx, keys, []model.Prediction{pred("a"), pred("b"), pred("c"), pred("d")})
				d := time.Since(start)
				if d > time.Second {
					slow.Add(1)
				}
				for {
					m := maxLatency.Load()
					if int64(d) <= m || maxLatency.CompareAndSwap(m, int64(d)) {
						break
					}
				}
				served.Add(1)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	waitFor(t, func() bool { return !store.InFallback() }) // a slow moment under -race may have tripped it
	warned := logs.count(slog.LevelWarn)
	recovered := logs.count(slog.LevelInfo)
	before := served.Load()
	srv.Kill()
	waitFor(t, store.InFallback)
	atKill := served.Load()
	time.Sleep(500 * time.Millisecond)
	during := served.Load() - atKill
	if during < 100 {
		t.Errorf("only %d responses in 500ms of outage", during)
	}
	if n := logs.count(slog.LevelWarn) - warned; n != 1 {
		t.Errorf("fallback logged %d times, want once", n)
	}
	if !c.Stats().RemoteFallback {
		t.Error("Stats does not show the fallback")
	}

	srv.Restart()
	waitFor(t, func() bool { return !store.InFallback() })
	close(stop)
	wg.Wait()
	t.Logf("served %d before kill, %d during 500ms outage, %d total; max latency %s",
		before, during, served.Load(), time.Duration(maxLatency.Load()))
	if slow.Load() > 0 {
		t.Errorf("%d lookups took over 1s (timeout 300ms per call)", slow.Load())
	}

	// Used again: what one replica stores, another finds in Redis.
	k := cache.NewKey("m-v1", "v1", "after restart")
	c.SetMany(ctx, []cache.Key{k}, []model.Prediction{pred("back")})
	other, _ := cache.New(cache.Config{MaxSize: 10, Remote: store})
	if p, ok := other.Get(ctx, k); !ok || p.Label != "back" || other.Stats().Remote.Hits != 1 {
		t.Errorf("after restart: hit %v %+v, stats %+v", ok, p, other.Stats().Remote)
	}
	if n := logs.count(slog.LevelInfo) - recovered; n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

// A Redis that is down at start is a fallback, not an error.
func TestDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	srv.Kill()
	s := newStore(t, url, slog.New(&logCounter{}))
	start := time.Now()
	_, _, err := s.GetMany(context.Background(), []cache.Key{cache.NewKey("m", "", "x")})
	if err == nil {
		t.Fatal("no error with Redis down")
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("failed lookup took %s", d)
	}
	if !s.InFallback() {
		t.Fatal("not in fallback")
	}
	start = time.Now()
	if _, _, err := s.GetMany(context.Background(), []cache.Key{cache.NewKey("m", "", "x")}); !errors.Is(err, ErrFallback) || time.Since(start) > 10*time.Millisecond {
		t.Errorf("lookup in fallback: %v after %s, want ErrFallback at once", err, time.Since(start))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A caller whose own deadline ends the call does not put Redis in fallback.
func TestCallerDeadlineIsNotAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	logs := &logCounter{}
	s := newStore(t, srv.URL(), slog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.GetMany(ctx, []cache.Key{cache.NewKey("m", "", "x")}); err == nil {
		t.Fatal("no error for a cancelled caller")
	}
	if s.InFallback() || logs.count(slog.LevelWarn) != 0 {
		t.Error("a cancelled caller put Redis in fallback")
	}
}
