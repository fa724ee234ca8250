package inference

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/model"
)

// echoModel answers each text with itself as the label, after a cost of
// fixed + perText·n, and records every call.
type echoModel struct {
	fixed, perText time.Duration
	noBatch        bool
	gate           chan struct{} // when set, every call waits for it (or ctx)
	started        chan int      // when set, receives each call's size as it starts
	fail           error         // when set, every call returns it

	mu        sync.Mutex
	sizes     []int
	seen      map[string]int
	deadlines []time.Time
}

func (m *echoModel) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	m.mu.Lock()
	m.sizes = append(m.sizes, len(texts))
	if m.seen == nil {
		m.seen = map[string]int{}
	}
	for _, t := range texts {
		m.seen[t]++
	}
	d, _ := ctx.Deadline()
	m.deadlines = append(m.deadlines, d)
	m.mu.Unlock()
	if m.started != nil {
		m.started <- len(texts)
	}
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if cost := m.fixed + time.Duration(len(texts))*m.perText; cost > 0 {
		time.Sleep(cost)
	}
	if m.fail != nil {
		return nil, m.fail
	}
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		out[i] = model.Prediction{Label: t, Confidence: 1}
	}
	return out, nil
}

func (m *echoModel) Labels() []string      { return nil }
func (m *echoModel) Info() model.Info      { return model.Info{Framework: "test"} }
func (m *echoModel) Close() error          { return nil }
func (m *echoModel) BatchPreference() bool { return !m.noBatch }
func (m *echoModel) executed(t string) int { m.mu.Lock(); defer m.mu.Unlock(); return m.seen[t] }
func (m *echoModel) batchSizes() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.sizes...)
}

var _ BatchPreferrer = (*echoModel)(nil)

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func texts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/%d", prefix, i)
	}
	return out
}

func TestNewRejectsNegativeLimits(t *testing.T) {
	for _, cfg := range []Config{{MaxQueue: -1}, {MaxBatchSize: -1}, {BatchTimeout: -1}, {Workers: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a negative limit", cfg)
		}
	}
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Config(); c.MaxQueue <= 0 || c.MaxBatchSize <= 0 || c.BatchTimeout <= 0 || c.Workers <= 0 {
		t.Errorf("defaults not filled in: %+v", c)
	}
}

// Every caller gets its own texts' results, in order, whatever the batching.
func TestResultsMatchRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batch   int
		noBatch bool
		cost    time.Duration
	}{
		{"batch1", 1, false, 0},
		{"batch8", 8, false, 100 * time.Microsecond},
		{"batch32", 32, false, 200 * time.Microsecond},
		{"no-batching-model", 32, true, 100 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &echoModel{fixed: tc.cost, noBatch: tc.noBatch}
			e := newEngine(t, Config{MaxBatchSize: tc.batch, BatchTimeout: 2 * time.Millisecond})
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for c := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 5 {
						in := texts(fmt.Sprintf("c%d-r%d", c, i), 1+(c*7+i*13)%70)
						out, err := e.Predict(context.Background(), "echo-v1", m, in)
						if err != nil {
							errs <- err
							return
						}
						if len(out) != len(in) {
							errs <- fmt.Errorf("%d results for %d texts", len(out), len(in))
							return
						}
						for j := range in {
							if out[j].Label != in[j] {
								errs <- fmt.Errorf("result %d is %q, want %q", j, out[j].Label, in[j])
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, n := range m.batchSizes() {
				if n > tc.batch {
					t.Fatalf("batch of %d texts exceeds MaxBatchSize %d", n, tc.batch)
				}
			}
		})
	}
}

// A model that prefers no batching never gets two requests in one call.
func TestNoBatchingModelIsNotMerged(t *testing.T) {
	m := &echoModel{fixed: 200 * time.Microsecond, noBatch: true}
	e := newEngine(t, Config{MaxBatchSize: 32, Workers: 1})
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Predict(context.Background(), "m", m, texts(fmt.Sprint(c), 3)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, n := range m.batchSizes() {
		if n != 3 {
			t.Fatalf("batch sizes %v: want only single 3-text requests", m.batchSizes())
		}
	}
}

// Under concurrent load single requests are merged into full batches.
func TestBatchesFillUnderLoad(t *testing.T) {
	m := &echoModel{fixed: 2 * time.Millisecond, perText: 10 * time.Microsecond}
	e := newEngine(t, Config{MaxBatchSize: 16, BatchTimeout: 5 * time.Millisecond, Workers: 2})
	var wg sync.WaitGroup
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := e.Predict(context.Background(), "m", m, []string{fmt.Sprint(c, "/", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sizes := m.batchSizes()
	full, total := 0, 0
	for _, n := range sizes {
		total += n
		if n == 16 {
			full++
		}
	}
	if total != 64*20 {
		t.Fatalf("model saw %d texts, want %d", total, 64*20)
	}
	avg := float64(total) / float64(len(sizes))
	t.Logf("%d batches, average %.1f texts, %d full", len(sizes), avg, full)
	if avg < 8 || full < len(sizes)/2 {
		t.Errorf("batches did not fill under load: average %.1f, %d of %d full", avg, full, len(sizes))
	}
}

// A lone request never pays the batch timeout: neither on a fresh engine nor
// after a burst has taught the batcher that the model has a fixed cost.
func TestIdleRequestDoesNotWait(t *testing.T) {
	const timeout = 500 * time.Millisecond
	m := &echoModel{fixed: time.Millisecond, perText: 10 * time.Microsecond}
	e := newEngine(t, Config{MaxBatchSize: 32, BatchTimeout: timeout, Workers: 2})
	single := func(name string) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			if _, err := e.Predict(context.Background(), "m", m, []string{name}); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > timeout/5 {
				t.Errorf("lone request took %s with batch timeout %s", d, timeout)
			}
		})
	}
	single("fresh")
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, _ = e.Predict(context.Background(), "m", m, texts(fmt.Sprint(c, i), 1+c%3))
			}
		}()
	}
	wg.Wait()
	st := e.Stats()[0]
	t.Logf("after burst: fixed %s, per text %s", st.FixedCost, st.TextCost)
	if st.FixedCost < 500*time.Microsecond {
		t.Errorf("fit found fixed cost %s, model's is 1ms", st.FixedCost)
	}
	time.Sleep(300 * time.Millisecond) // the arrival rate decays
	single("after-burst")
}

