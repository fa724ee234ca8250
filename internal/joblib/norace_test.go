//go:build !race

package joblib

// raceSlowdown is 1 without the race detector (see race_test.go).
const raceSlowdown = 1

// bombMiB is how far the bombs built in tests inflate: 256 MiB, as the
// committed ones do.
const bombMiB = 256
