package redis

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/model"
)

// pauseRedis makes the real server answer no client command for d (CLIENT
// PAUSE d ALL): a Redis that is up and accepts connections, but slow.
func pauseRedis(t *testing.T, url string, d time.Duration) {
	t.Helper()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(o)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
}

// TestSlowRedis: Redis pauses for 1.5 s. A lookup or store then takes no
// longer than the store's timeout (300 ms in the test) plus slack, the
// store turns to fallback and answers at once from then on, through the
// two-tier cache the memory tier keeps answering, and when Redis is fast
// again the store comes back with what it held.
func TestSlowRedis(t *testing.T) {
	srv := redistest.Start(t)
	store := newStore(t, srv.URL(), nil)
	const timeout, pause = 300 * time.Millisecond, 1500 * time.Millisecond
	bound := timeout + 200*time.Millisecond
	ctx := context.Background()
	kept := cache.NewKey("spam-v1", "v1", "kept before the pause")
	if err := store.SetMany(ctx, []cache.Key{kept}, []model.Prediction{pred("kept")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cache.Config{MaxSize: 1 << 16, TTL: time.Minute, Remote: store})
	if err != nil {
		t.Fatal(err)
	}
	local := cache.NewKey("spam-v1", "v1", "in memory")
	c.SetMany(ctx, []cache.Key{local}, []model.Prediction{pred("local")})

	pauseRedis(t, srv.URL(), pause)
	pausedAt := time.Now()
	start := time.Now()
	_, _, err = store.GetMany(ctx, []cache.Key{kept})
	if el := time.Since(start); el > bound {
		t.Errorf("lookup against a paused Redis took %s, timeout %s", el, timeout)
	}
	if err == nil {
		t.Fatal("lookup against a paused Redis succeeded")
	}
	if !store.InFallback() {
		t.Fatal("a timed-out lookup did not put the store in fallback")
	}
	// In fallback: every call answers at once, with the sentinel.
	for i := range 50 {
		start := time.Now()
		err := store.SetMany(ctx, []cache.Key{cache.NewKey("spam-v1", "v1", fmt.Sprint(i))}, []model.Prediction{pred("x")}, time.Minute)
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Errorf("store in fallback took %s", el)
		}
		if !errors.Is(err, ErrFallback) && time.Since(pausedAt) < pause {
			t.Errorf("store during the pause: %v, want ErrFallback", err)
		}
	}
	// Through the cache: the memory tier answers within the bound.
	start = time.Now()
	got, found, _ := c.GetMany(ctx, []cache.Key{local})
	if el := time.Since(start); el > bound || !found[0] || got[0].Label != "local" {
		t.Errorf("memory tier during the pause: found %v %+v after %s", found[0], got[0], el)
	}

	// Redis fast again: the store comes back, with what it held.
	waitFor(t, func() bool { return !store.InFallback() })
	if back := time.Since(pausedAt); back < pause {
		t.Errorf("back in use after %s, before the %s pause ended", back, pause)
	}
	got, found, err = store.GetMany(ctx, []cache.Key{kept})
	if err != nil || !found[0] || got[0].Label != "kept" {
		t.Fatalf("after the pause: %v %v %+v", err, found, got)
	}
}
