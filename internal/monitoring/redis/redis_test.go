package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/monitoring"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open returns a Fleet on url, closed when the test ends.
func open(t testing.TB, url string, opts Options) *Fleet {
	t.Helper()
	opts.URL = url
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// eventually polls cond every 5 ms for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not within 5 s: %s", what)
		}
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6379", "", "redis://[::1"} {
		if _, err := New(Options{URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// TestPendingAcrossReplicas: a prediction remembered by replica A is seen
// and taken by B; A can no longer take it (one feedback per prediction),
// and Forget removes one remembered earlier.
func TestPendingAcrossReplicas(t *testing.T) {
	rs := redistest.Start(t)
	a, b := open(t, rs.URL(), Options{}), open(t, rs.URL(), Options{})
	ctx := context.Background()
	at := time.Now()
	a.Remember("req-1", monitoring.Pending{Model: "spam-v1", Label: "spam\nwith:odd label", At: at})
	var p monitoring.Pending
	eventually(t, "B sees A's prediction", func() bool {
		var ok bool
		var err error
		p, ok, err = b.Peek(ctx, "req-1")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	if p.Model != "spam-v1" || p.Label != "spam\nwith:odd label" || !p.At.Equal(at) {
		t.Fatalf("B read %+v", p)
	}
	if ok, err := b.Claim(ctx, "req-1"); err != nil || !ok {
		t.Fatalf("B's claim: %v %v", ok, err)
	}
	if ok, err := a.Claim(ctx, "req-1"); err != nil || ok {
		t.Fatalf("A claimed a prediction B took: %v %v", ok, err)
	}
	if _, ok, err := a.Peek(ctx, "req-1"); !errors.Is(err, monitoring.ErrTaken) || ok {
		t.Fatalf("taken prediction: %v %v, want ErrTaken", ok, err)
	}

	a.Remember("req-2", monitoring.Pending{Model: "spam-v1", Label: "ham", At: at})
	a.Forget("req-2")
	a.Remember("req-3", monitoring.Pending{Model: "spam-v1", Label: "ham", At: at})
	eventually(t, "req-3 written", func() bool { _, ok, _ := b.Peek(ctx, "req-3"); return ok })
	if _, ok, err := b.Peek(ctx, "req-2"); ok || !errors.Is(err, monitoring.ErrTaken) {
		t.Errorf("a forgotten prediction: %v %v, want ErrTaken", ok, err)
	}
	if ok, err := b.Claim(ctx, "req-2"); ok || err != nil {
		t.Errorf("claimed a forgotten prediction: %v %v", ok, err)
	}
	// The mark Forget leaves cannot be claimed either.
	b.Forget("req-4")
	if ok, err := a.Claim(ctx, "req-4"); ok || err != nil {
		t.Errorf("claimed a never-remembered prediction: %v %v", ok, err)
	}
}

// TestPendingExpires: a prediction older than the pending TTL is no
// longer shared, and its bucket expires a little after the TTL.
func TestPendingExpires(t *testing.T) {
	rs := redistest.Start(t)
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	a := open(t, rs.URL(), Options{PendingTTL: 2 * time.Minute, Now: now})
	a.Remember("r", monitoring.Pending{Model: "m-v1", Label: "x", At: now()})
	eventually(t, "written", func() bool { _, ok, _ := a.Peek(context.Background(), "r"); return ok })
	ttl, err := a.rdb.TTL(context.Background(), fmt.Sprintf("mlserve:fleet:fb:%d", clock.Unix()/60)).Result()
	if err != nil || ttl <= 2*time.Minute || ttl > 4*time.Minute {
		t.Fatalf("bucket TTL %s, %v; want (2m, 4m]", ttl, err)
	}
	mu.Lock()
	clock = clock.Add(2*time.Minute + time.Second)
	mu.Unlock()
	if _, ok, err := a.Peek(context.Background(), "r"); ok || err != nil {
		t.Errorf("a prediction past the TTL: %v %v", ok, err)
	}
}

// TestDecodePending: values not in our shape are no prediction.
func TestDecodePending(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"m-v1\n5\nlabel", true},
		{"m-v1\n5\n", true},
		{"m-v1\n5\na\nb", true},
		{"", false},
		{"m-v1", false},
		{"m-v1\nfive\nx", false},
		{"\n5\nx", false},
	}
	for _, tt := range tests {
		if _, ok := decodePending(tt.in); ok != tt.ok {
			t.Errorf("decodePending(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
}

// TestAddFeedbackAtomic: three replicas add 3×60 feedbacks concurrently;
// the window holds exactly the right count, and a window smaller than the
// total keeps its size.
func TestAddFeedbackAtomic(t *testing.T) {
	rs := redistest.Start(t)
	fleets := []*Fleet{open(t, rs.URL(), Options{}), open(t, rs.URL(), Options{}), open(t, rs.URL(), Options{})}
	ctx := context.Background()
	var wg sync.WaitGroup
	var errs atomic.Int64
	for r, f := range fleets {
		wg.Go(func() {
			for i := range 60 {
				// replica r gets every (r+2)-th one wrong
				if _, err := f.AddFeedback(ctx, "m-v1", i%(r+2) != 0, 1000); err != nil {
					errs.Add(1)
				}
				if _, err := f.AddFeedback(ctx, "m-v2", true, 50); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if errs.Load() > 0 {
		t.Fatalf("%d feedback calls failed", errs.Load())
	}
	wrong := 60/2 + 60/3 + 60/4
	sh, err := fleets[0].Read(ctx, []string{"m-v1", "m-v2"}, monitoring.PartAccuracy|monitoring.PartCounters)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sh.Versions["m-v1"].Accuracy, (monitoring.Accuracy{Correct: 180 - wrong, N: 180}); got != want {
		t.Errorf("m-v1 window %+v, want %+v", got, want)
	}
	if got, want := sh.Versions["m-v2"].Accuracy, (monitoring.Accuracy{Correct: 50, N: 50}); got != want {
		t.Errorf("m-v2 window %+v, want %+v", got, want)
	}
	// The counters keep all of them, beyond the window.
	if v1, v2 := sh.Versions["m-v1"], sh.Versions["m-v2"]; v1.Feedback != 180 || v1.Correct != int64(180-wrong) || v2.Feedback != 180 || v2.Correct != 180 {
		t.Errorf("feedback counters m-v1 %d/%d m-v2 %d/%d", v1.Correct, v1.Feedback, v2.Correct, v2.Feedback)
	}
	acc, err := fleets[1].AddFeedback(ctx, "m-v2", false, 50)
	if err != nil || acc != (monitoring.Accuracy{Correct: 49, N: 50}) {
		t.Errorf("after one wrong: %+v %v", acc, err)
	}
}

// TestAddAndRead: counters and drift bins from two replicas are summed;
// buckets older than the window are left out; both replicas count.
func TestAddAndRead(t *testing.T) {
	rs := redistest.Start(t)
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	a := open(t, rs.URL(), Options{Window: 3, Now: now})
	b := open(t, rs.URL(), Options{Window: 3, Now: now})
	ctx := context.Background()
	add := func(f *Fleet, replica string, d monitoring.Delta) {
		t.Helper()
		if err := f.Add(ctx, replica, []monitoring.Delta{d}); err != nil {
			t.Fatal(err)
		}
	}
	add(a, "a", monitoring.Delta{ID: "m-v1", Requests: 5, Texts: 7, Errors: 1,
		Predictions: map[string]int64{"spam": 4, "ham": 3}, Bins: map[string]int64{"label:spam": 4, "confidence:9": 7}})
	mu.Lock()
	clock = clock.Add(2 * time.Minute) // still inside the 3-minute window
	mu.Unlock()
	add(b, "b", monitoring.Delta{ID: "m-v1", Requests: 2, Texts: 2,
		Predictions: map[string]int64{"spam": 2}, Bins: map[string]int64{"label:spam": 2, "label:ham": 0, "confidence:1": 2}})
	add(a, "a", monitoring.Delta{ID: "m-v2"}) // alive: reported in the last minute
	sh, err := b.Read(ctx, []string{"m-v1", "none-v1"}, monitoring.PartAll)
	if err != nil {
		t.Fatal(err)
	}
	v := sh.Versions["m-v1"]
	if v.Requests != 7 || v.Texts != 9 || v.Errors != 1 || v.Predictions["spam"] != 6 || v.Predictions["ham"] != 3 {
		t.Errorf("counters %+v", v)
	}
	if v.Bins["label:spam"] != 6 || v.Bins["confidence:9"] != 7 || v.Bins["confidence:1"] != 2 || len(v.Bins) != 3 {
		t.Errorf("bins %v", v.Bins)
	}
	if sh.Replicas != 2 {
		t.Errorf("replicas %d, want 2", sh.Replicas)
	}
	if n := sh.Versions["none-v1"]; n.Requests != 0 || n.Bins != nil {
		t.Errorf("unknown version %+v", n)
	}
	mu.Lock()
	clock = clock.Add(90 * time.Second) // a's first minute has left the window
	mu.Unlock()
	add(b, "b", monitoring.Delta{ID: "m-v2"}) // b alive, a silent for 90 s
	sh, err = a.Read(ctx, []string{"m-v1"}, monitoring.PartBins)
	if err != nil {
		t.Fatal(err)
	}
	if v := sh.Versions["m-v1"]; v.Bins["label:spam"] != 2 || v.Bins["confidence:9"] != 0 || v.Requests != 0 {
		t.Errorf("after the window moved: %+v", v)
	}
	if sh.Replicas != 1 {
		t.Errorf("replicas alive %d, want 1", sh.Replicas)
	}
	ttl, err := a.rdb.TTL(ctx, fmt.Sprintf("mlserve:fleet:drift:m-v1:%d", clock.Unix()/60-1)).Result()
	if err != nil || ttl <= 0 || ttl > 4*time.Minute {
		t.Errorf("bucket TTL %s %v, want (0, window+1 min]", ttl, err)
	}
}

// TestRedisKilled: with Redis killed, calls fail fast with ErrDown and
// predictions are dropped, never queued without bound; restarted, the
// fleet is back up by itself.
func TestRedisKilled(t *testing.T) {
	rs := redistest.Start(t)
	f := open(t, rs.URL(), Options{MaxBackoff: 200 * time.Millisecond})
	ctx := context.Background()
	if up, _ := f.State(); !up {
		t.Fatal("down at start")
	}
	rs.Kill()
	if _, _, err := f.Peek(ctx, "x"); err == nil {
		t.Fatal("Peek with Redis killed did not fail")
	}
	up, detail := f.State()
	if up || detail == "" {
		t.Fatalf("State %v %q after a failure", up, detail)
	}
	t0 := time.Now()
	for i := range 1000 {
		f.Remember(fmt.Sprint(i), monitoring.Pending{Model: "m-v1", Label: "x", At: t0})
		if _, err := f.AddFeedback(ctx, "m-v1", true, 10); !errors.Is(err, ErrDown) {
			t.Fatalf("AddFeedback while down: %v", err)
		}
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("1000 calls while down took %s: they must not touch the network", d)
	}
	if f.Dropped() < 1000 {
		t.Errorf("dropped %d, want ≥ 1000", f.Dropped())
	}
	if _, err := f.Read(ctx, []string{"m-v1"}, monitoring.PartAll); !errors.Is(err, ErrDown) {
		t.Errorf("Read while down: %v", err)
	}
	rs.Restart()
	eventually(t, "up again after restart", func() bool { up, _ := f.State(); return up })
	if _, err := f.AddFeedback(ctx, "m-v1", true, 10); err != nil {
		t.Fatal(err)
	}
}

// TestQueueBounded: beyond Queue, predictions are dropped, not queued.
func TestQueueBounded(t *testing.T) {
	f := &Fleet{opts: Options{Queue: 3}, wake: make(chan struct{}, 1)}
	for i := range 5 {
		f.Remember(fmt.Sprint(i), monitoring.Pending{Model: "m-v1"})
	}
	if len(f.queue) != 3 || f.Dropped() != 2 {
		t.Errorf("queue %d dropped %d, want 3 and 2", len(f.queue), f.Dropped())
	}
}

// FuzzDecodePending: any value read back from Redis decodes or is
// refused without panicking, and what the writer writes decodes to what
// was remembered (a label may hold anything, newlines included).
func FuzzDecodePending(f *testing.F) {
	f.Add("spam-v1", int64(1_700_000_000_000_000_000), "spam")
	f.Add("m-v2", int64(-5), "a\nb\n")
	f.Add("", int64(0), "")
	f.Fuzz(func(t *testing.T, id string, at int64, label string) {
		_, _ = decodePending(id + "\n" + label) // arbitrary bytes: no panic
		if id == "" || strings.Contains(id, "\n") {
			return // not a model id
		}
		p, ok := decodePending(op{model: id, label: label, at: at}.value())
		if !ok || p.Model != id || p.Label != label || p.At.UnixNano() != at {
			t.Fatalf("round trip of (%q, %d, %q): %+v %v", id, at, label, p, ok)
		}
	})
}
