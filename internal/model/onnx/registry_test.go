package onnx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// sklearnLoader is the scikit-learn backend as the server registers it.
type sklearnLoader struct{}

func (sklearnLoader) Load(_ context.Context, dir string, m *model.Manifest) (model.Model, error) {
	return sklearn.Load(filepath.Join(dir, m.Artifact))
}

// copyDir copies the files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// repoWith builds a model repository holding the sample scikit-learn spam
// model (spam/v1) and the bag fixture as an ONNX model (bag/v1).
func repoWith(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyDir(t, filepath.Join(repoRoot(t), "models", "spam", "v1"), filepath.Join(root, "spam", "v1"))
	copyDir(t, filepath.Join("testdata", "bag"), filepath.Join(root, "bag", "v1"))
	return root
}

func newRegistry(t *testing.T, root string, o Options) *model.Registry {
	t.Helper()
	repo, err := model.OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	r := model.NewRegistry(repo, map[string]model.Loader{"sklearn": sklearnLoader{}, "onnx": Loader{Options: o}},
		model.Options{DefaultModel: "spam", KeepLoaded: 2}, slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func predictWith(t *testing.T, r *model.Registry, ref, text string) model.Prediction {
	t.Helper()
	h, err := r.Resolve(ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	defer h.Release()
	p, err := h.Model.Predict(context.Background(), []string{text})
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return p[0]
}

// TestRegistryWithoutRuntime runs in a child process, so ONNX Runtime has
// never been loaded there: the ONNX version fails with the install hint
// while the scikit-learn model serves; once the library appears where the
// configuration points, the next load of the version succeeds.
func TestRegistryWithoutRuntime(t *testing.T) {
	lib := testLibrary(t)
	if os.Getenv("MLSERVE_ONNX_TEST_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRegistryWithoutRuntime$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "MLSERVE_ONNX_TEST_CHILD=1", "MLSERVE_ONNX_LIBRARY_PATH="+lib)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestRegistryWithoutRuntime") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	if _, _, ok := RuntimeLoaded(); ok {
		t.Fatal("ONNX Runtime is loaded before any ONNX model")
	}
	root := repoWith(t)
	missing := filepath.Join(t.TempDir(), "ort", "libonnxruntime.so")
	r := newRegistry(t, root, Options{LibraryPath: missing, IntraOpThreads: 1})

	st, err := r.Get("bag-v1")
	if err != nil {
		t.Fatal(err)
	}
	want := "ONNX Runtime not found (tried " + missing + ": no such file): run scripts/setup-onnxruntime.sh or set onnx.library_path"
	if st.State != model.StateFailed || !strings.Contains(st.Error, want) {
		t.Fatalf("bag-v1: state %s, error %q; want failed with %q", st.State, st.Error, want)
	}
	t.Logf("bag-v1 failed: %s", st.Error)
	if p := predictWith(t, r, "spam", "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now."); p.Label != "spam" {
		t.Errorf("spam-v1 while bag-v1 failed: %+v", p)
	}

	// The operator installs the library where the configuration points and
	// the version is picked up again (its files changed: a new stamp).
	if err := os.MkdirAll(filepath.Dir(missing), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lib, missing); err != nil {
		t.Fatal(err)
	}
	yml := filepath.Join(root, "bag", "v1", model.ManifestFile)
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yml, append(b, "# library installed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a changed version is loaded once two scans agree on it
		if err := r.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := r.Get("bag-v1"); st.State != model.StateReady {
		t.Fatalf("bag-v1 after installing the library: %s %s", st.State, st.Error)
	}
	if p := predictWith(t, r, "bag-v1", "free money"); len(p.Probabilities) != 3 {
		t.Errorf("bag-v1: %+v", p)
	}
	if path, _, ok := RuntimeLoaded(); !ok || path != missing {
		t.Errorf("RuntimeLoaded = %q, %v", path, ok)
	}
}

// TestDefaultSearch checks, in a child process started in an empty folder,
// that with no library_path the default places are tried and named.
func TestDefaultSearch(t *testing.T) {
	if os.Getenv("MLSERVE_ONNX_TEST_CHILD") == "" {
		testLibrary(t) // the parent runs where the other tests do
		exe, err := filepath.Abs(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestDefaultSearch$", "-test.v", "-test.count=1")
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "MLSERVE_ONNX_TEST_CHILD=1", "LD_LIBRARY_PATH=")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDefaultSearch") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	wd, _ := os.Getwd()
	err := ensureRuntime(Options{})
	if err == nil {
		t.Skip("a system-wide libonnxruntime.so is installed")
	}
	for _, want := range []string{"ONNX Runtime not found (tried " + filepath.Join(wd, DefaultLibrary) + ": no such file; libonnxruntime.so: ",
		"): run scripts/setup-onnxruntime.sh or set onnx.library_path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
	t.Log(err)

	// A file that is not a shared library is named with the loader's reason.
	bogus := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(bogus, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = ensureRuntime(Options{LibraryPath: bogus})
	if !errors.Is(err, ErrRuntimeMissing) || !strings.Contains(err.Error(), "(tried "+bogus+": ") {
		t.Errorf("bogus library: err = %v", err)
	}
	t.Log(err)
}

// TestRegistryServesONNX loads the ONNX fixture beside the scikit-learn model
// through the real Registry (warm-up included) and serves both.
func TestRegistryServesONNX(t *testing.T) {
	r := newRegistry(t, repoWith(t), testOptions(t))
	for _, id := range []string{"spam-v1", "bag-v1"} {
		if st, err := r.Get(id); err != nil || st.State != model.StateReady {
			t.Fatalf("%s: %+v %v", id, st, err)
		}
	}
	st, _ := r.Get("bag-v1")
	if st.Info == nil || st.Info.Framework != "onnx" {
		t.Errorf("bag-v1 info %+v", st.Info)
	}
	want := readExpected(t)["bag"]
	p := predictWith(t, r, "bag", want.Texts[0])
	checkPrediction(t, 0, p, want.Probabilities[0], []string{"negative", "neutral", "positive"})
}
