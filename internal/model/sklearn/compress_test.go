package sklearn

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// TestCompressibleModel: a real model that inflates 1,000-fold (a
// HashingVectorizer of 2**22 features, so coef_ is 96 MiB of mostly zeros,
// in a 100 KB file; python/fixtures/make_compressible_fixture.py) is past
// the default budget of its size and refused with a message that says
// which setting lets it in; with limits.model_bytes_per_file_byte raised it
// loads and predicts what scikit-learn predicted.
func TestCompressibleModel(t *testing.T) {
	const path = "testdata/sparse/hashing_2_22.joblib"
	_, err := LoadContext(context.Background(), path, Options{})
	if !errors.Is(err, pickle.ErrLimit) || !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("default budget: got %v, want a refusal wrapping pickle.ErrLimit and model.ErrInvalid", err)
	}
	for _, want := range []string{"limits.model_bytes_per_file_byte", "128 per byte", "99748 bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}

	m, err := LoadContext(context.Background(), path, Options{BytesPerFileByte: 2048})
	if err != nil {
		t.Fatalf("with 2048 per byte: %v", err)
	}
	var want struct {
		Texts  []string `json:"texts"`
		Labels []string `json:"labels"`
	}
	b, err := os.ReadFile("testdata/sparse/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(context.Background(), want.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		if p.Label != want.Labels[i] {
			t.Errorf("%q: got %s, scikit-learn %s", want.Texts[i], p.Label, want.Labels[i])
		}
	}

	// max_model_bytes still caps a raised per-byte figure.
	if _, err := LoadContext(context.Background(), path, Options{BytesPerFileByte: 2048, MaxModelBytes: 64 << 20}); !errors.Is(err, pickle.ErrLimit) {
		t.Errorf("2048 per byte capped at 64 MiB: got %v, want pickle.ErrLimit", err)
	}
}
