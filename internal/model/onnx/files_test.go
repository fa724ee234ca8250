package onnx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/model"
)

// TestMissingFiles: a version folder without a file its manifest names (as
// when a folder is uploaded without its vocabulary) is an invalid model whose
// error names the key and the file, never a bare file-system error.
func TestMissingFiles(t *testing.T) {
	opts := testOptions(t)
	tests := []struct{ fixture, file, key string }{
		{"bag", "vocab.txt", "onnx.tokenizer.vocab"},
		{"bag", "model.onnx", "artifact"},
		{"encoder", "classifier.joblib", "onnx.classifier"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.file, func(t *testing.T) {
			dir := copyFixture(t, tt.fixture, nil)
			if err := os.Remove(filepath.Join(dir, tt.file)); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDir(context.Background(), dir, opts)
			if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), tt.key+": "+tt.file+" is not in the version folder") {
				t.Fatalf("err = %v, want ErrInvalid naming %s %s", err, tt.key, tt.file)
			}
		})
	}
}

// TestRuntimeMissingIsUnsupported: the server answers a missing ONNX Runtime
// as a model it cannot serve (422 with the message), not as its own fault.
func TestRuntimeMissingIsUnsupported(t *testing.T) {
	if !errors.Is(ErrRuntimeMissing, model.ErrUnsupported) {
		t.Fatal("ErrRuntimeMissing does not match model.ErrUnsupported")
	}
	if ErrRuntimeMissing.Error() != "ONNX Runtime not found" {
		t.Fatalf("message %q", ErrRuntimeMissing)
	}
}

// TestPathsStayInVersionFolder: every file key of an ONNX manifest (the
// artifact, the vocabulary, tokenizer.json, the stage-2 classifier) is
// confined to the version folder: "..", an absolute path and a link that
// leads out are refused with ErrInvalid naming the key, before anything
// is opened, and the outside file's content never reaches the error.
func TestPathsStayInVersionFolder(t *testing.T) {
	const secret = "s3cret-line-do-not-leak"
	outside := t.TempDir()
	secretPath := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secretPath, []byte(secret+"\n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := []struct {
		fixture, key string
		edit         func(name string) func(string) string
	}{
		{"bag", "artifact", func(n string) func(string) string {
			return func(s string) string { return strings.Replace(s, "artifact: model.onnx", "artifact: "+n, 1) }
		}},
		{"bag", "onnx.tokenizer.vocab", func(n string) func(string) string {
			return func(s string) string { return strings.Replace(s, "vocab: vocab.txt", "vocab: "+n, 1) }
		}},
		{"encoder", "onnx.tokenizer.tokenizer_json", func(n string) func(string) string {
			return func(s string) string { return strings.Replace(s, "vocab: vocab.txt", "tokenizer_json: "+n, 1) }
		}},
		{"encoder", "onnx.classifier", func(n string) func(string) string {
			return func(s string) string {
				return strings.Replace(s, "classifier: classifier.joblib", "classifier: "+n, 1)
			}
		}},
	}
	escapes := []struct {
		name string
		ref  func(dir string) string // the file name to write into the manifest
	}{
		{"dotdot", func(string) string { return "../" + filepath.Base(outside) + "/secret.txt" }},
		{"deep dotdot", func(string) string { return "sub/../../../../../../../../" + secretPath }},
		{"absolute", func(string) string { return secretPath }},
		{"symlink out", func(dir string) string {
			if err := os.Symlink(secretPath, filepath.Join(dir, "link.txt")); err != nil {
				t.Fatal(err)
			}
			return "link.txt"
		}},
		{"symlinked folder out", func(dir string) string {
			if err := os.Symlink(outside, filepath.Join(dir, "sub")); err != nil {
				t.Fatal(err)
			}
			return "sub/secret.txt"
		}},
	}
	for _, k := range keys {
		for _, esc := range escapes {
			t.Run(k.key+"/"+esc.name, func(t *testing.T) {
				dir := copyFixture(t, k.fixture, nil)
				ref := esc.ref(dir)
				b, err := os.ReadFile(filepath.Join(dir, model.ManifestFile))
				if err != nil {
					t.Fatal(err)
				}
				edited := k.edit(ref)(string(b))
				if edited == string(b) {
					t.Fatal("manifest edit did not apply")
				}
				if err := os.WriteFile(filepath.Join(dir, model.ManifestFile), []byte(edited), 0o644); err != nil {
					t.Fatal(err)
				}
				// No ONNX Runtime needed: the paths are refused before it loads.
				_, err = LoadDir(context.Background(), dir, Options{LibraryPath: filepath.Join(outside, "no-such-lib.so")})
				if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), k.key+": ") {
					t.Fatalf("err = %v, want ErrInvalid naming %s", err, k.key)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks the outside file: %v", err)
				}
			})
		}
	}
}

// TestLinkInsideFolderAllowed: a link to a file of the same version folder
// is inside it, so the model loads.
func TestLinkInsideFolderAllowed(t *testing.T) {
	opts := testOptions(t)
	dir := copyFixture(t, "bag", nil)
	if err := os.Rename(filepath.Join(dir, "vocab.txt"), filepath.Join(dir, "words.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("words.txt", filepath.Join(dir, "vocab.txt")); err != nil {
		t.Fatal(err)
	}
	m, err := LoadDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("a link inside the folder refused: %v", err)
	}
	m.Close()
}

// TestManifestLinkOutRefused: a model.yaml that is a link to a file outside
// the version folder is not read.
func TestManifestLinkOutRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("password: hunter2-do-not-leak\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := copyFixture(t, "bag", nil)
	os.Remove(filepath.Join(dir, model.ManifestFile))
	if err := os.Symlink(outside, filepath.Join(dir, model.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDir(context.Background(), dir, Options{})
	if !errors.Is(err, model.ErrInvalid) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v, want ErrInvalid without the file's content", err)
	}
}

// TestArtifactNotARegularFile: the graph is opened by ONNX Runtime from its
// path, so anything but a regular file is refused first, naming the
// artifact: a folder, and a named pipe (which would block the load until a
// writer came).
func TestArtifactNotARegularFile(t *testing.T) {
	opts := testOptions(t)
	tests := []struct {
		name string
		make func(path string) error
	}{
		{"folder", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "bag", nil)
			path := filepath.Join(dir, "model.onnx")
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := tt.make(path); err != nil {
				t.Skipf("cannot make a %s: %v", tt.name, err)
			}
			done := make(chan error, 1)
			go func() {
				m, err := LoadDir(context.Background(), dir, opts)
				if err == nil {
					m.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "model.onnx is not a regular file") {
					t.Fatalf("err = %v, want ErrInvalid: model.onnx is not a regular file", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the load blocked on the artifact")
			}
		})
	}
}
