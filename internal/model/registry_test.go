package model

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newReg(t *testing.T, root string, l *fakeLoader, opts Options) *Registry {
	t.Helper()
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(repo, map[string]Loader{"sklearn": l}, opts, slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func predictLabel(t *testing.T, r *Registry, ref string) (string, string) {
	t.Helper()
	h, err := r.Resolve(ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	defer h.Release()
	p, err := h.Model.Predict(context.Background(), []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID, p[0].Label
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=s1", "")
	putVersion(t, root, "sentiment", "v2", "label=s2", "")
	putVersion(t, root, "sentiment", "v3", "label=s3", "")
	putVersion(t, root, "spam", "v1", "label=p1", "")
	putVersion(t, root, "broken", "v1", "fail", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment-v2", KeepLoaded: 2})
	tests := []struct {
		ref, want string
		err       error
	}{
		{"", "sentiment-v2", nil}, // configured default id pins the name's initial default
		{"sentiment", "sentiment-v2", nil},
		{"v3", "sentiment-v3", nil},
		{"sentiment-v3", "sentiment-v3", nil},
		{"spam", "spam-v1", nil},
		{"spam-v1", "spam-v1", nil},
		{"sentiment-v1", "", ErrNotLoaded}, // policy keeps default v2 + newest v3
		{"v1", "", ErrNotLoaded},
		{"v9", "", ErrNotFound},
		{"nosuch", "", ErrNotFound},
		{"spam-v7", "", ErrNotFound},
		{"broken", "", ErrNotFound},
		{"broken-v1", "", ErrNotLoaded},
		{"../../etc", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			h, err := r.Resolve(tt.ref)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			if h.ID != tt.want {
				t.Fatalf("resolved %s, want %s", h.ID, tt.want)
			}
			p, err := h.Model.Predict(context.Background(), []string{"x"})
			if err != nil || !strings.HasPrefix(p[0].Label, "s") && !strings.HasPrefix(p[0].Label, "p") {
				t.Fatalf("predict: %v %v", p, err)
			}
		})
	}
	if !r.Ready() {
		t.Error("not ready with the default loaded")
	}
	st := map[string]Status{}
	for _, s := range r.List() {
		st[s.ID] = s
	}
	if st["sentiment-v2"].State != StateReady || !st["sentiment-v2"].Default || st["sentiment-v3"].Default {
		t.Errorf("list: %+v", st)
	}
	if st["sentiment-v1"].State != StateUnloaded || st["broken-v1"].State != StateFailed || st["broken-v1"].Error == "" {
		t.Errorf("list: v1 %+v broken %+v", st["sentiment-v1"], st["broken-v1"])
	}
	if st["sentiment-v2"].Info == nil || st["sentiment-v2"].Requests == 0 {
		t.Errorf("status lacks info or counters: %+v", st["sentiment-v2"])
	}
	if _, err := r.Get("nosuch-v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: %v", err)
	}
}

func TestReadyWithoutDefault(t *testing.T) {
	root := t.TempDir()
	r := newReg(t, root, newFakeLoader(), Options{DefaultModel: "sentiment"})
	if r.Ready() {
		t.Fatal("ready with an empty repository")
	}
	if _, err := r.Resolve(""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve(\"\") = %v", err)
	}
	if _, err := r.Install(context.Background(), InstallRequest{Name: "sentiment", Filename: "m.joblib", Artifact: strings.NewReader("label=a")}); err != nil {
		t.Fatal(err)
	}
	if !r.Ready() {
		t.Fatal("not ready after install")
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("resolved %s", id)
	}
}

func TestInstallAndSwap(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment", KeepLoaded: 2})
	ctx := context.Background()

	// Not made default, but the name has no chosen default: newest serves.
	s, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=two"),
		Manifest: []byte("warmup: [hello]\nfuture_key: 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "sentiment-v2" || !s.Default || len(s.Warnings) != 1 {
		t.Fatalf("install status %+v", s)
	}
	if _, lab := predictLabel(t, r, ""); !strings.HasPrefix(lab, "two|") {
		t.Fatalf("after install: %s", lab)
	}
	// Pin v1 as default: v2 stays loaded (keep 2) but no longer the default.
	if err := r.SetDefault(ctx, "sentiment", "sentiment-v1"); err != nil {
		t.Fatal(err)
	}
	if id, _ := predictLabel(t, r, "sentiment"); id != "sentiment-v1" {
		t.Fatalf("after SetDefault: %s", id)
	}
	// Installing v3 without MakeDefault keeps v1 the default, evicts v2.
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=three")}); err != nil {
		t.Fatal(err)
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("pinned default moved to %s", id)
	}
	if _, err := r.Resolve("v2"); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("v2 after policy: %v", err)
	}
	// MakeDefault switches.
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Version: "v7", Filename: "model.joblib", Artifact: strings.NewReader("label=seven"), MakeDefault: true}); err != nil {
		t.Fatal(err)
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v7" {
		t.Fatalf("after MakeDefault: %s", id)
	}
	// Existing version: ErrExists; bad names: ErrInvalidName.
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Version: "v7", Filename: "model.joblib", Artifact: strings.NewReader("label=x")}); !errors.Is(err, ErrExists) {
		t.Fatalf("reinstall: %v", err)
	}
	if _, err := r.Install(ctx, InstallRequest{Name: "../x", Filename: "model.joblib", Artifact: strings.NewReader("label=x")}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
	// SetDefault of an evicted version loads it again.
	if err := r.SetDefault(ctx, "sentiment", "v2"); err != nil {
		t.Fatal(err)
	}
	if id, lab := predictLabel(t, r, ""); id != "sentiment-v2" || !strings.HasPrefix(lab, "two|") {
		t.Fatalf("after SetDefault(v2): %s %s", id, lab)
	}
	if err := r.SetDefault(ctx, "sentiment", "v99"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetDefault missing: %v", err)
	}
	if l.misuses.Load() != 0 {
		t.Fatalf("%d uses of closed models", l.misuses.Load())
	}
}

