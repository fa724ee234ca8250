//go:build !linux

package traffic

// threadPriorities: OS threads have no priorities of their own here.
const threadPriorities = false

// goLowPriority runs f on a new goroutine; threads have no priority of
// their own to lower here.
func goLowPriority(f func(lowered bool)) { go f(false) }
