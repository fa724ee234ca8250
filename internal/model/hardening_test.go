package model

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// funcLoader is a Loader made of a function, for loads that block, panic
// or record what they see.
type funcLoader func(ctx context.Context, dir string, m *Manifest) (Model, error)

func (f funcLoader) Load(ctx context.Context, dir string, m *Manifest) (Model, error) {
	return f(ctx, dir, m)
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openReg(t *testing.T, root string, loaders map[string]Loader, opts Options, log *slog.Logger) *Registry {
	t.Helper()
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := NewRegistry(repo, loaders, opts, log)
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// tmpEntries lists the temporary folders left in root.
func tmpEntries(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TempPrefix) || strings.HasPrefix(e.Name(), removingPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestKilledUploadNotLoaded simulates a process killed while an upload
// loaded: its staged folder (a valid model) is still in models_dir. The
// next start removes it, does not serve it, and the version policy
// (keep_loaded) is unaffected.
func TestKilledUploadNotLoaded(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	putVersion(t, root, "sentiment", "v2", "label=two", "")
	staged := filepath.Join(root, ".tmp-sentiment-v3-123456", "sentiment", "v3")
	if err := os.MkdirAll(staged, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staged, "model.joblib"), []byte("label=three"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".tmp-state-99"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newFakeLoader()
	r := newReg(t, root, l, Options{DefaultModel: "sentiment", KeepLoaded: 2})
	if left := tmpEntries(t, root); len(left) != 0 {
		t.Fatalf("stale temporary entries kept: %v", left)
	}
	if _, err := r.Resolve("sentiment-v3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("killed upload: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"sentiment-v1", "sentiment-v2"} {
		if got, _ := predictLabel(t, r, id); got != id {
			t.Fatalf("%s: got %s", id, got)
		}
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v2" {
		t.Fatalf("default %s", id)
	}
	if n := l.loads.Load(); n != 2 {
		t.Fatalf("%d loads, want 2 (v1, v2)", n)
	}
}

// TestInstallIsTransactional: an upload loads from a staged folder that no
// scan sees, moves into <name>/<version>/ only once it serves, and reports
// its final folder; a failed upload of a new name leaves nothing: no
// version, no name folder, no temporary folder.
func TestInstallIsTransactional(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	fake := newFakeLoader()
	var seenDir string
	l := funcLoader(func(ctx context.Context, dir string, m *Manifest) (Model, error) {
		if filepath.Base(filepath.Dir(dir)) == "fresh" {
			seenDir = dir
			if _, err := os.Stat(filepath.Join(root, "fresh", "v1")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the version is in place before it loaded: %v", err)
			}
		}
		return fake.Load(ctx, dir, m)
	})
	r := openReg(t, root, map[string]Loader{"sklearn": l}, Options{DefaultModel: "sentiment"}, nil)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, err := r.Install(ctx, InstallRequest{Name: "broken", Filename: "model.joblib", Artifact: strings.NewReader("fail")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("failed install: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "broken")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed upload left its name folder: %v", err)
	}
	if left := tmpEntries(t, root); len(left) != 0 {
		t.Fatalf("a failed upload left %v", left)
	}
	if _, err := r.Resolve("broken"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("failed upload resolves: %v", err)
	}

	s, err := r.Install(ctx, InstallRequest{Name: "fresh", Filename: "model.joblib", Artifact: strings.NewReader("label=f")})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != StateReady || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(seenDir))), TempPrefix) {
		t.Fatalf("status %+v, loaded from %s (want a %s folder)", s, seenDir, TempPrefix)
	}
	r.mu.Lock()
	dir := r.entries["fresh-v1"].ver.Dir
	r.mu.Unlock()
	if dir != filepath.Join(root, "fresh", "v1") {
		t.Fatalf("version reports folder %s, want its final one", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.joblib")); err != nil {
		t.Fatal(err)
	}
	if left := tmpEntries(t, root); len(left) != 0 {
		t.Fatalf("a committed upload left %v", left)
	}
	// A poll does not see it as a new version to load again.
	before := fake.loads.Load()
	for range 2 {
		if err := r.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if fake.loads.Load() != before {
		t.Fatal("poll reloaded an installed version")
	}
}

// TestLoaderPanicIsAFailedLoad: the recover at the registry's load boundary
// turns a loader's panic into an ErrInvalid load failure; the server keeps
// serving its other versions.
func TestLoaderPanicIsAFailedLoad(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	fake := newFakeLoader()
	l := funcLoader(func(ctx context.Context, dir string, m *Manifest) (Model, error) {
		if b, _ := os.ReadFile(filepath.Join(dir, m.Artifact)); string(b) == "panic" {
			var nilSlice []int
			nilSlice[len(b)]++ // a real runtime panic (index out of range)
		}
		return fake.Load(ctx, dir, m)
	})
	var logs lockedBuffer
	r := openReg(t, root, map[string]Loader{"sklearn": l}, Options{DefaultModel: "sentiment"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := r.Install(context.Background(), InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("panic"), MakeDefault: true})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "loader failed unexpectedly") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), "loader panicked") || !strings.Contains(logs.String(), "goroutine") {
		t.Fatalf("panic not logged with its stack: %s", logs.String())
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("serving %s", id)
	}
	if _, err := os.Stat(filepath.Join(root, "sentiment", "v2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("panicked upload kept: %v", err)
	}
}

// TestLoadTimeout: a load that outlives Options.LoadTimeout fails in time,
// even when the loader ignores its context; the late model is closed.
func TestLoadTimeout(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	fake := newFakeLoader()
	release := make(chan struct{})
	l := funcLoader(func(ctx context.Context, dir string, m *Manifest) (Model, error) {
		model, err := fake.Load(ctx, dir, m)
		if b, _ := os.ReadFile(filepath.Join(dir, m.Artifact)); string(b) == "label=stuck" {
			<-release // ignores ctx, as a CPU-bound reader would
		}
		return model, err
	})
	r := openReg(t, root, map[string]Loader{"sklearn": l}, Options{DefaultModel: "sentiment", LoadTimeout: 100 * time.Millisecond}, nil)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := r.Install(context.Background(), InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=stuck"), MakeDefault: true})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "limits.load_timeout") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timed out after %s", d)
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for {
		all := fake.all()
		if len(all) == 2 && all[1].closed.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned load's model was not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("serving %s", id)
	}
}

// gate is a loader whose artifacts "label=slow..." wait until open.
type gate struct {
	fake    *fakeLoader
	open    chan struct{}
	waiting chan string
}

func newGate() *gate {
	return &gate{fake: newFakeLoader(), open: make(chan struct{}), waiting: make(chan string, 8)}
}

func (g *gate) Load(ctx context.Context, dir string, m *Manifest) (Model, error) {
	if b, _ := os.ReadFile(filepath.Join(dir, m.Artifact)); strings.HasPrefix(string(b), "label=slow") {
		g.waiting <- filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir)
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.fake.Load(ctx, dir, m)
}

// TestNotReadyWhileLoading: from before Start until a version is warm,
// requests for what the repository holds get ErrNotReady (503), never
// ErrNotFound; what it does not hold is ErrNotFound. A slow load holds no
// lock that List, Get, SetDefault, Install or Resolve wait on.
func TestNotReadyWhileLoading(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "afast", "v1", "label=a1", "")
	putVersion(t, root, "afast", "v2", "label=a2", "")
	putVersion(t, root, "sentiment", "v1", "label=slow1", "")
	g := newGate()
	r := openReg(t, root, map[string]Loader{"sklearn": g}, Options{DefaultModel: "sentiment"}, nil)

	for _, ref := range []string{"", "sentiment", "sentiment-v1", "v1", "nosuch-v1"} {
		if _, err := r.Resolve(ref); !errors.Is(err, ErrNotReady) || errors.Is(err, ErrNotFound) {
			t.Fatalf("before Start, Resolve(%q) = %v, want ErrNotReady", ref, err)
		}
	}
	if _, err := r.Get("sentiment-v1"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("before Start, Get = %v", err)
	}
	started := make(chan error, 1)
	go func() { started <- r.Start(context.Background()) }()
	select {
	case id := <-g.waiting:
		if id != "sentiment-v1" {
			t.Fatalf("waiting on %s", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slow load never started")
	}
	tests := []struct {
		ref  string
		want error
	}{
		{"", ErrNotReady},
		{"sentiment", ErrNotReady},
		{"sentiment-v1", ErrNotReady},
		{"v1", ErrNotReady},
		{"sentiment-v9", ErrNotFound},
		{"nosuch", ErrNotFound},
		{"afast", nil},
		{"afast-v1", nil},
	}
	for _, tt := range tests {
		h, err := r.Resolve(tt.ref)
		if tt.want == nil {
			if err != nil {
				t.Fatalf("Resolve(%q) during a slow load: %v", tt.ref, err)
			}
			h.Release()
			continue
		}
		if !errors.Is(err, tt.want) || (tt.want == ErrNotReady && errors.Is(err, ErrNotFound)) {
			t.Fatalf("Resolve(%q) = %v, want %v", tt.ref, err, tt.want)
		}
	}
	if r.Ready() {
		t.Fatal("ready while the default model loads")
	}
	// Admin calls return promptly while the load blocks.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s, err := r.Get("sentiment-v1"); err != nil || s.State != StateLoading {
			t.Errorf("Get: %+v %v", s, err)
		}
		if len(r.List()) != 3 {
			t.Errorf("List: %v", r.List())
		}
		if err := r.SetDefault(context.Background(), "afast", "v1"); err != nil {
			t.Errorf("SetDefault: %v", err)
		}
		if _, err := r.Install(context.Background(), InstallRequest{Name: "afast", Filename: "model.joblib", Artifact: strings.NewReader("label=a3")}); err != nil {
			t.Errorf("Install: %v", err)
		}
		if err := r.SetDefault(context.Background(), "sentiment", "v1"); !errors.Is(err, ErrNotReady) {
			t.Errorf("SetDefault of a loading version: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("admin calls blocked by a slow load")
	}
	close(g.open)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" || !r.Ready() {
		t.Fatalf("after the load: %s ready=%v", id, r.Ready())
	}
}

// TestCloseCancelsLoad: Close cancels a load in flight; the version never
// serves and Close returns.
func TestCloseCancelsLoad(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=slow", "")
	g := newGate()
	repo, _ := OpenRepository(root)
	r := NewRegistry(repo, map[string]Loader{"sklearn": g}, Options{}, slog.New(slog.DiscardHandler))
	started := make(chan error, 1)
	go func() { started <- r.Start(context.Background()) }()
	<-g.waiting
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(2 * time.Second):
		t.Fatal("Start did not return after Close")
	}
	if _, err := r.Resolve("sentiment-v1"); err == nil {
		t.Fatal("served after Close")
	}
}

// TestBrokenFolderNotReloaded is the crash-loop test at the registry's
// level: a version whose load fails is logged once and not loaded again on
// later polls until its files change; a restart tries it once and the
// other versions serve throughout.
func TestBrokenFolderNotReloaded(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fake := newFakeLoader()
	r := openReg(t, root, map[string]Loader{"sklearn": fake}, Options{DefaultModel: "sentiment", KeepLoaded: 3}, log)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	putVersion(t, root, "sentiment", "v2", "fail", "")
	// a second problem: a folder that is a link
	if err := os.Symlink(filepath.Join(root, "sentiment"), filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 6 {
		if err := r.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
			t.Fatalf("serving %s", id)
		}
	}
	if n := fake.loads.Load(); n != 2 {
		t.Fatalf("%d loads over 6 polls, want 2 (v1 once, broken v2 once)", n)
	}
	if n := strings.Count(logs.String(), "load failed"); n != 1 {
		t.Fatalf("failure logged %d times:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "symbolic link"); n != 1 {
		t.Fatalf("link logged %d times:\n%s", n, logs.String())
	}
	if s, err := r.Get("sentiment-v2"); err != nil || s.State != StateFailed {
		t.Fatalf("broken version: %+v %v", s, err)
	}
	// Fixed in place: the changed files are loaded.
	time.Sleep(10 * time.Millisecond)
	putVersion(t, root, "sentiment", "v2", "label=two", "")
	for range 2 {
		r.Poll(ctx)
	}
	if id, _ := predictLabel(t, r, "sentiment-v2"); id != "sentiment-v2" {
		t.Fatalf("fixed version not served: %s", id)
	}
	// Broken again, then restarted: tried once, others serve.
	putVersion(t, root, "sentiment", "v3", "fail", "")
	fake2 := newFakeLoader()
	r2 := openReg(t, root, map[string]Loader{"sklearn": fake2}, Options{DefaultModel: "sentiment", KeepLoaded: 3}, nil)
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r2.Poll(ctx)
	}
	if n := fake2.loads.Load(); n != 3 {
		t.Fatalf("%d loads after restart, want 3", n)
	}
	if id, _ := predictLabel(t, r2, "sentiment-v2"); id != "sentiment-v2" {
		t.Fatalf("after restart: %s", id)
	}
}

// TestArtifactPathConfined: a manifest's artifact that leaves the version
// folder (another model's file, an absolute path, a link out) is refused
// with ErrInvalid naming the key, the other model's file is never served,
// and a secret file's content never reaches the error.
func TestArtifactPathConfined(t *testing.T) {
	const secret = "s3cret-do-not-leak"
	outside := filepath.Join(t.TempDir(), "secret.joblib")
	if err := os.WriteFile(outside, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		artifact string
		link     bool
	}{
		{"other model", "../../spam/v1/model.joblib", false},
		{"dotdot", "../v1/../../../" + filepath.Base(filepath.Dir(outside)) + "/secret.joblib", false},
		{"absolute", outside, false},
		{"link out", "link.joblib", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			putVersion(t, root, "spam", "v1", "label=spam", "")
			putVersion(t, root, "sentiment", "v1", "label=one", "artifact: "+tt.artifact+"\n")
			if tt.link {
				if err := os.Symlink(outside, filepath.Join(root, "sentiment", "v1", "link.joblib")); err != nil {
					t.Fatal(err)
				}
			}
			repo, _ := OpenRepository(root)
			_, err := repo.Lookup("sentiment", "v1")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "artifact") || strings.Contains(err.Error(), secret) {
				t.Fatalf("Lookup: %v", err)
			}
			var logs lockedBuffer
			l := newFakeLoader()
			r := openReg(t, root, map[string]Loader{"sklearn": l}, Options{}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err := r.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if h, err := r.Resolve("sentiment-v1"); err == nil {
				h.Release()
				t.Fatal("a version whose artifact leaves its folder serves")
			}
			if strings.Contains(logs.String(), secret) {
				t.Fatalf("logs leak the file: %s", logs.String())
			}
			if id, _ := predictLabel(t, r, "spam"); id != "spam-v1" {
				t.Fatalf("spam: %s", id)
			}
		})
	}
}

// TestResolvePath covers the rule itself, links inside the folder included.
func TestResolvePath(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink("a.txt", filepath.Join(dir, "in.txt"))
	os.Symlink("/etc/hostname", filepath.Join(dir, "out.txt"))
	os.Symlink("../../nowhere", filepath.Join(dir, "dangling-out.txt"))
	tests := []struct {
		name string
		ok   bool
	}{
		{"a.txt", true},
		{"sub/../a.txt", true},
		{"./a.txt", true},
		{"in.txt", true},
		{"missing.txt", true}, // the caller reports it missing
		{"sub/missing.txt", true},
		{"", false},
		{"..", false},
		{"../a.txt", false},
		{"sub/../../a.txt", false},
		{"/etc/hostname", false},
		{"out.txt", false},
		{"dangling-out.txt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ResolvePath(dir, "key.name", tt.name)
			if tt.ok != (err == nil) {
				t.Fatalf("ResolvePath(%q) = %q, %v", tt.name, p, err)
			}
			if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "key.name")) {
				t.Fatalf("error %v does not wrap ErrInvalid naming the key", err)
			}
		})
	}
}