func TestFailedLoadKeepsServing(t *testing.T) {
	tests := []struct{ name, artifact, manifest, framework string }{
		{"loader error", "fail", "", "model.joblib"},
		{"warm-up error", "failwarm", "", "model.joblib"},
		{"bad manifest", "label=x", "accuracy: [", "model.joblib"},
		{"no loader", "label=x", "", "model.onnx"},
		{"unknown preprocessing step", "label=x", "preprocessing: [shout]", "model.joblib"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			putVersion(t, root, "sentiment", "v1", "label=one", "")
			l := newFakeLoader()
			r := newReg(t, root, l, Options{DefaultModel: "sentiment"})
			var man []byte
			if tt.manifest != "" {
				man = []byte(tt.manifest)
			}
			_, err := r.Install(context.Background(), InstallRequest{Name: "sentiment", Filename: tt.framework,
				Artifact: strings.NewReader(tt.artifact), Manifest: man, MakeDefault: true})
			if err == nil {
				t.Fatal("install succeeded")
			}
			if id, lab := predictLabel(t, r, ""); id != "sentiment-v1" || !strings.HasPrefix(lab, "one|") {
				t.Fatalf("serving %s %s after a failed load", id, lab)
			}
			if _, err := os.Stat(filepath.Join(root, "sentiment", "v2")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed version left in the repository: %v", err)
			}
			for _, m := range l.all() {
				if m.label == "" && !m.closed.Load() {
					t.Errorf("model of a failed warm-up not closed")
				}
			}
			// The same version can be installed once fixed.
			if _, err := r.Install(context.Background(), InstallRequest{Name: "sentiment", Version: "v2", Filename: "model.joblib",
				Artifact: strings.NewReader("label=fixed"), MakeDefault: true}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRestartRestoresState(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	putVersion(t, root, "spam", "v1", "label=p1", "")
	putVersion(t, root, "spam", "v2", "label=p2", "")
	ctx := context.Background()
	{
		r := newReg(t, root, newFakeLoader(), Options{DefaultModel: "sentiment-v1", KeepLoaded: 3})
		if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=two")}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=three"), MakeDefault: true}); err != nil {
			t.Fatal(err)
		}
		if err := r.SetDefault(ctx, "spam", "v1"); err != nil {
			t.Fatal(err)
		}
		if err := r.Unload(ctx, "sentiment-v3"); !errors.Is(err, ErrInUse) {
			t.Fatalf("unloading the default: %v", err)
		}
		if err := r.Unload(ctx, "sentiment-v1"); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment-v1", KeepLoaded: 3})
	if id, lab := predictLabel(t, r, ""); id != "sentiment-v3" || !strings.HasPrefix(lab, "three|") {
		t.Fatalf("after restart default = %s %s", id, lab)
	}
	if id, _ := predictLabel(t, r, "spam"); id != "spam-v1" {
		t.Fatalf("after restart spam default = %s", id)
	}
	if h, err := r.Resolve("sentiment-v2"); err != nil {
		t.Fatalf("v2 not back: %v", err)
	} else {
		h.Release()
	}
	if _, err := r.Resolve("sentiment-v1"); !errors.Is(err, ErrNotLoaded) && !errors.Is(err, ErrNotFound) {
		t.Fatalf("admin-unloaded v1 came back: %v", err)
	}
}

func TestPolicyUnloadsAfterDrain(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment", KeepLoaded: 1, DrainTimeout: time.Minute})
	ctx := context.Background()
	h, err := r.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=two"), MakeDefault: true}); err != nil {
		t.Fatal(err)
	}
	// v1 left the routing table at once ...
	if _, err := r.Resolve("sentiment-v1"); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("v1 still routable: %v", err)
	}
	s, _ := r.Get("sentiment-v1")
	if s.State != StateDraining || s.InFlight != 1 {
		t.Fatalf("v1 status while held: %+v", s)
	}
	// ... but the in-flight request finishes on it.
	if p, err := h.Model.Predict(ctx, []string{"x"}); err != nil || !strings.HasPrefix(p[0].Label, "one|") {
		t.Fatalf("in-flight request on v1: %v %v", p, err)
	}
	v1 := l.all()[0]
	if v1.closed.Load() {
		t.Fatal("v1 closed while a request holds it")
	}
	h.Release()
	h.Release() // idempotent
	if !v1.closed.Load() {
		t.Fatal("v1 not closed after its last request")
	}
	if s, _ := r.Get("sentiment-v1"); s.State != StateUnloaded {
		t.Fatalf("v1 state after drain: %s", s.State)
	}
	if l.misuses.Load() != 0 {
		t.Fatalf("%d misuses", l.misuses.Load())
	}
}

