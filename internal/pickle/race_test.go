//go:build race

package pickle_test

// raceSlowdown is how much slower the race detector makes the code under
// test: CPU bounds in tests are multiplied by it.
const raceSlowdown = 10
