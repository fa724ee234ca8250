//go:build race

package hostile_test

// raceSlowdown scales the CPU bound: the race detector makes the pickle
// machine and decompression 5-10 times slower. `make test` runs the corpus
// again without it, where the bound is the 2 s.
const raceSlowdown = 10