// The batcher waits on purpose only when the measured costs say it pays.
func TestShouldWait(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name     string
		batching bool
		samples  [][2]int // batch size, duration in µs
		arrivals int      // texts arrived in the last moment
		n        int
		age      time.Duration
		want     bool
	}{
		{"unmeasured model", true, nil, 500, 1, 0, false},
		{"fixed cost, heavy arrivals", true, [][2]int{{1, 1010}, {8, 1080}, {32, 1320}, {4, 1040}}, 500, 1, 0, true},
		{"fixed cost, idle", true, [][2]int{{1, 1010}, {8, 1080}, {32, 1320}, {4, 1040}}, 1, 1, 0, false},
		{"batch full", true, [][2]int{{1, 1010}, {8, 1080}, {32, 1320}}, 500, 32, 0, false},
		{"timeout passed", true, [][2]int{{1, 1010}, {8, 1080}, {32, 1320}}, 500, 1, 10 * time.Millisecond, false},
		{"per-text cost only", true, [][2]int{{1, 100}, {8, 800}, {32, 3200}}, 500, 1, 0, false},
		{"model prefers no batching", false, [][2]int{{1, 1010}, {8, 1080}, {32, 1320}}, 500, 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := New(Config{MaxBatchSize: 32, BatchTimeout: 5 * time.Millisecond, Workers: 2})
			q := newQueue(e, "m", &echoModel{noBatch: !tc.batching})
			for _, s := range tc.samples {
				q.fit.add(s[0], time.Duration(s[1])*time.Microsecond)
			}
			q.rate.add(now, float64(tc.arrivals))
			q.pending = []*request{{ctx: context.Background(), enqueued: now.Add(-tc.age)}}
			got, until := q.shouldWaitLocked(now, tc.n)
			if got != tc.want {
				f, c := q.fit.costs()
				t.Fatalf("shouldWait = %v, want %v (fixed %.6f s, per text %.6f s, rate %.0f/s)", got, tc.want, f, c, q.rate.at(now))
			}
			if got && until.After(now.Add(5*time.Millisecond)) {
				t.Errorf("waits until %s, past the batch timeout", until.Sub(now))
			}
		})
	}
}

func TestCostFit(t *testing.T) {
	var f costFit
	for i := range 200 {
		n := 1 + i%32
		f.add(n, time.Millisecond+time.Duration(n)*10*time.Microsecond)
	}
	fixed, per := f.costs()
	if fixed < 0.00099 || fixed > 0.00101 || per < 9.9e-6 || per > 10.1e-6 {
		t.Errorf("fit = %.7f s + %.8f s/text, want 0.001 + 0.00001", fixed, per)
	}
}

