//go:build race

package tokenizer

// raceEnabled says the race detector is on: slow tests do fewer rounds.
const raceEnabled = true
