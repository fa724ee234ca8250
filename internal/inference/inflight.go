package inference

import (
	"sync"
	"sync/atomic"
)

// InFlight returns the number of Predict calls under way (queued or
// running). Work that should yield to the engine's callers (the traffic
// package's off-path comparisons) runs when it is zero.
func (e *Engine) InFlight() int64 { return e.busy.n.Load() }

// Idle returns a channel that is closed once no Predict call is under way:
// at once (already closed) when none is, else when the last one under way
// returns. The request path pays for it only while someone waits: an
// atomic load as the count drops to zero.
func (e *Engine) Idle() <-chan struct{} { return e.busy.idle() }

// inFlight counts calls under way and wakes the waiters of idle when the
// count drops to zero.
type inFlight struct {
	n       atomic.Int64
	waiting atomic.Bool // ch is non-nil
	mu      sync.Mutex
	ch      chan struct{} // closed at the next drop to zero
}

// closedCh is idle's answer when nothing is under way.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (f *inFlight) begin() { f.n.Add(1) }

func (f *inFlight) end() {
	// waiting is set before idle reads n (both sequentially consistent):
	// either idle sees zero, or this load sees the waiter.
	if f.n.Add(-1) == 0 && f.waiting.Load() {
		f.wake()
	}
}

func (f *inFlight) wake() {
	f.mu.Lock()
	if f.ch != nil && f.n.Load() == 0 {
		close(f.ch)
		f.ch = nil
		f.waiting.Store(false)
	}
	f.mu.Unlock()
}

func (f *inFlight) idle() <-chan struct{} {
	if f.n.Load() == 0 {
		return closedCh
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
		f.waiting.Store(true)
	}
	if f.n.Load() == 0 {
		close(f.ch)
		f.ch = nil
		f.waiting.Store(false)
		return closedCh
	}
	return f.ch
}
