//go:build race

package joblib

// raceSlowdown is how much slower the race detector makes the code under
// test: CPU bounds in tests are multiplied by it.
const raceSlowdown = 10

// bombMiB is how far the bombs built in tests inflate: 128 MiB under the
// race detector, which makes compressing 256 MiB take a minute; still far
// over the 32 MiB budget of a file their size, which is what the tests
// are about.
const bombMiB = 128
