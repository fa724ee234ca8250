package model

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplicasFollowState runs two registries (two replicas) on one
// repository folder and changes it through one of them: the other follows
// on its next poll (a single poll each time), whatever it had loaded.
func TestReplicasFollowState(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	putVersion(t, root, "sentiment", "v2", "label=two", "")
	putVersion(t, root, "spam", "v1", "label=spam", "")
	opts := Options{DefaultModel: "sentiment", KeepLoaded: 1, DrainTimeout: time.Second}
	a := newReg(t, root, newFakeLoader(), opts)
	b := newReg(t, root, newFakeLoader(), opts)
	ctx := context.Background()
	serves := func(t *testing.T, r *Registry, ref, want string) {
		t.Helper()
		if id, _ := predictLabel(t, r, ref); id != want {
			t.Fatalf("%q resolves to %s, want %s", ref, id, want)
		}
	}
	stateOf := func(r *Registry, id string) string { s, _ := r.Get(id); return s.State }
	waitState := func(t *testing.T, r *Registry, id, want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); stateOf(r, id) != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s is %s, want %s", id, stateOf(r, id), want)
			}
		}
	}
	serves(t, b, "", "sentiment-v2")

	t.Run("upload through one is served by the other after one poll", func(t *testing.T) {
		if _, err := a.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib",
			Artifact: strings.NewReader("label=three"), MakeDefault: true}); err != nil {
			t.Fatal(err)
		}
		if err := b.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		serves(t, b, "", "sentiment-v3")
		serves(t, b, "sentiment-v3", "sentiment-v3")
	})
	t.Run("default set on one to a version the other had evicted", func(t *testing.T) {
		if stateOf(b, "sentiment-v1") != StateUnloaded {
			t.Fatalf("keep_loaded 1: v1 is %s on b", stateOf(b, "sentiment-v1"))
		}
		if err := a.SetDefault(ctx, "sentiment", "v1"); err != nil {
			t.Fatal(err)
		}
		serves(t, a, "", "sentiment-v1")
		b.Poll(ctx)
		serves(t, b, "", "sentiment-v1")
		waitState(t, b, "sentiment-v3", StateUnloaded) // keep_loaded 1 retires the old default
	})
	t.Run("keep_loaded from the state", func(t *testing.T) {
		if _, _, err := a.repo.UpdateState(func(s *State) { s.KeepLoaded = map[string]int{"sentiment": 2} }); err != nil {
			t.Fatal(err)
		}
		b.Poll(ctx)
		serves(t, b, "sentiment-v3", "sentiment-v3") // the newest besides the default, loaded again
		serves(t, b, "", "sentiment-v1")
		if s := stateOf(b, "sentiment-v2"); s != StateUnloaded {
			t.Errorf("v2 is %s, want unloaded (default + 1 newest)", s)
		}
	})
	t.Run("unload through one", func(t *testing.T) {
		if err := a.Unload(ctx, "sentiment-v3"); err != nil {
			t.Fatal(err)
		}
		b.Poll(ctx)
		if h, err := b.Resolve("sentiment-v3"); !errors.Is(err, ErrNotLoaded) {
			h.Release()
			t.Fatalf("b resolves an unloaded version: %v", err)
		}
		waitState(t, b, "sentiment-v3", StateUnloaded)
		serves(t, b, "", "sentiment-v1")
		// The version the state unloads does not come back on later polls.
		b.Poll(ctx)
		if s := stateOf(b, "sentiment-v3"); s != StateUnloaded {
			t.Errorf("v3 is %s after another poll", s)
		}
	})
	t.Run("changes through both are all kept", func(t *testing.T) {
		// b's copy of the state predates neither change: each write re-reads the file.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = a.SetDefault(ctx, "spam", "v1") })
		wg.Go(func() { errs[1] = b.SetDefault(ctx, "sentiment", "v2") })
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		st, err := a.repo.LoadState()
		if err != nil {
			t.Fatal(err)
		}
		if st.Defaults["spam"] != "v1" || st.Defaults["sentiment"] != "v2" || !slices.Contains(st.Unloaded, "sentiment-v3") ||
			st.KeepLoaded["sentiment"] != 2 {
			t.Fatalf("a change was lost: %+v", st)
		}
		a.Poll(ctx)
		serves(t, a, "", "sentiment-v2")
	})
	t.Run("an unreadable state keeps the last one", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(root, StateFile), []byte("{not json"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := b.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		serves(t, b, "", "sentiment-v2")
		if err := b.SetDefault(ctx, "sentiment", "v1"); err == nil {
			t.Fatal("a state change over an unreadable state file was written")
		}
	})
}

