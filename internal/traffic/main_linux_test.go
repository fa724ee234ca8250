package traffic

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The main goroutine holds the main thread from init to TestMain, so that
// TestMain can start a worker there (see fromMainThread).
func init() { runtime.LockOSThread() }

// mainThreadStart is what the worker started from the main thread saw.
var mainThreadStart struct {
	tid, nice int
	handoffs  int32
}

// TestMain starts one worker from the main thread before the tests run:
// with one processor, goLowPriority's goroutine is next on the main
// thread's when the main goroutine lets the thread go and waits.
func TestMain(m *testing.M) {
	procs := runtime.GOMAXPROCS(1)
	ran := make(chan [2]int, 1)
	goLowPriority(func(lowered bool) {
		tid := unix.Gettid()
		nice := -100
		if lowered {
			b, err := os.ReadFile("/proc/self/task/" + itoa(tid) + "/stat")
			if err == nil {
				nice = statNice(string(b))
			}
		}
		ran <- [2]int{tid, nice}
	})
	runtime.UnlockOSThread()
	r := <-ran
	runtime.GOMAXPROCS(procs)
	mainThreadStart.tid, mainThreadStart.nice, mainThreadStart.handoffs = r[0], r[1], mainThreadHandoffs.Load()
	os.Exit(m.Run())
}

// TestGoLowPriorityFromTheMainThread: a worker whose goroutine starts on
// the main thread runs on another one, lowered, and the main thread keeps
// its priority.
func TestGoLowPriorityFromTheMainThread(t *testing.T) {
	s := mainThreadStart
	if s.handoffs == 0 {
		t.Fatal("the worker's goroutine did not start on the main thread: the test did not exercise the handoff")
	}
	if s.tid == os.Getpid() {
		t.Error("the worker runs on the main thread")
	}
	if s.nice != 19 {
		t.Errorf("the worker's thread is at nice %d, want 19", s.nice)
	}
	if got := threadNice(t, os.Getpid()); got == 19 {
		t.Error("the main thread was lowered")
	}
}
