//go:build race

package sklearn

// raceSlowdown scales wall-clock bounds in tests: the race detector
// instruments every memory access, which makes the linear passes over a
// long text (lowercasing, tokenizing) 5-20 times slower.
const raceSlowdown = 5
