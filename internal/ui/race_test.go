//go:build race

package ui

// raceEnabled: the race detector multiplies resident memory, so the
// resident-set bound is checked only without it.
const raceEnabled = true