func TestDrainTimeout(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "m", "v1", "label=one", "")
	putVersion(t, root, "m", "v2", "label=two", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "m", KeepLoaded: 2, DrainTimeout: 50 * time.Millisecond})
	h, err := r.Resolve("m-v1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if err := r.Unload(context.Background(), "m-v1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s, _ := r.Get("m-v1"); s.State == StateUnloaded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("drain timeout did not close the version")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConcurrentSwaps resolves and predicts from many goroutines while
// versions are installed, made default and unloaded: no request may see a
// closed model or fail, and each prediction comes from the version its
// handle names.
func TestConcurrentSwaps(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=l1", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment", KeepLoaded: 2})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var served, failed atomic.Int64
	var firstErr atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				h, err := r.Resolve("")
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				p, err := h.Model.Predict(ctx, []string{"x"})
				if err != nil || !strings.HasPrefix(p[0].Label, "l"+strings.TrimPrefix(h.Version, "v")+"|") {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("%s: %v %v", h.ID, p, err))
				}
				h.Release()
				served.Add(1)
			}
		}()
	}
	for i := 2; i <= 21; i++ {
		v := fmt.Sprintf("v%d", i)
		if _, err := r.Install(context.Background(), InstallRequest{Name: "sentiment", Version: v, Filename: "model.joblib",
			Artifact: strings.NewReader(fmt.Sprintf("label=l%d", i)), MakeDefault: true}); err != nil {
			t.Fatal(err)
		}
		if i > 2 {
			if err := r.Unload(context.Background(), fmt.Sprintf("sentiment-v%d", i-1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d failed requests, first: %v", failed.Load(), firstErr.Load())
	}
	if served.Load() == 0 {
		t.Fatal("no requests served")
	}
	if l.misuses.Load() != 0 {
		t.Fatalf("%d uses of closed models", l.misuses.Load())
	}
	// Every version but the last two is closed once drained.
	for _, m := range l.all() {
		if m.id != "sentiment-v21" && m.id != "sentiment-v20" && !m.closed.Load() {
			t.Errorf("%s still open", m.id)
		}
	}
	t.Logf("%d requests served during 20 swaps", served.Load())
}

func TestPollingPickup(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment"})
	ctx := context.Background()
	// A folder being copied in: first sighting is not loaded.
	putVersion(t, root, "sentiment", "v2", "label=tw", "")
	if err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("half-seen folder loaded: %s", id)
	}
	// Still changing: wait again.
	os.WriteFile(filepath.Join(root, "sentiment", "v2", "model.joblib"), []byte("label=two"), 0o644)
	r.Poll(ctx)
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("changing folder loaded: %s", id)
	}
	// Unchanged since the last poll: loaded and, as the newest without a pinned default, served.
	r.Poll(ctx)
	if id, lab := predictLabel(t, r, ""); id != "sentiment-v2" || !strings.HasPrefix(lab, "two|") {
		t.Fatalf("after stable polls: %s %s", id, lab)
	}
	// A broken folder fails once and is not retried until its files change.
	putVersion(t, root, "sentiment", "v3", "fail", "")
	r.Poll(ctx)
	r.Poll(ctx)
	loads := l.loads.Load()
	r.Poll(ctx)
	r.Poll(ctx)
	if l.loads.Load() != loads {
		t.Fatalf("unchanged failed folder retried")
	}
	if s, _ := r.Get("sentiment-v3"); s.State != StateFailed {
		t.Fatalf("v3 state %s", s.State)
	}
	time.Sleep(10 * time.Millisecond) // a distinct mtime
	os.WriteFile(filepath.Join(root, "sentiment", "v3", "model.joblib"), []byte("label=three!"), 0o644)
	r.Poll(ctx)
	r.Poll(ctx)
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v3" {
		t.Fatalf("fixed folder not picked up: %s", id)
	}
}

