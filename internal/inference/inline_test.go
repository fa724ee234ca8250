package inference

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/model"
)

// whereModel records, per call, whether it ran on the caller's goroutine
// (queue.runInline) or on a worker started by the dispatcher (queue.run).
type whereModel struct {
	echoModel
	wmu    sync.Mutex
	inline []bool
}

func (m *whereModel) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	buf := make([]byte, 8<<10)
	buf = buf[:runtime.Stack(buf, false)]
	m.wmu.Lock()
	m.inline = append(m.inline, strings.Contains(string(buf), "runInline"))
	m.wmu.Unlock()
	return m.echoModel.Predict(ctx, texts)
}

func (m *whereModel) calls() []bool {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	return append([]bool(nil), m.inline...)
}

// A request that finds its queue empty and a worker free runs on its
// caller's goroutine; once every worker is busy, requests queue and are
// batched together as before.
func TestInlineWhenIdle(t *testing.T) {
	m := &whereModel{echoModel: echoModel{gate: make(chan struct{}), started: make(chan int, 10)}}
	var mu sync.Mutex
	var infos []BatchInfo
	e := newEngine(t, Config{Workers: 2, MaxBatchSize: 8, Observe: func(b BatchInfo) {
		mu.Lock()
		infos = append(infos, b)
		mu.Unlock()
	}})
	var wg sync.WaitGroup
	run := func(in []string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.Predict(context.Background(), "m", m, in)
			if err != nil || len(out) != len(in) || out[len(in)-1].Label != in[len(in)-1] {
				t.Errorf("Predict(%v) = %v, %v", in, out, err)
			}
		}()
	}
	run([]string{"a"})
	run([]string{"b"})
	<-m.started
	<-m.started // both workers are busy with a and b
	run([]string{"c"})
	run([]string{"d", "e"})
	waitFor(t, func() bool { return e.Stats()[0].QueuedTexts == 3 })
	close(m.gate)
	wg.Wait()
	calls, sizes := m.calls(), m.batchSizes()
	if len(calls) != 3 || !calls[0] || !calls[1] || calls[2] || sizes[2] != 3 {
		t.Fatalf("calls inline %v with sizes %v; want a and b inline, then c, d and e in one queued batch", calls, sizes)
	}
	st := e.Stats()[0]
	if st.Batches != 3 || st.Texts != 5 || st.Running != 0 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	// Observe is told after a batch's answers are handed out: the queued
	// batch's report may come after wg.Wait returns.
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(infos) >= 3 })
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 3 {
		t.Fatalf("observed %d batches, want 3", len(infos))
	}
	// In the order they finished: the queued batch may come first.
	slices.SortFunc(infos, func(a, b BatchInfo) int { return a.Size - b.Size })
	for _, b := range infos[:2] {
		if b.Size != 1 || len(b.Waits) != 1 || b.Waits[0] < 0 || b.Waits[0] > time.Second {
			t.Errorf("inline batch observed as %+v", b)
		}
	}
	if b := infos[2]; b.Size != 3 || len(b.Waits) != 2 {
		t.Errorf("queued batch observed as %+v", b)
	}
}

// Batching still earns its keep: a model with a high fixed cost under many
// concurrent clients gets full batches, not one inline call per request.
func TestInlineKeepsBatching(t *testing.T) {
	m := &whereModel{echoModel: echoModel{fixed: time.Millisecond, perText: 10 * time.Microsecond}}
	e := newEngine(t, Config{Workers: 2, MaxBatchSize: 32, BatchTimeout: 5 * time.Millisecond})
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 20 {
				if _, err := e.Predict(context.Background(), "m", m, []string{"x"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	sizes := m.batchSizes()
	if mean := float64(64*20) / float64(len(sizes)); mean < 8 {
		t.Errorf("%d calls for %d texts (%.1f per call): batching lost", len(sizes), 64*20, mean)
	}
}

// Close waits for a request running inline, and a deadline that passes
// while the model runs inline fails the request as it would a queued one.
func TestInlineCloseAndDeadline(t *testing.T) {
	t.Run("close waits", func(t *testing.T) {
		m := &whereModel{echoModel: echoModel{gate: make(chan struct{}), started: make(chan int, 1)}}
		e, _ := New(Config{Workers: 1})
		done := make(chan error, 1)
		go func() {
			_, err := e.Predict(context.Background(), "m", m, []string{"x"})
			done <- err
		}()
		<-m.started
		closed := make(chan error, 1)
		go func() { closed <- e.Close(context.Background()) }()
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v while a request ran inline", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(m.gate)
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("inline request: %v", err)
		}
		if c := m.calls(); len(c) != 1 || !c[0] {
			t.Errorf("calls inline: %v", c)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		// The model ignores its context and answers after the deadline.
		m := &whereModel{echoModel: echoModel{fixed: 60 * time.Millisecond}}
		e := newEngine(t, Config{Workers: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := e.Predict(ctx, "m", m, []string{"x"}); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("late inline answer: err %v, want ErrTimeout", err)
		}
		if c := m.calls(); len(c) != 1 || !c[0] {
			t.Errorf("calls inline: %v", c)
		}
	})
}
