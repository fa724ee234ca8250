package traffic

import (
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// mainThreadHandoffs counts the goroutines that found themselves on the
// main thread and handed the work to another (for tests).
var mainThreadHandoffs atomic.Int32

// threadPriorities: OS threads have priorities of their own here.
const threadPriorities = true

// goLowPriority runs f on a new goroutine locked to an OS thread of its own
// whose scheduling priority is the lowest (nice 19); lowered tells f whether
// that worked. The thread ends with f (a goroutine that exits locked takes
// its thread with it), and threads the runtime starts meanwhile do not
// inherit the priority (Go starts them from a template thread while the
// calling one is locked).
//
// The main thread is never lowered: it is the process as tools show it, and
// the runtime cannot end it. A goroutine that finds itself there holds it
// while a second one starts (on another thread, since this one is held),
// then lets it go.
func goLowPriority(f func(lowered bool)) {
	run := func() { f(unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19) == nil) }
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			run()
			return
		}
		mainThreadHandoffs.Add(1)
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			run()
		}()
		<-locked
		runtime.UnlockOSThread()
	}()
}
