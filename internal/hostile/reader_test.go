package hostile_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/hostile"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// The budget every hostile case must stay within, as the issue sets it.
const (
	maxElapsed = 2 * time.Second
	maxHeap    = 256 << 20
)

// TestReaderRefusesCorpus reads every artifact of the corpus the way the
// server's sklearn loader does and checks that each is refused with a
// message that says why, in under maxElapsed and maxHeap, without the
// code-execution marker ever appearing.
func TestReaderRefusesCorpus(t *testing.T) {
	c, err := hostile.Open()
	if err != nil {
		t.Fatal(err)
	}
	if c.MarkerExists() {
		t.Fatalf("the marker %s exists before the test: remove it", c.Marker)
	}
	n := 0
	for _, hc := range c.Cases {
		if !hc.Reader {
			continue
		}
		n++
		t.Run(hc.Name, func(t *testing.T) {
			var lerr error
			cost := hostile.Measure(func() { _, lerr = load(t, hc.Path()) })
			if err := hc.Check(lerr); err != nil {
				t.Error(err)
			} else if !errors.Is(lerr, model.ErrInvalid) && !errors.Is(lerr, model.ErrUnsupported) {
				t.Errorf("%s: error wraps neither model.ErrInvalid nor model.ErrUnsupported: %v", hc.Name, lerr)
			}
			if cost.CPU > raceSlowdown*maxElapsed {
				t.Errorf("%s: refused after %v of CPU (limit %v, x%d under the race detector)", hc.Name, cost.CPU, maxElapsed, raceSlowdown)
			}
			if cost.PeakHeap > maxHeap {
				t.Errorf("%s: peak heap %d MB (limit %d MB)", hc.Name, cost.PeakHeap>>20, maxHeap>>20)
			}
			if c.MarkerExists() {
				t.Fatalf("%s created the marker %s", hc.Name, c.Marker)
			}
			t.Logf("%-40s %8v %8v CPU %6d KB  %.200v", hc.Name, cost.Elapsed.Round(time.Millisecond), cost.CPU.Round(time.Millisecond), cost.PeakHeap>>10, lerr)
		})
	}
	if n < 100 {
		t.Fatalf("only %d reader cases in the corpus", n)
	}
}

// load reads path as the server's sklearn loader does: within the
// default limits.max_model_bytes and limits.load_timeout.
func load(t *testing.T, path string) (*sklearn.Model, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return sklearn.LoadContext(ctx, path, sklearn.Options{MaxModelBytes: sklearn.DefaultMaxModelBytes})
}
