package inference

import (
	"context"
	"sync"
	"testing"
	"time"
)

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// InFlight counts a Predict call from entry to return; Idle is closed at
// once when none is under way and only when the last one returns.
func TestInFlightIdle(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 10)}
	e := newEngine(t, Config{Workers: 1})
	if n := e.InFlight(); n != 0 || !closed(e.Idle()) {
		t.Fatalf("fresh engine: in flight %d, idle closed %v; want 0, true", n, closed(e.Idle()))
	}
	release, wait := holdWorker(t, e, m)
	// A second call queues behind the first.
	second := make(chan error, 1)
	go func() {
		_, err := e.Predict(context.Background(), "m", m, []string{"queued"})
		second <- err
	}()
	waitFor(t, func() bool { return e.InFlight() == 2 })
	idle := e.Idle()
	if closed(idle) {
		t.Fatal("Idle closed with two calls under way")
	}
	release()
	wait()
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	select {
	case <-idle:
	case <-time.After(5 * time.Second):
		t.Fatal("Idle not closed after the calls returned")
	}
	if n := e.InFlight(); n != 0 {
		t.Fatalf("in flight %d after the calls, want 0", n)
	}
}

// Waiters and callers racing: every waiter is woken (the count drops to
// zero after each burst), and the count ends at zero.
func TestInFlightRace(t *testing.T) {
	var f inFlight
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				f.begin()
				f.end()
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 500 {
				select {
				case <-f.idle():
				case <-time.After(5 * time.Second):
					t.Error("waiter not woken")
					return
				}
			}
		})
	}
	wg.Wait()
	if n := f.n.Load(); n != 0 {
		t.Fatalf("count %d, want 0", n)
	}
}
