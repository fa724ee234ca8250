package onnx

import (
	"context"
	"testing"
	"time"
)

// TestIdleTrim: malloc_trim runs once after runs stop for idleTrimAfter,
// never while one is in flight or they keep coming, and no watch goroutine
// is left after it.
func TestIdleTrim(t *testing.T) {
	const quiet = 300 * time.Millisecond
	idleTrim.quiet.Store(int64(quiet))
	defer idleTrim.quiet.Store(0)
	m := loadFixture(t, "bag")
	texts := readExpected(t)["bag"].Texts[:2]
	predict := func() {
		if _, err := m.Predict(context.Background(), texts); err != nil {
			t.Fatal(err)
		}
	}
	waitQuiet := func() {
		deadline := time.Now().Add(10 * time.Second)
		for idleTrim.running.Load() {
			if time.Now().After(deadline) {
				t.Fatal("the watch goroutine did not end after the runs stopped")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	predict()
	waitQuiet() // whatever an earlier test left
	before := idleTrim.trims.Load()

	// A run in flight (a long one) holds the trim off.
	idleTrim.begin()
	time.Sleep(3 * quiet)
	if n := idleTrim.trims.Load() - before; n != 0 {
		t.Errorf("%d trims during a run", n)
	}
	idleTrim.end()
	// Runs every 5 ms for 1 s: never a quiet 300 ms, never a trim.
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		predict()
		time.Sleep(5 * time.Millisecond)
	}
	if n := idleTrim.trims.Load() - before; n != 0 {
		t.Errorf("%d trims while runs kept coming", n)
	}
	waitQuiet()
	if n := idleTrim.trims.Load() - before; n != 1 {
		t.Errorf("%d trims after the runs stopped, want 1", n)
	}
	// Quiet with no runs: nothing more.
	time.Sleep(3 * quiet)
	if n := idleTrim.trims.Load() - before; n != 1 {
		t.Errorf("%d trims with no runs since the last, want 1", n)
	}
}
