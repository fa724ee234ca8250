package onnx

import (
	"sync/atomic"
	"time"
)

// idleTrim gives glibc's free arena pages back to the kernel once ONNX
// Runtime's runs stop. Each run mallocs its intermediate tensors (the
// arena is off) and frees them after; glibc keeps what was freed, up to
// trimThreshold at the top of each arena and any amount below it, for the
// next run. That is what the next run wants while traffic lasts, and
// resident memory for nothing once it stops: sentiment/v3 after the 1,512
// reviews held 15 MB that malloc_trim returned. So, when a quiet period of
// idleTrimAfter follows some runs with none in flight, malloc_trim(0) runs
// once, off the request path; no goroutine is left while nothing runs.
var idleTrim trimmer

// idleTrimAfter is the quiet period after which the free pages go back. A
// run that follows it pays the page faults of its first buffers again
// (a few hundred µs on spam/v2), once.
const idleTrimAfter = time.Second

type trimmer struct {
	active  atomic.Int64  // runs in flight
	runs    atomic.Uint64 // runs started
	running atomic.Bool   // a watch goroutine is on
	trims   atomic.Uint64 // malloc_trim calls made (for tests)
	quiet   atomic.Int64  // the quiet period in ns, when a test sets one; 0: idleTrimAfter
}

func (t *trimmer) period() time.Duration {
	if d := time.Duration(t.quiet.Load()); d > 0 {
		return d
	}
	return idleTrimAfter
}

// begin marks a run's start; end must follow.
func (t *trimmer) begin() {
	t.active.Add(1)
	t.runs.Add(1)
	if !t.running.Load() && t.running.CompareAndSwap(false, true) {
		go t.watch()
	}
}

func (t *trimmer) end() { t.active.Add(-1) }

// watch waits for a quiet period (no run started during it, none in
// flight at its end), trims and returns; a run that started as it was
// returning gets a watch again.
func (t *trimmer) watch() {
	seen := t.runs.Load()
	for {
		time.Sleep(t.period())
		n := t.runs.Load()
		if n != seen || t.active.Load() > 0 {
			seen = n
			continue
		}
		trimMalloc()
		t.trims.Add(1)
		t.running.Store(false)
		if t.runs.Load() == n || !t.running.CompareAndSwap(false, true) {
			return
		}
		seen = t.runs.Load()
	}
}
