package model

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// putFlat writes files directly into root, as KServe's storage initializer
// leaves a single model in /mnt/models.
func putFlat(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFlatRepository(t *testing.T) {
	tests := []struct {
		name      string
		modelName string
		files     map[string]string
		wantID    string
		wantArt   string
		wantErr   error
	}{
		{"joblib named by KServe", "sentiment", map[string]string{"model.joblib": "label=a"}, "sentiment-v1", "model.joblib", nil},
		{"onnx with manifest", "intent", map[string]string{"model.onnx": "x", ManifestFile: "framework: onnx\n"}, "intent-v1", "model.onnx", nil},
		{"no name given", "", map[string]string{"model.pkl": "label=a"}, DefaultFlatName + "-v1", "model.pkl", nil},
		{"manifest names one of two", "m", map[string]string{"model.joblib": "a", "classifier.joblib": "b",
			ManifestFile: "artifact: model.joblib\n"}, "m-v1", "model.joblib", nil},
		{"two artifacts, no manifest", "m", map[string]string{"a.joblib": "a", "b.joblib": "b"}, "", "", ErrInvalid},
		{"manifest only", "m", map[string]string{ManifestFile: "framework: sklearn\n"}, "", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			putFlat(t, root, tt.files)
			// a stray folder beside a flat model is not a second model
			putVersion(t, root, "other", "v1", "label=x", "")
			repo, err := OpenRepositoryWith(root, RepositoryOptions{ModelName: tt.modelName})
			if err != nil {
				t.Fatal(err)
			}
			vs, errs := repo.Scan()
			if tt.wantErr != nil {
				if len(vs) != 0 || len(errs) != 1 || !errors.Is(errs[0], tt.wantErr) {
					t.Fatalf("Scan = %v %v, want only an error wrapping %v", vs, errs, tt.wantErr)
				}
				return
			}
			if len(errs) != 0 || len(vs) != 1 {
				t.Fatalf("Scan = %v %v, want one version", vs, errs)
			}
			if v := vs[0]; v.ID() != tt.wantID || v.Dir != root || v.Artifact != tt.wantArt || v.N != 1 {
				t.Fatalf("version %+v, want %s from %s with %s", v, tt.wantID, root, tt.wantArt)
			}
			name, ver, _ := SplitID(tt.wantID)
			if v, err := repo.Lookup(name, ver); err != nil || v.Dir != root {
				t.Fatalf("Lookup(%s) = %+v %v", tt.wantID, v, err)
			}
			if _, err := repo.Lookup("other", "v1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lookup(other-v1) in a flat repository: %v, want ErrNotFound", err)
			}
			if _, err := repo.Lookup(name, "v2"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lookup(%s-v2) in a flat repository: %v, want ErrNotFound", name, err)
			}
			_, err = repo.Write(name, "v2", "model.joblib", strings.NewReader("label=b"), nil)
			if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "flat") {
				t.Fatalf("Write into a flat repository: %v, want ErrReadOnly naming the flat layout", err)
			}
		})
	}
}

func TestOpenRepositoryRefusesBadModelName(t *testing.T) {
	if _, err := OpenRepositoryWith(t.TempDir(), RepositoryOptions{ModelName: "Bad/Name"}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("err = %v, want ErrInvalidName", err)
	}
}

func TestRegistryServesFlatRepository(t *testing.T) {
	root := t.TempDir()
	putFlat(t, root, map[string]string{"model.joblib": "label=flat"})
	repo, err := OpenRepositoryWith(root, RepositoryOptions{ModelName: "sentiment"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(repo, map[string]Loader{"sklearn": newFakeLoader()}, Options{DefaultModel: "sentiment"},
		slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	for _, ref := range []string{"", "sentiment", "sentiment-v1", "v1"} {
		if id, lab := predictLabel(t, r, ref); id != "sentiment-v1" || !strings.HasPrefix(lab, "flat|") {
			t.Fatalf("Resolve(%q) = %s %s", ref, id, lab)
		}
	}
	_, err = r.Install(context.Background(), InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=two")})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Install into a flat repository: %v, want ErrReadOnly", err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Fatalf("the refused upload left files behind: %v", ents)
	}
}

// readOnlyDir returns a folder that this process cannot write: mode 0555,
// and for root (whom modes do not stop) the immutable attribute.
func readOnlyDir(t *testing.T, fill func(dir string)) string {
	t.Helper()
	dir := t.TempDir()
	fill(dir)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if probeWrite(dir) {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make a folder read-only for this user (root, and chattr +i failed: %v %s); "+
				"the container test (e2e) covers a read-only volume", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	}
	if probeWrite(dir) {
		t.Fatal("the folder is still writable")
	}
	return dir
}

func TestReadOnlyRepositoryServesAndRefusesWrites(t *testing.T) {
	root := readOnlyDir(t, func(dir string) {
		putVersion(t, dir, "sentiment", "v1", "label=one", "")
		putVersion(t, dir, "sentiment", "v2", "label=two", "")
	})
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatalf("a read-only folder must open: %v", err)
	}
	if err := repo.Writable(); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("Writable = %v, want ErrReadOnly saying why", err)
	}
	r := NewRegistry(repo, map[string]Loader{"sklearn": newFakeLoader()}, Options{DefaultModel: "sentiment", KeepLoaded: 2},
		slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v2" {
		t.Fatalf("default = %s, want sentiment-v2", id)
	}
	_, err = r.Install(context.Background(), InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=three")})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Install: %v, want ErrReadOnly", err)
	}
	// Admin changes still work; they hold until restart.
	if err := r.SetDefault(context.Background(), "sentiment", "v1"); err != nil {
		t.Fatalf("SetDefault on a read-only repository: %v", err)
	}
	if id, _ := predictLabel(t, r, ""); id != "sentiment-v1" {
		t.Fatalf("after SetDefault: %s", id)
	}
	if err := r.Unload(context.Background(), "sentiment-v2"); err != nil {
		t.Fatalf("Unload on a read-only repository: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a state file appeared in a read-only repository: %v", err)
	}
}
