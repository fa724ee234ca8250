package sklearn

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// explainFixtures are the parity fixtures' model files (the top-level set
// and the estimator zoo).
func explainFixtures(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"testdata", "testdata/models", "testdata/releases/1.0.2", "testdata/releases/1.9.1"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".joblib") && !strings.HasPrefix(e.Name(), "refuse_") {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	return files
}

// classScore is the score Explain explains, computed for class k the way
// Predict computes it (the row's dot product plus the bias), so the test
// compares Explain's sum against the prediction path's own arithmetic.
func classScores(t *testing.T, m *Model, text string) (scores [][]float64, score string) {
	t.Helper()
	var v vec
	if err := m.feat.featurize(context.Background(), text, &v); err != nil {
		t.Fatal(err)
	}
	e := m.clf.(explainable)
	for k := range m.labels {
		out := make([]float64, len(v.sp.Idx))
		b, _, s, ok := e.contributions(&v, k, out)
		if !ok {
			t.Fatalf("contributions for class %d refused", k)
		}
		score = s
		scores = append(scores, append(out, b))
	}
	return scores, score
}

// TestExplainSumsToDecision: on every linear and naive Bayes model of the
// parity fixtures and every parity text, the contributions (top k and the
// rest) plus the base equal the decision value Predict gives (which the
// parity tests hold to scikit-learn's within 1e-9) within 1e-9; for naive
// Bayes the explained joint log-likelihoods of all classes reproduce
// predict_proba; for calibrated models the mean base decision.
func TestExplainSumsToDecision(t *testing.T) {
	var texts []string
	readJSON(t, "testdata/texts.json", &texts)
	ctx := context.Background()
	explained := 0
	for _, path := range explainFixtures(t) {
		m, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_, err = m.Explain(ctx, model.ExplainRequest{Text: texts[0], TopK: 3})
		if errors.Is(err, model.ErrNotExplainable) {
			t.Logf("%s: not exact (%v): occlusion", path, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		explained++
		t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
			preds, err := m.Predict(ctx, texts)
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-9
			if l, ok := m.clf.(*linear); ok && l.f32 {
				// float32 coefficients: Predict sums in float32 as numpy does.
				tol = 1e-5
			}
			for i, text := range texts {
				ex, err := m.Explain(ctx, model.ExplainRequest{Text: text, TopK: 5})
				if err != nil {
					t.Fatal(err)
				}
				total := ex.Base + ex.Rest
				for _, c := range ex.Contributions {
					total += c.Value
				}
				if d := math.Abs(total - ex.Value); d > 1e-9*math.Max(1, math.Abs(ex.Value)) {
					t.Fatalf("text %d: base+contributions+rest = %.17g, value %.17g", i, total, ex.Value)
				}
				if len(ex.Contributions) > 5 || (ex.Features > 5 && len(ex.Contributions) != 5) {
					t.Fatalf("text %d: %d contributions of %d features for top_k 5", i, len(ex.Contributions), ex.Features)
				}
				for k := 1; k < len(ex.Contributions); k++ {
					if math.Abs(ex.Contributions[k].Value) > math.Abs(ex.Contributions[k-1].Value) {
						t.Fatalf("text %d: contributions not ordered by magnitude: %+v", i, ex.Contributions)
					}
				}
				p := preds[i]
				switch {
				case ex.Score == "decision_function":
					k := p.Index
					if len(p.Decision) == 1 {
						k = 0
					}
					if !near2(ex.Value, p.Decision[k], tol) {
						t.Fatalf("text %d: explained value %.17g, decision %.17g", i, ex.Value, p.Decision[k])
					}
				case ex.Score == "joint_log_likelihood" || ex.Score == "mean_base_decision_function" || ex.Score == "mean_base_joint_log_likelihood":
					scores, _ := classScores(t, m, text)
					jll := make([]float64, len(scores))
					for k, s := range scores {
						for _, x := range s {
							jll[k] += x
						}
					}
					if ex.Score == "joint_log_likelihood" {
						softmax(jll)
						for k := range jll {
							if !near2(jll[k], p.Probabilities[k], 1e-9) {
								t.Fatalf("text %d: softmax of the explained scores %v, predict_proba %v", i, jll, p.Probabilities)
							}
						}
					}
				default:
					t.Fatalf("score %q", ex.Score)
				}
			}
		})
	}
	if explained < 15 {
		t.Fatalf("only %d fixtures explained exactly", explained)
	}
	t.Logf("%d fixtures explained exactly", explained)
}

func near2(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestExplainHashed: a HashingVectorizer's contributions name every n-gram
// of the text that hashed to their column, and locate each.
func TestExplainHashed(t *testing.T) {
	m, err := Load("testdata/hashing_sgd_hinge.joblib")
	if err != nil {
		t.Fatal(err)
	}
	text := "FREE money: click here to win free money now, café"
	ex, err := m.Explain(context.Background(), model.ExplainRequest{Text: text, TopK: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Features == 0 || len(ex.Contributions) != ex.Features {
		t.Fatalf("%d contributions of %d features", len(ex.Contributions), ex.Features)
	}
	for _, c := range ex.Contributions {
		if len(c.Hashed) == 0 || c.Feature != c.Hashed[0] {
			t.Fatalf("%+v: no hashed n-grams", c)
		}
		if len(c.Spans) == 0 {
			t.Errorf("%q: not located", c.Feature)
		}
		for _, s := range c.Spans {
			got := strings.ToLower(string([]rune(text)[s.Start:s.End]))
			found := false
			for _, h := range c.Hashed {
				found = found || strings.HasPrefix(preprocess.StripAccentsUnicode(got), preprocess.StripAccentsUnicode(strings.Fields(h)[0]))
			}
			if !found {
				t.Errorf("%v: span %v covers %q", c.Hashed, s, got)
			}
		}
	}
}
