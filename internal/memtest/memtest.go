// Package memtest measures, for tests and benchmarks, how much of Go's heap
// a value keeps alive.
package memtest

import "runtime"

// HeapKept is the live heap that load's result keeps: the least of three
// tries (a concurrent allocation can only add to one), each try's result
// dropped before the next one measures.
func HeapKept(load func() any) int64 {
	best := int64(-1)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC() // twice: the first moves sync.Pool contents to the victim cache
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep := load()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		if d := int64(after.HeapAlloc) - int64(before.HeapAlloc); best < 0 || d < best {
			best = d
		}
	}
	return best
}
