package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// TestSlowRedisFleet: the fleet's Redis pauses (CLIENT PAUSE 1500 ALL, a
// real redis-server that is up but answers nothing). Remember never waits,
// the queue drops and counts what it cannot send, a read call fails within
// the timeout, the fleet goes down and answers at once; when Redis is fast
// again it comes back up and writes and reads as before. Close during a
// pause returns within the timeout too.
func TestSlowRedisFleet(t *testing.T) {
	srv := redistest.Start(t)
	const timeout, pause = 300 * time.Millisecond, 1500 * time.Millisecond
	bound := timeout + 200*time.Millisecond
	f, err := New(Options{URL: srv.URL(), Timeout: timeout, MaxBackoff: 200 * time.Millisecond, Queue: 64,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			f.Close()
		}
	})
	ctx := context.Background()
	pending := func() monitoring.Pending {
		return monitoring.Pending{Model: "spam-v1", Label: "spam", At: time.Now()}
	}
	f.Remember("before", pending())
	waitUntil(t, 5*time.Second, func() bool { _, ok, _ := f.Peek(ctx, "before"); return ok })

	o, err := goredis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(o)
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()

	// Predictions keep coming: Remember never waits on the paused Redis.
	const n = 5000
	var worst time.Duration
	for i := range n {
		s := time.Now()
		f.Remember(fmt.Sprint("paused-", i), pending())
		worst = max(worst, time.Since(s))
	}
	if worst > 10*time.Millisecond {
		t.Errorf("one Remember took %s against a paused Redis", worst)
	}
	start := time.Now()
	_, _, err = f.Peek(ctx, "before")
	if el := time.Since(start); el > bound {
		t.Errorf("Peek against a paused Redis took %s, timeout %s", el, timeout)
	}
	if err == nil && time.Since(pausedAt) < pause {
		t.Error("Peek against a paused Redis succeeded")
	}
	waitUntil(t, pause, func() bool { up, _ := f.State(); return !up })
	if d := f.Dropped(); d < n-64 {
		t.Errorf("dropped %d of %d predictions behind a queue of 64 and a paused Redis", d, n)
	}
	start = time.Now()
	if _, _, err := f.Peek(ctx, "before"); err == nil && time.Since(pausedAt) < pause {
		t.Error("Peek while down succeeded")
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Errorf("Peek while down took %s", el)
	}

	// Fast again: the fleet comes back and works as before.
	waitUntil(t, 10*time.Second, func() bool { up, _ := f.State(); return up })
	if back := time.Since(pausedAt); back < pause {
		t.Errorf("back up after %s, before the %s pause ended", back, pause)
	}
	f.Remember("after", pending())
	waitUntil(t, 5*time.Second, func() bool { _, ok, _ := f.Peek(ctx, "after"); return ok })
	if p, ok, err := f.Peek(ctx, "before"); err != nil || !ok || p.Label != "spam" {
		t.Errorf("prediction written before the pause: %+v %v %v", p, ok, err)
	}

	// Close with a prediction queued and Redis paused: within the timeout.
	if err := admin.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	f.Remember("at close", pending())
	start = time.Now()
	_ = f.Close()
	closed = true
	if el := time.Since(start); el > bound {
		t.Errorf("Close against a paused Redis took %s, timeout %s", el, timeout)
	}
}

// waitUntil polls cond every 5 ms for up to d and fails the test if it
// never holds.
func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %s", d)
		}
	}
}
