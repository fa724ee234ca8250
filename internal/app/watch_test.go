package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// TestWatcher: each rescan syncs the mirror before it polls; a nudge
// rescans at once (no interval set here), and nudges that arrive while one
// is due coalesce into it; it stops with its context.
func TestWatcher(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	polled := make(chan struct{}, 100)
	w := &watcher{
		sync: func(context.Context) error { mu.Lock(); calls = append(calls, "sync"); mu.Unlock(); return nil },
		poll: func(context.Context) error {
			mu.Lock()
			calls = append(calls, "poll")
			mu.Unlock()
			polled <- struct{}{}
			return nil
		},
		kick: make(chan struct{}, 1), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	for range 5 {
		w.nudge() // never blocks
	}
	select {
	case <-polled:
	case <-time.After(2 * time.Second):
		t.Fatal("a nudge did not rescan")
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 2 || len(calls) > 4 || calls[0] != "sync" || calls[1] != "poll" {
		t.Fatalf("calls %v: want sync then poll, five nudges coalesced into one or two rescans", calls)
	}
}
