package onnx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
