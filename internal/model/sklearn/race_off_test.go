//go:build !race

package sklearn

// raceSlowdown scales wall-clock bounds in tests; 1 without the race
// detector.
const raceSlowdown = 1