// TestHandCopiedFolderWaitsUploadDoesNot: a folder copied in by hand is
// loaded once it looks the same on two polls; a version renamed in whole
// (WholeMarker, as Stage and the mirror leave it) on the first.
func TestHandCopiedFolderWaitsUploadDoesNot(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	r := newReg(t, root, newFakeLoader(), Options{DefaultModel: "sentiment"})
	ctx := context.Background()
	putVersion(t, root, "sentiment", "v2", "label=two", "")
	r.Poll(ctx)
	if _, err := r.Resolve("sentiment-v2"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("hand-copied folder after one poll: %v, want not ready", err)
	}
	putVersion(t, root, "sentiment", "v3", "label=three", "")
	if err := os.WriteFile(filepath.Join(root, "sentiment", "v3", WholeMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Poll(ctx)
	if id, _ := predictLabel(t, r, "sentiment-v3"); id != "sentiment-v3" {
		t.Fatalf("whole folder not served after one poll: %s", id)
	}
}

// TestStateKeepLoadedRefused: a keep_loaded below 1 in the state file is
// an error that names it, not a silent zero.
func TestStateKeepLoadedRefused(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, StateFile), []byte(`{"defaults":{},"keep_loaded":{"spam":0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.LoadState(); err == nil || !strings.Contains(err.Error(), "keep_loaded of spam") {
		t.Fatalf("LoadState: %v", err)
	}
}

// TestOnChange: the repository calls its OnChange function after an
// upload is committed and after the state is written, not for a refused one.
func TestOnChange(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	repo.OnChange(func() { n.Add(1) })
	r := NewRegistry(repo, map[string]Loader{"sklearn": newFakeLoader()}, Options{DefaultModel: "sentiment"}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if n.Load() != 0 {
		t.Fatalf("%d changes at start", n.Load())
	}
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=two")}); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Fatalf("%d changes after an upload, want 1", n.Load())
	}
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("fail")}); err == nil {
		t.Fatal("a failing upload installed")
	}
	if err := r.SetDefault(ctx, "sentiment", "v1"); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Fatalf("%d changes after a failed upload and a default, want 2", n.Load())
	}
}

// TestAddedElsewhereIsNotReady: a version (or a new name) another replica
// put into the repository answers "not ready" (503 + Retry-After) on this
// one until its next poll serves it, never "not found"; what the
// repository does not hold is still not found.
func TestAddedElsewhereIsNotReady(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	a := newReg(t, root, newFakeLoader(), Options{DefaultModel: "sentiment"})
	b := newReg(t, root, newFakeLoader(), Options{DefaultModel: "sentiment"})
	ctx := context.Background()
	for _, name := range []string{"sentiment", "spam"} {
		if _, err := a.Install(ctx, InstallRequest{Name: name, Filename: "model.joblib", Artifact: strings.NewReader("label=x")}); err != nil {
			t.Fatal(err)
		}
	}
	for ref, want := range map[string]error{"sentiment-v2": ErrNotReady, "spam": ErrNotReady, "spam-v1": ErrNotReady,
		"sentiment-v9": ErrNotFound, "ham": ErrNotFound} {
		h, err := b.Resolve(ref)
		h.Release()
		if !errors.Is(err, want) || (want == ErrNotReady && errors.Is(err, ErrNotFound)) {
			t.Errorf("Resolve(%q) before b polls: %v, want %v", ref, err, want)
		}
	}
	b.Poll(ctx)
	serves := []string{"sentiment-v2", "spam", "spam-v1"}
	for _, ref := range serves {
		h, err := b.Resolve(ref)
		if err != nil {
			t.Errorf("Resolve(%q) after b polls: %v", ref, err)
		}
		h.Release()
	}
}