// holdWorker fills the only worker with a blocked call and returns the
// function that releases it.
func holdWorker(t *testing.T, e *Engine, m *echoModel) (release func(), wait func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := e.Predict(context.Background(), "m", m, []string{"blocker"})
		done <- err
	}()
	<-m.started
	var once sync.Once
	return func() { once.Do(func() { close(m.gate) }) }, func() {
		if err := <-done; err != nil {
			t.Errorf("blocker: %v", err)
		}
	}
}

// A request whose deadline passes while it waits is never executed.
func TestDeadlineWhileQueued(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 10)}
	e := newEngine(t, Config{Workers: 1})
	release, wait := holdWorker(t, e, m)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Predict(ctx, "m", m, []string{"late"})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("timed-out request answered after %s", d)
	}
	if st := e.Stats()[0]; st.Queued != 0 {
		t.Errorf("%d requests still queued after the deadline", st.Queued)
	}
	release()
	wait()
	// Run another request through to be sure the dispatcher went past it.
	if _, err := e.Predict(context.Background(), "m", m, []string{"after"}); err != nil {
		t.Fatal(err)
	}
	if n := m.executed("late"); n != 0 {
		t.Errorf("expired request executed %d times", n)
	}
}

// A cancelled caller's queued work is removed and never executed.
func TestCancelRemovesWork(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 10)}
	e := newEngine(t, Config{Workers: 1})
	release, wait := holdWorker(t, e, m)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := e.Predict(ctx, "m", m, texts("gone", 10))
		res <- err
	}()
	waitFor(t, func() bool { return e.Stats()[0].Queued == 1 })
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st := e.Stats()[0]; st.Queued != 0 || st.QueuedTexts != 0 {
		t.Errorf("cancelled work still queued: %+v", st)
	}
	release()
	wait()
	if _, err := e.Predict(context.Background(), "m", m, []string{"after"}); err != nil {
		t.Fatal(err)
	}
	if n := m.executed("gone/0"); n != 0 {
		t.Errorf("cancelled request executed %d times", n)
	}
}

// A merged batch runs until the latest of its requests' deadlines.
func TestMergedBatchDeadline(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 10)}
	e := newEngine(t, Config{Workers: 1, MaxBatchSize: 8})
	release, wait := holdWorker(t, e, m)
	near, cancel1 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel1()
	far, cancel2 := context.WithTimeout(context.Background(), 9*time.Second)
	defer cancel2()
	farDeadline, _ := far.Deadline()
	var wg sync.WaitGroup
	for _, ctx := range []context.Context{near, far} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Predict(ctx, "m", m, []string{"x"}); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, func() bool { return e.Stats()[0].Queued == 2 })
	release()
	wg.Wait()
	wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sizes) != 2 || m.sizes[1] != 2 {
		t.Fatalf("batch sizes %v, want the two queued requests merged", m.sizes)
	}
	if !m.deadlines[1].Equal(farDeadline) {
		t.Errorf("merged batch deadline %v, want the latest %v", m.deadlines[1], farDeadline)
	}
}

func TestQueueFull(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 10)}
	e := newEngine(t, Config{Workers: 1, MaxQueue: 2})
	release, wait := holdWorker(t, e, m)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Predict(context.Background(), "m", m, []string{fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, func() bool { return e.Stats()[0].Queued == 2 })
	start := time.Now()
	_, err := e.Predict(context.Background(), "m", m, []string{"over"})
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v, want ErrQueueFull", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("refusal took %s, want immediate", d)
	}
	if ra := RetryAfter(err); ra < time.Second {
		t.Errorf("RetryAfter = %s, want at least 1s", ra)
	}
	if st := e.Stats()[0]; st.Rejected != 1 {
		t.Errorf("Rejected = %d, want 1", st.Rejected)
	}
	// Another model's queue is independent.
	other := &echoModel{}
	release()
	if _, err := e.Predict(context.Background(), "other", other, []string{"ok"}); err != nil {
		t.Errorf("other model: %v", err)
	}
	wg.Wait()
	wait()
	if RetryAfter(errors.New("x")) != DefaultRetryAfter {
		t.Error("RetryAfter of a foreign error is not the default")
	}
}

// Close answers everything queued and in flight, and refuses new work.
func TestCloseDrains(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 100)}
	e, err := New(Config{Workers: 1, MaxBatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	release, wait := holdWorker(t, e, m)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := texts(fmt.Sprint("q", i), 3)
			out, err := e.Predict(context.Background(), "m", m, in)
			if err != nil {
				t.Error(err)
				return
			}
			if out[2].Label == in[2] {
				ok.Add(1)
			}
		}()
	}
	waitFor(t, func() bool { return e.Stats()[0].Queued == 10 })
	closed := make(chan error, 1)
	go func() { closed <- e.Close(context.Background()) }()
	waitFor(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := e.Predict(ctx, "m", m, []string{"new"})
		return errors.Is(err, ErrClosed)
	})
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	wait()
	if ok.Load() != 10 {
		t.Errorf("%d of 10 queued requests answered correctly", ok.Load())
	}
}