// TestStartWithholdsDefaultWhileItLoads: at start-up, a name whose default
// (chosen, or its newest version) is still loading answers ErrNotReady,
// not an older version that happens to load first.
func TestStartWithholdsDefaultWhileItLoads(t *testing.T) {
	for _, chosen := range []bool{false, true} {
		root := t.TempDir()
		putVersion(t, root, "sentiment", "v1", "label=one", "")
		putVersion(t, root, "sentiment", "v2", "label=slow2", "")
		if chosen {
			repo, _ := OpenRepository(root)
			if err := repo.SaveState(State{Defaults: map[string]string{"sentiment": "v2"}}); err != nil {
				t.Fatal(err)
			}
		}
		g := newGate()
		r := openReg(t, root, map[string]Loader{"sklearn": g}, Options{DefaultModel: "sentiment", KeepLoaded: 2}, nil)
		started := make(chan error, 1)
		go func() { started <- r.Start(context.Background()) }()
		<-g.waiting
		for _, ref := range []string{"", "sentiment", "sentiment-v2"} {
			if _, err := r.Resolve(ref); !errors.Is(err, ErrNotReady) {
				t.Fatalf("chosen=%v: Resolve(%q) = %v, want ErrNotReady", chosen, ref, err)
			}
		}
		if got, _ := predictLabel(t, r, "sentiment-v1"); got != "sentiment-v1" {
			t.Fatalf("v1 by id: %s", got)
		}
		close(g.open)
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		if id, _ := predictLabel(t, r, ""); id != "sentiment-v2" {
			t.Fatalf("chosen=%v: default %s after start", chosen, id)
		}
	}
}
