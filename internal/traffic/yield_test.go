package traffic

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// fakeBusy is a primary in-flight count the test sets by hand.
type fakeBusy struct {
	mu sync.Mutex
	n  int64
	ch chan struct{}
}

func (b *fakeBusy) InFlight() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.n }

func (b *fakeBusy) Idle() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	if b.n == 0 {
		close(b.ch)
		c := b.ch
		b.ch = nil
		return c
	}
	return b.ch
}

func (b *fakeBusy) set(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n = n
	if n == 0 && b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// startedRun records when the off-path prediction starts.
type startedRun struct {
	calls atomic.Int64
	at    chan time.Time
}

func (r *startedRun) run(_ context.Context, _ string, texts []string) ([]model.Prediction, error) {
	r.calls.Add(1)
	select {
	case r.at <- time.Now():
	default:
	}
	out := make([]model.Prediction, len(texts))
	for i := range out {
		out[i] = model.Prediction{Label: "pos", Confidence: 0.9}
	}
	return out, nil
}

func yieldManager(t *testing.T, opts Options) (*Manager, *startedRun) {
	t.Helper()
	opts.Logger = discard()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &startedRun{at: make(chan time.Time, 16)}
	m.Attach(&fakeReg{}, r.run)
	t.Cleanup(m.Close)
	if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow}, "test"); err != nil {
		t.Fatal(err)
	}
	return m, r
}

func observe(m *Manager) {
	d := m.Route("s", "s", "s-v1", "")
	m.Observe(d, Sample{ID: "s-v1", Texts: []string{"x"}, Preds: []model.Prediction{{Label: "pos", Confidence: 0.9}}, Latency: time.Millisecond})
}

func TestYield(t *testing.T) {
	t.Run("waits while a primary is in flight, runs after", func(t *testing.T) {
		b := &fakeBusy{}
		b.set(1)
		m, r := yieldManager(t, Options{Busy: b, MaxYield: time.Minute})
		observe(m)
		select {
		case <-r.at:
			t.Fatal("comparison ran while a primary was in flight")
		case <-time.After(100 * time.Millisecond):
		}
		idleAt := time.Now()
		b.set(0)
		select {
		case at := <-r.at:
			if at.Before(idleAt) {
				t.Fatal("comparison started before the primaries went idle")
			}
			if d := at.Sub(idleAt); d > time.Second {
				t.Errorf("comparison started %s after idle", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("comparison never ran after the primaries went idle")
		}
		waitCompared(t, m, 1)
		if w, f := m.waits.Load(), m.forced.Load(); w != 1 || f != 0 {
			t.Errorf("waits %d, forced %d; want 1, 0", w, f)
		}
	})
	t.Run("idle at once: no wait", func(t *testing.T) {
		b := &fakeBusy{}
		m, _ := yieldManager(t, Options{Busy: b, MaxYield: time.Minute})
		observe(m)
		waitCompared(t, m, 1)
		if w := m.waits.Load(); w != 0 {
			t.Errorf("waits %d with nothing in flight, want 0", w)
		}
	})
	t.Run("bounded wait under sustained load", func(t *testing.T) {
		b := &fakeBusy{}
		b.set(3) // never idle
		const maxYield = 30 * time.Millisecond
		m, r := yieldManager(t, Options{Busy: b, MaxYield: maxYield})
		start := time.Now()
		observe(m)
		select {
		case at := <-r.at:
			if d := at.Sub(start); d < maxYield {
				t.Errorf("comparison ran after %s under load, want at least the bounded wait %s", d, maxYield)
			} else if d > maxYield+time.Second {
				t.Errorf("comparison ran after %s, bounded wait %s not honoured", d, maxYield)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("comparison never ran under sustained load")
		}
		waitCompared(t, m, 1)
		if f := m.forced.Load(); f != 1 {
			t.Errorf("forced %d, want 1", f)
		}
	})
	t.Run("close while waiting returns promptly, no leak", func(t *testing.T) {
		before := runtime.NumGoroutine()
		b := &fakeBusy{}
		b.set(1)
		m, err := New(Options{Busy: b, MaxYield: time.Hour, Workers: 2, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		r := &startedRun{at: make(chan time.Time, 16)}
		m.Attach(&fakeReg{}, r.run)
		if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow}, "test"); err != nil {
			t.Fatal(err)
		}
		observe(m)
		observe(m)
		// Both workers take a job and wait on the busy signal.
		deadline := time.Now().Add(5 * time.Second)
		for m.waits.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if w := m.waits.Load(); w != 2 {
			t.Fatalf("waits %d, want 2", w)
		}
		start := time.Now()
		m.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %s while the workers waited", d)
		}
		if n := r.calls.Load(); n != 0 {
			t.Errorf("%d comparisons ran while a primary was in flight", n)
		}
		deadline = time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines after Close, %d before", n, before)
		}
	})
}

func TestNegativeMaxYield(t *testing.T) {
	if _, err := New(Options{MaxYield: -time.Millisecond}); err == nil {
		t.Fatal("negative MaxYield accepted")
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
