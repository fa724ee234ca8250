package sklearn

import (
	"context"
	"errors"
	"github.com/mlserve/mlserve/internal/hostile"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/pickle/bomb"
)

// TestHostileGraphs: estimators that contain themselves, through every
// attribute the translator follows, and graphs too deep or too shared to
// walk, are refused with model.ErrInvalid naming the path, through Load and
// LoadVectors, never a stack overflow.
func TestHostileGraphs(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"grid search", bomb.SelfGridSearch(), "GridSearchCV.best_estimator_ → GridSearchCV"},
		{"pipeline", bomb.SelfPipeline(), "Pipeline.steps → Pipeline"},
		{"feature union", bomb.SelfUnion(), "FeatureUnion.transformer_list → FeatureUnion"},
		{"calibrated", bomb.SelfCalibrated(), "CalibratedClassifierCV.calibrated_classifiers_ → _CalibratedClassifier.estimator → CalibratedClassifierCV"},
		{"deep", bomb.DeepGridSearch(200_000), "nested deeper than 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.pkl")
			if err := os.WriteFile(path, tc.b, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, load := range []func() error{
				func() error { _, err := LoadContext(context.Background(), path, Options{}); return err },
				func() error { _, err := LoadVectorsContext(context.Background(), path, Options{}); return err },
			} {
				err := hostile.Bounded(t, raceSlowdown, load)
				if (tc.name == "feature union" || tc.name == "calibrated") && errors.Is(err, model.ErrUnsupported) {
					continue // the other loader refuses the kind of model before walking it
				}
				if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want model.ErrInvalid naming %q", err, tc.want)
				}
			}
		})
	}
}

// TestLoadContextBudget: a file is held to the budget of its own size, and
// to MaxModelBytes; a cancelled context stops the load.
func TestLoadContextBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.pkl")
	if err := os.WriteFile(path, bomb.EmptyDicts(1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// 1 MiB of EMPTY_DICT: 160 MiB of dicts, over the 160 MiB budget of a
	// 1 MiB file with its base.
	_, err := LoadContext(context.Background(), path, Options{})
	if !errors.Is(err, model.ErrInvalid) || !errors.Is(err, pickle.ErrLimit) || !strings.Contains(err.Error(), "MaxMemory") {
		t.Fatalf("err = %v", err)
	}
	good := filepath.Join("testdata", "tfidf_lr_binary.joblib")
	if _, err := LoadContext(context.Background(), good, Options{MaxModelBytes: 1 << 20}); err != nil {
		t.Fatalf("1 MiB cap: %v", err)
	}
	_, err = LoadContext(context.Background(), good, Options{MaxModelBytes: 64 << 10})
	if !errors.Is(err, pickle.ErrLimit) {
		t.Fatalf("64 KiB cap: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = LoadVectorsContext(ctx, path, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

// TestRecoverLoad: a panic below the load boundary becomes an ErrInvalid
// error (the last line of defence; no input is known to reach it).
func TestRecoverLoad(t *testing.T) {
	_, err := fromReader(context.Background(), strings.NewReader("N."), Options{}, func(any) (int, error) { panic("boom") })
	if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
}

// TestMaxEstimators: a graph that shares one estimator between many
// parents is walked once per reference; the count of estimators entered is
// bounded, so 2^depth references cannot make translation run for ever.
func TestMaxEstimators(t *testing.T) {
	tr := &translator{}
	for i := 0; i < maxEstimators; i++ {
		leave, err := tr.enter(obj{&pickle.Object{Class: pickle.Global{Name: "CountVectorizer"}}})
		if err != nil {
			t.Fatalf("estimator %d: %v", i, err)
		}
		leave()
	}
	_, err := tr.enter(obj{&pickle.Object{Class: pickle.Global{Name: "CountVectorizer"}}})
	if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "more than 4096 estimators") {
		t.Fatalf("err = %v", err)
	}
}
