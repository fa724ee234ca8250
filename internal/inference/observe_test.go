package inference

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestObserveSeesEveryBatch checks Config.Observe: the batch sizes add up
// to the texts sent, each batch names the model, and waits and model time
// are real durations (the model sleeps 1 ms per call).
func TestObserveSeesEveryBatch(t *testing.T) {
	var mu sync.Mutex
	var seen []BatchInfo
	m := &echoModel{fixed: time.Millisecond}
	e := newEngine(t, Config{MaxBatchSize: 4, Observe: func(b BatchInfo) {
		mu.Lock()
		seen = append(seen, b)
		mu.Unlock()
	}})
	for i := range 5 {
		if _, err := e.Predict(context.Background(), "m-v1", m, texts("t", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	// Observe runs after the batch's answers are handed out: wait for it.
	sum := func() int {
		n := 0
		for _, b := range seen {
			n += b.Size
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		if sum() == 15 || time.Now().After(deadline) {
			break
		}
		mu.Unlock()
	}
	defer mu.Unlock()
	total := 0
	for i, b := range seen {
		if i == len(seen)-1 && b.Queued != 0 {
			t.Errorf("last batch says %d texts still queued", b.Queued)
		}
		total += b.Size
		if b.ID != "m-v1" || b.Size < 1 || b.Size > 4 || len(b.Waits) == 0 || b.Err != nil {
			t.Errorf("batch %+v", b)
		}
		if b.Inference < time.Millisecond {
			t.Errorf("inference %s, the model sleeps 1ms", b.Inference)
		}
		for _, w := range b.Waits {
			if w < 0 {
				t.Errorf("negative queue wait %s", w)
			}
		}
	}
	if total != 1+2+3+4+5 {
		t.Errorf("batches cover %d texts, sent 15", total)
	}
}

// TestObserveQueued: a batch run while other requests wait reports them.
func TestObserveQueued(t *testing.T) {
	var mu sync.Mutex
	maxQueued := 0
	m := &echoModel{fixed: 2 * time.Millisecond, noBatch: true}
	e := newEngine(t, Config{MaxBatchSize: 1, Workers: 1, Observe: func(b BatchInfo) {
		mu.Lock()
		maxQueued = max(maxQueued, b.Queued)
		mu.Unlock()
	}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := e.Predict(context.Background(), "m-v1", m, texts("q", 1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if maxQueued == 0 {
		t.Error("8 requests on one worker, no batch saw any queued")
	}
}
