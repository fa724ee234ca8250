package sklearn

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// Found by the real-world zoo (python/tests/test_zoo.py).

// TestCentroidSparseScaling checks that NearestCentroid's discriminant
// scales a sparse row as scipy does (X[:, mask] /= s is X * (1/s)) and a
// dense row as numpy does (x / s): after a wide standardisation the two
// differ by more than 1e-9 in the decision values.
func TestCentroidSparseScaling(t *testing.T) {
	x := []float64{0.7, 0.3}
	std := []float64{0.013, 7e-4}
	cent := []float64{0.5, 0.1, 0.1, 0.5}
	o := fakeObj("sklearn.neighbors._nearest_centroid", "NearestCentroid", map[string]any{
		"classes_": list("a", "b"), "metric": "euclidean", "centroids_": mustArray(t, cent, 2, 2),
		"within_class_std_dev_": mustArray(t, std, 2), "class_prior_": mustArray(t, []float64{0.5, 0.5}, 2),
	})
	c, _, err := (&translator{}).classifier(o)
	if err != nil {
		t.Fatal(err)
	}
	// scikit-learn's arithmetic: ‖x‖² - 2x·c + ‖c‖² over the scaled row and centroids.
	want := func(scale func(x, s float64) float64) float64 {
		var xx float64
		xs := make([]float64, 2)
		for j := range x {
			xs[j] = scale(x[j], std[j])
			xx += xs[j] * xs[j]
		}
		var scores [2]float64
		for k := 0; k < 2; k++ {
			var dot, cc float64
			for j := 0; j < 2; j++ {
				cj := cent[k*2+j] / std[j]
				dot += xs[j] * cj
				cc += cj * cj
			}
			d := math.Sqrt(math.Max(xx+(-2*dot)+cc, 0))
			scores[k] = -(d * d) + 2*math.Log(0.5)
		}
		return scores[1] - scores[0]
	}
	sparseWant := want(func(x, s float64) float64 { return x * (1 / s) })
	denseWant := want(func(x, s float64) float64 { return x / s })
	if sparseWant == denseWant {
		t.Fatal("test values do not tell x*(1/s) from x/s")
	}
	for _, tc := range []struct {
		name string
		v    vec
		want float64
	}{
		{"sparse", vec{sp: preprocess.Sparse{Idx: []int32{0, 1}, Val: x}}, sparseWant},
		{"dense", vec{dense: x, isDense: true}, denseWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec, proba := make([]float64, 1), make([]float64, 2)
			c.score(&tc.v, dec, proba)
			if dec[0] != tc.want {
				t.Fatalf("decision %v, want %v", dec[0], tc.want)
			}
		})
	}
}

// TestHalvingSearches checks that HalvingGridSearchCV and
// HalvingRandomSearchCV are read as the searches they are: their
// best_estimator_ is what serves, refit=False and an unfitted search are
// refused by name.
func TestHalvingSearches(t *testing.T) {
	const mod = "sklearn.model_selection._search_successive_halving"
	for _, name := range []string{"HalvingGridSearchCV", "HalvingRandomSearchCV"} {
		for _, tc := range []struct {
			name  string
			attrs map[string]any
			err   error
			msg   string
		}{
			{"refit false", map[string]any{"refit": false}, model.ErrUnsupported, name + " with refit=False"},
			{"unfitted", map[string]any{"refit": true}, model.ErrInvalid, "missing best_estimator_"},
			{"best is bare", map[string]any{"refit": true, "best_estimator_": fakeObj("sklearn.naive_bayes", "MultinomialNB",
				map[string]any{"classes_": list("a", "b")})}, model.ErrUnsupported, "not a text pipeline"},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				tr := &translator{}
				_, _, _, err := tr.top(fakeObj(mod, name, tc.attrs))
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.err, tc.msg)
				}
			})
		}
		if !isSearch(name) {
			t.Errorf("isSearch(%q) = false", name)
		}
	}
	if isSearch("Pipeline") {
		t.Error("isSearch(Pipeline) = true")
	}
}
