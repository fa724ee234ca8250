package nudge

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
)

func newNudger(t *testing.T, url string, logs io.Writer) *Redis {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	n, err := New(Options{URL: url, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestNudgeReachesOthersNotSelf: with a real redis-server, a nudge from one
// replica reaches the two others, well under a second, and not its sender.
func TestNudgeReachesOthersNotSelf(t *testing.T) {
	rs := redistest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	ns := make([]*Redis, 3)
	got := make([]chan struct{}, 3)
	for i := range ns {
		ns[i] = newNudger(t, rs.URL(), nil)
		got[i] = make(chan struct{}, 10)
		wg.Go(func() { ns[i].Listen(ctx, func() { got[i] <- struct{}{} }) })
	}
	// Subscriptions are asynchronous: send until both others have heard one.
	t0 := time.Now()
	heard := [3]bool{}
	for !heard[1] || !heard[2] {
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("nudge not heard within 5s: %v", heard)
		}
		if err := ns[0].Send(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 3; i++ {
			select {
			case <-got[i]:
				heard[i] = true
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// Now subscribed: one nudge arrives within a second.
	start := time.Now()
	if err := ns[2].Send(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1} {
		select {
		case <-got[i]:
		case <-time.After(time.Second):
			t.Fatalf("replica %d not nudged within 1s", i)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("nudge took %s", d)
	}
	select {
	case <-got[2]:
		t.Error("a replica heard its own nudge")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestNudgeRedisDown: with Redis gone Send fails within its timeout, logs
// once for the outage, and logs the recovery once Redis is back; a
// listener subscribed before the outage hears nudges again after it.
func TestNudgeRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	var logs strings.Builder
	var mu sync.Mutex
	n := newNudger(t, rs.URL(), writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }))
	other := newNudger(t, rs.URL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	heard := make(chan struct{}, 100)
	done := make(chan struct{})
	go func() { other.Listen(ctx, func() { heard <- struct{}{} }); close(done) }()
	defer func() { cancel(); <-done }()
	hears := func(what string) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); ; {
			_ = n.Send(ctx)
			select {
			case <-heard:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(end) {
				t.Fatalf("the listener hears no nudge %s", what)
			}
		}
	}
	hears("before the outage")
	rs.Kill()
	for range 3 {
		t0 := time.Now()
		if err := n.Send(ctx); err == nil {
			t.Fatal("Send with Redis down succeeded")
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("Send with Redis down took %s", d)
		}
	}
	rs.Restart()
	if err := n.Send(ctx); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	hears("after Redis restarted")
	mu.Lock()
	defer mu.Unlock()
	if c := strings.Count(logs.String(), "cannot nudge"); c != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", c, logs.String())
	}
	if !strings.Contains(logs.String(), "nudging the other replicas again") {
		t.Errorf("no recovery line:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestNewBadURL: a URL go-redis cannot parse is refused with its reason.
func TestNewBadURL(t *testing.T) {
	if _, err := New(Options{URL: "http://x"}); err == nil || !strings.Contains(err.Error(), "nudge") {
		t.Fatalf("New(http://x): %v", err)
	}
}