func TestPollerRuns(t *testing.T) {
	root := t.TempDir()
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "spam", PollInterval: 10 * time.Millisecond})
	putVersion(t, root, "spam", "v1", "label=p", "")
	deadline := time.Now().Add(5 * time.Second)
	for !r.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("poller never picked up spam/v1")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCleanerApplied(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "m", "v1", "label=a", "preprocessing:\n  - lowercase\n  - truncate: {max_chars: 3}\n")
	r := newReg(t, root, newFakeLoader(), Options{DefaultModel: "m"})
	if _, lab := predictLabel2(t, r, "", "HELLO"); lab != "a|m-v1|hel" {
		t.Fatalf("label %q: text not cleaned", lab)
	}
	if s, _ := r.Get("m-v1"); strings.Join(s.Manifest.Steps, ",") != "lowercase,truncate" {
		t.Fatalf("steps %v", s.Manifest.Steps)
	}
}

func predictLabel2(t *testing.T, r *Registry, ref, text string) (string, string) {
	t.Helper()
	h, err := r.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	p, err := h.Model.Predict(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID, p[0].Label
}

func BenchmarkResolve(b *testing.B) {
	root := b.TempDir()
	putVersion(&testing.T{}, root, "m", "v1", "label=a", "")
	repo, _ := OpenRepository(root)
	r := NewRegistry(repo, map[string]Loader{"sklearn": newFakeLoader()}, Options{DefaultModel: "m"}, slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := r.Resolve("m")
			if err != nil {
				b.Fatal(err)
			}
			h.Release()
		}
	})
}

func TestCloseBoundedByDrainTimeout(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "m", "v1", "label=a", "")
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "m", DrainTimeout: 50 * time.Millisecond})
	h, err := r.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Close(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a request in flight = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %s", d)
	}
	h.Release()
	if !l.all()[0].closed.Load() {
		t.Fatal("model not closed")
	}
	if _, err := r.Resolve(""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve after Close = %v", err)
	}
	if err := r.Unload(context.Background(), "m-v9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Unload unknown = %v", err)
	}
}

func TestNoDefaultConfigured(t *testing.T) {
	root := t.TempDir()
	r := newReg(t, root, newFakeLoader(), Options{})
	if r.Ready() {
		t.Fatal("ready with an empty repository")
	}
	install := func(name string) {
		t.Helper()
		if _, err := r.Install(context.Background(), InstallRequest{Name: name, Filename: "m.joblib", Artifact: strings.NewReader("label=a")}); err != nil {
			t.Fatal(err)
		}
	}
	install("spam")
	if !r.Ready() {
		t.Fatal("not ready with one model loaded")
	}
	if id, _ := predictLabel(t, r, ""); id != "spam-v1" {
		t.Fatalf("a lone model name should serve requests that name none; resolved %s", id)
	}
	install("sentiment")
	if _, err := r.Resolve(""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("two names and no default_model: Resolve(\"\") = %v, want ErrNotFound", err)
	}
	if !r.Ready() {
		t.Fatal("not ready with two models loaded")
	}
}
