package sklearn

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// testObj builds a fitted-looking scikit-learn object of class name with
// the given attributes ([]float64 values become float64 arrays of shape
// shape[attr], or 1-D).
func testObj(t *testing.T, name string, attrs map[string]any, shapes map[string][]int) obj {
	t.Helper()
	d := pickle.NewDict(len(attrs))
	for k, v := range attrs {
		if f, ok := v.([]float64); ok {
			raw := make([]byte, 8*len(f))
			for i, x := range f {
				binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
			}
			shape := shapes[k]
			if shape == nil {
				shape = []int{len(f)}
			}
			a, err := numpy.NewArray(numpy.Dtype{Kind: 'f', ItemSize: 8, Order: '<'}, shape, false, raw)
			if err != nil {
				t.Fatal(err)
			}
			v = a
		}
		if err := d.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return obj{&pickle.Object{Class: pickle.Global{Module: "sklearn", Name: name}, State: d}}
}

// TestPValueMask checks SelectFpr/SelectFdr/SelectFwe and
// GenericUnivariateSelect's p-value modes against the masks scikit-learn
// 1.9.1 computes for pvalues_ = [0.01, 0.05, nan, 0.2, 0.04]
// (e.g. SelectFdr(alpha=0.2)._get_support_mask()).
func TestPValueMask(t *testing.T) {
	p := []float64{0.01, 0.05, math.NaN(), 0.2, 0.04}
	for _, c := range []struct {
		class string
		attrs map[string]any
		want  []bool
	}{
		{"SelectFpr", map[string]any{"alpha": 0.05}, []bool{true, false, false, false, true}},
		{"SelectFwe", map[string]any{"alpha": 0.1}, []bool{true, false, false, false, false}},
		{"SelectFdr", map[string]any{"alpha": 0.2}, []bool{true, true, false, false, true}},
		{"SelectFdr", map[string]any{"alpha": 0.04}, []bool{false, false, false, false, false}}, // 0.01 > 0.04/5
		{"SelectFdr", map[string]any{"alpha": 0.001}, []bool{false, false, false, false, false}},
		{"GenericUnivariateSelect", map[string]any{"mode": "fdr", "param": 0.2}, []bool{true, true, false, false, true}},
		{"GenericUnivariateSelect", map[string]any{"mode": "fpr", "param": int64(1)}, []bool{true, true, false, true, true}},
		{"GenericUnivariateSelect", map[string]any{"mode": "fwe", "param": 0.25}, []bool{true, false, false, false, true}},
	} {
		t.Run(c.class, func(t *testing.T) {
			attrs := map[string]any{"pvalues_": p, "scores_": []float64{1, 1, 1, 1, 1}}
			for k, v := range c.attrs {
				attrs[k] = v
			}
			got, err := supportMask(testObj(t, c.class, attrs, nil))
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("%v: mask %v, %v; want %v", c.attrs, got, err, c.want)
			}
		})
	}
	_, err := supportMask(testObj(t, "SelectFpr", map[string]any{"pvalues_": p, "scores_": p, "alpha": "x"}, nil))
	if !errors.Is(err, model.ErrInvalid) {
		t.Errorf("alpha 'x': %v, want ErrInvalid", err)
	}
}

// TestFromModelMask checks SelectFromModel's importances, thresholds and
// max_features against scikit-learn 1.9.1 (coef_ = [[1, -3, 0.5, 0],
// [2, 0, -0.5, 0]]: importances [3, 3, 1, 0], mean 1.75, median 2).
func TestFromModelMask(t *testing.T) {
	coef := []float64{1, -3, 0.5, 0, 2, 0, -0.5, 0}
	for _, c := range []struct {
		name    string
		attrs   map[string]any
		penalty string
		want    []bool
	}{
		{"mean", map[string]any{}, "l2", []bool{true, true, false, false}},
		{"l1 default 1e-5", map[string]any{}, "l1", []bool{true, true, true, false}},
		{"0.5*median", map[string]any{"threshold": "0.5*median"}, "l2", []bool{true, true, true, false}},
		{"median", map[string]any{"threshold": "median"}, "l2", []bool{true, true, false, false}},
		{"number", map[string]any{"threshold": 0.5}, "l2", []bool{true, true, true, false}},
		// argsort(-scores, kind="mergesort")[:1]: the tie 3, 3 keeps the first
		{"max_features", map[string]any{"threshold": math.Inf(-1), "max_features_": int64(1)}, "l2", []bool{true, false, false, false}},
		{"max_features before 1.1", map[string]any{"threshold": math.Inf(-1), "max_features": int64(3)}, "l2", []bool{true, true, true, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			est := testObj(t, "LogisticRegression", map[string]any{"coef_": coef, "penalty": c.penalty},
				map[string][]int{"coef_": {2, 4}})
			attrs := map[string]any{"estimator_": est.Object}
			for k, v := range c.attrs {
				attrs[k] = v
			}
			got, err := fromModelMask(testObj(t, "SelectFromModel", attrs, nil))
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("mask %v, %v; want %v", got, err, c.want)
			}
		})
	}
	// Trees' importances are recomputed (the parity suite's skr_*_from_model_* cases); an
	// ensemble whose importances mlserve does not compute is refused by name.
	ada := testObj(t, "AdaBoostClassifier", map[string]any{"n_estimators": int64(5), "n_features_in_": int64(4)}, nil)
	_, err := fromModelMask(testObj(t, "SelectFromModel", map[string]any{"estimator_": ada.Object}, nil))
	if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), "AdaBoostClassifier") {
		t.Errorf("adaboost: %v, want ErrUnsupported naming AdaBoostClassifier", err)
	}
	est := testObj(t, "LogisticRegression", map[string]any{"coef_": coef}, map[string][]int{"coef_": {2, 4}})
	_, err = fromModelMask(testObj(t, "SelectFromModel", map[string]any{"estimator_": est.Object, "threshold": "2*max"}, nil))
	if !errors.Is(err, model.ErrInvalid) {
		t.Errorf("threshold 2*max: %v, want ErrInvalid", err)
	}
}

// TestLDAStep checks the discriminant projection ((x - xbar_)·scalings_,
// the first _max_components columns) and that 'lsqr', which scikit-learn
// cannot transform with, is refused by name.
func TestLDAStep(t *testing.T) {
	o := testObj(t, "LinearDiscriminantAnalysis", map[string]any{
		"solver": "svd", "scalings_": []float64{1, 2, 3, 4, 5, 6}, "xbar_": []float64{1, 1},
		"_max_components": int64(2)}, map[string][]int{"scalings_": {2, 3}})
	p, err := ldaStep(o)
	if err != nil {
		t.Fatal(err)
	}
	v := vec{isDense: true, dense: []float64{2, 3}}
	if err := p.apply(&v); err != nil || !slices.Equal(v.dense, []float64{1*1 + 2*4, 1*2 + 2*5}) {
		t.Errorf("projection %v, %v", v.dense, err)
	}
	if p.check(3) == nil || !strings.Contains(p.check(3).Error(), "LinearDiscriminantAnalysis") {
		t.Errorf("check(3) = %v", p.check(3))
	}
	o = testObj(t, "LinearDiscriminantAnalysis", map[string]any{"solver": "lsqr"}, nil)
	if _, err := ldaStep(o); !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), "lsqr") {
		t.Errorf("lsqr: %v", err)
	}
}
