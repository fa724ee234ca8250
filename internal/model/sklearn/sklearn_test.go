package sklearn

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

const tol = 1e-9

type expectedCase struct {
	Labels   []string    `json:"labels"`
	Classes  []string    `json:"classes"`
	Proba    [][]float64 `json:"proba"`
	Decision [][]float64 `json:"decision"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) || (math.IsNaN(a) && math.IsNaN(b))
}

// compare checks one prediction against scikit-learn's.
func compare(t *testing.T, i int, text string, got model.Prediction, label string, proba, dec []float64) {
	t.Helper()
	if got.Label != label {
		t.Errorf("text %d %q: label %q, sklearn %q (decision %v, proba %v)", i, text, got.Label, label, got.Decision, got.Probabilities)
	}
	if (proba == nil) != (got.Probabilities == nil) {
		t.Fatalf("text %d: probabilities %v, sklearn %v", i, got.Probabilities, proba)
	}
	for k := range proba {
		if !near(got.Probabilities[k], proba[k]) {
			t.Errorf("text %d %q: proba[%d] = %.17g, sklearn %.17g", i, text, k, got.Probabilities[k], proba[k])
		}
	}
	if (dec == nil) != (got.Decision == nil) {
		t.Fatalf("text %d: decision %v, sklearn %v", i, got.Decision, dec)
	}
	if len(dec) != len(got.Decision) {
		t.Fatalf("text %d: %d decision values, sklearn %d", i, len(got.Decision), len(dec))
	}
	for k := range dec {
		if !near(got.Decision[k], dec[k]) {
			t.Errorf("text %d %q: decision[%d] = %.17g, sklearn %.17g", i, text, k, got.Decision[k], dec[k])
		}
	}
	if got.Probabilities != nil && got.Confidence != got.Probabilities[got.Index] {
		t.Errorf("text %d: confidence %v is not the probability of the label", i, got.Confidence)
	}
}

// TestParity loads every fixture written by make_sklearn_fixtures.py and
// compares with what scikit-learn predicted.
func TestParity(t *testing.T) {
	var texts []string
	readJSON(t, "testdata/texts.json", &texts)
	var exp struct {
		Version string                  `json:"sklearn_version"`
		Cases   map[string]expectedCase `json:"cases"`
	}
	readJSON(t, "testdata/expected.json", &exp)
	if len(exp.Cases) < 12 {
		t.Fatalf("only %d fixture cases", len(exp.Cases))
	}
	for name, e := range exp.Cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			if filepath.Ext(name) == "" {
				path += ".joblib"
			}
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(m.Labels(), "|") != strings.Join(e.Classes, "|") {
				t.Fatalf("labels %q, sklearn %q", m.Labels(), e.Classes)
			}
			if m.Info().LibraryVersion != exp.Version {
				t.Errorf("library version %q, want %q", m.Info().LibraryVersion, exp.Version)
			}
			if m.Info().Probabilistic != (e.Proba != nil) {
				t.Errorf("probabilistic %v, sklearn has predict_proba %v", m.Info().Probabilistic, e.Proba != nil)
			}
			preds, err := m.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range preds {
				var proba, dec []float64
				if e.Proba != nil {
					proba = e.Proba[i]
				}
				// CalibratedClassifierCV has no decision_function of its own.
				if e.Decision != nil {
					dec = e.Decision[i]
				}
				compare(t, i, texts[i], p, e.Labels[i], proba, dec)
			}
		})
	}
}

type releaseCase struct {
	Labels      []string `json:"labels"`
	Texts       []string `json:"texts"`
	Predictions []struct {
		Label         string    `json:"label"`
		Index         int       `json:"index"`
		Probabilities []float64 `json:"probabilities"`
		Decision      []float64 `json:"decision"`
	} `json:"predictions"`
}

// TestReleases checks the files saved by several scikit-learn releases
// (written by the Python helper into testdata/releases/<version>/).
func TestReleases(t *testing.T) {
	exps, _ := filepath.Glob("testdata/releases/*/*.expected.json")
	if len(exps) == 0 {
		t.Skip("testdata/releases holds no fixtures yet (written by python/fixtures; run it to enable this test)")
	}
	for _, ef := range exps {
		base := strings.TrimSuffix(ef, ".expected.json")
		var e releaseCase
		readJSON(t, ef, &e)
		arts, _ := filepath.Glob(base + ".*")
		n := 0
		for _, art := range arts {
			if strings.HasSuffix(art, ".json") {
				continue
			}
			n++
			rel, _ := filepath.Rel("testdata/releases", art)
			t.Run(rel, func(t *testing.T) {
				m, err := Load(art)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(m.Labels(), "|") != strings.Join(e.Labels, "|") {
					t.Fatalf("labels %q, sklearn %q", m.Labels(), e.Labels)
				}
				preds, err := m.Predict(context.Background(), e.Texts)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range preds {
					w := e.Predictions[i]
					compare(t, i, e.Texts[i], p, w.Label, w.Probabilities, w.Decision)
				}
			})
		}
		if n == 0 {
			t.Errorf("%s has no model file beside it", ef)
		}
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		file   string
		target error
		want   []string
	}{
		{"refuse_tokenizer.joblib", model.ErrInvalid, []string{"__main__.my_tokenizer", "LogisticRegression", "refit without it"}},
		{"refuse_bagging.joblib", model.ErrUnsupported, []string{"sklearn.ensemble._bagging.BaggingClassifier", "TfidfVectorizer"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, tc.target) || !errors.Is(err, pickle.ErrForbidden) {
				t.Errorf("error %v does not wrap %v and pickle.ErrForbidden", err, tc.target)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
