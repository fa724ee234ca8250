package payloadlog

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// blackhole is a TCP peer that accepts connections and never reads from or
// writes to them: a sink that hangs rather than refuses.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			_ = c.Close()
		}
	})
	return b
}

func (b *blackhole) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// settledGoroutines waits up to 2 s for the goroutine count to come back to
// at most want, and returns the last count.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// TestSinkAcceptsNeverReads: an HTTP sink whose peer accepts the
// connection and then never reads nor answers. Logging stays non-blocking
// (the queue drops and counts), each batch fails at the configured timeout,
// Close returns within its own deadline even with a full queue still to
// send, and no goroutine is left behind.
func TestSinkAcceptsNeverReads(t *testing.T) {
	before := runtime.NumGoroutine()
	bh := newBlackhole(t)
	c := testConfig("http://" + bh.ln.Addr().String() + "/events")
	c.QueueSize, c.BatchSize = 8, 2
	c.Timeout = config.Duration(300 * time.Millisecond)
	l, err := New(c, nil, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	queued := 0
	var worst time.Duration
	for i := range n {
		s := time.Now()
		if l.Log(record(i)) {
			queued++
		}
		worst = max(worst, time.Since(s))
	}
	if worst > 20*time.Millisecond {
		t.Errorf("one Log call took %s with a hung sink", worst)
	}
	if queued > c.QueueSize+2 {
		t.Errorf("%d of %d records queued into a queue of %d behind a hung sink", queued, n, c.QueueSize)
	}
	if got, want := testutil.ToFloat64(l.dropped), float64(2*(n-queued)); got != want {
		t.Errorf("dropped counter %v, want %v", got, want)
	}
	// The first batch is on the wire: it fails at the timeout, not later.
	deadline := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(l.failed) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if testutil.ToFloat64(l.failed) == 0 {
		t.Fatal("no batch failed within 3 s with a 300 ms sink timeout")
	}
	if bh.accepted() == 0 {
		t.Fatal("the sink never got a connection: the test does not test a hung peer")
	}
	// Queue refilled: Close has up to 4 batches x 300 ms to send, but only
	// 100 ms to do it; it must give up at its deadline.
	for i := range c.QueueSize {
		l.Log(record(n + i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = l.Close(ctx)
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("Close took %s with a 100 ms deadline", el)
	}
	if err == nil {
		t.Error("Close with a hung sink and a full queue reported no error")
	}
	sent := testutil.ToFloat64(l.sent)
	if sent != 0 {
		t.Errorf("sent counter %v to a sink that never answered", sent)
	}
	if got, want := testutil.ToFloat64(l.sent)+testutil.ToFloat64(l.failed)+testutil.ToFloat64(l.dropped), float64(2*(n+c.QueueSize)); got != want {
		t.Errorf("sent+failed+dropped = %v, want every event accounted for: %v", got, want)
	}
	if got := settledGoroutines(before + 2); got > before+2 {
		t.Errorf("%d goroutines after Close, %d before the logger", got, before)
	}
}