// When the drain deadline passes, queued requests fail with ErrClosed.
func TestCloseDeadline(t *testing.T) {
	m := &echoModel{gate: make(chan struct{}), started: make(chan int, 100)}
	e, _ := New(Config{Workers: 1})
	release, wait := holdWorker(t, e, m)
	defer func() { release(); wait() }()
	res := make(chan error, 1)
	go func() {
		_, err := e.Predict(context.Background(), "m", m, []string{"stuck"})
		res <- err
	}()
	waitFor(t, func() bool { return e.Stats()[0].Queued == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the drain deadline", err)
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Errorf("queued request got %v, want ErrClosed", err)
	}
}

func TestForget(t *testing.T) {
	e := newEngine(t, Config{})
	a, b := &echoModel{}, &echoModel{}
	if _, err := e.Predict(context.Background(), "m-v1", a, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	e.Forget("m-v1")
	if n := len(e.Stats()); n != 0 {
		t.Errorf("%d queues after Forget, want 0", n)
	}
	if _, err := e.Predict(context.Background(), "m-v1", b, []string{"y"}); err != nil {
		t.Fatal(err)
	}
	if a.executed("y") != 0 || b.executed("y") != 1 {
		t.Error("after Forget the id's new model did not get the request")
	}
	e.Forget("absent") // no-op
}

type panicModel struct{ echoModel }

func (*panicModel) Predict(context.Context, []string) ([]model.Prediction, error) { panic("boom") }

type shortModel struct{ echoModel }

func (*shortModel) Predict(context.Context, []string) ([]model.Prediction, error) {
	return []model.Prediction{{}}, nil
}

func TestModelFailures(t *testing.T) {
	errBad := errors.New("bad input")
	for _, tc := range []struct {
		name string
		m    model.Model
		want error
	}{
		{"error", &echoModel{fail: errBad}, errBad},
		{"panic", &panicModel{}, nil},
		{"wrong count", &shortModel{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Config{MaxBatchSize: 2})
			_, err := e.Predict(context.Background(), "m", tc.m, texts("t", 5))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// Far more load than the model sustains, with a queue of 8: every request
// is answered or refused at once with ErrQueueFull, the answered ones within
// their deadline, and no goroutine outlives the engine.
func TestOverload(t *testing.T) {
	baseline := runtime.NumGoroutine()
	m := &echoModel{fixed: time.Millisecond, perText: 10 * time.Microsecond}
	e, err := New(Config{MaxQueue: 8, MaxBatchSize: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = time.Second
	var ok, full, other atomic.Int64
	var worst atomic.Int64
	stop := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for c := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				start := time.Now()
				_, err := e.Predict(ctx, "m", m, []string{fmt.Sprint(c, "/", i)})
				d := time.Since(start)
				cancel()
				switch {
				case err == nil:
					ok.Add(1)
					for w := worst.Load(); int64(d) > w && !worst.CompareAndSwap(w, int64(d)); w = worst.Load() {
					}
				case errors.Is(err, ErrQueueFull):
					full.Add(1)
					// Immediate refusal is TestQueueFull's; here 100 goroutines
					// share the cores, so so only bound it by the deadline.
					if d > timeout {
						t.Errorf("refusal took %s", d)
					}
					time.Sleep(time.Millisecond)
				default:
					other.Add(1)
					t.Errorf("unexpected error: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("answered %d, refused %d, other %d, slowest answer %s", ok.Load(), full.Load(), other.Load(), time.Duration(worst.Load()))
	if ok.Load() == 0 || full.Load() == 0 {
		t.Errorf("want both answers and refusals under overload")
	}
	if time.Duration(worst.Load()) > timeout {
		t.Errorf("slowest answer %s exceeds the deadline %s", time.Duration(worst.Load()), timeout)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline })
}

// A version reloaded under the same id without Forget gets the new model.
func TestReloadWithoutForget(t *testing.T) {
	e := newEngine(t, Config{})
	old, reloaded := &echoModel{}, &echoModel{}
	if _, err := e.Predict(context.Background(), "m-v1", old, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Predict(context.Background(), "m-v1", reloaded, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if old.executed("b") != 0 || reloaded.executed("b") != 1 {
		t.Error("request ran on the model the id had before")
	}
	if n := len(e.Stats()); n != 1 {
		t.Errorf("%d queues, want 1", n)
	}
}
