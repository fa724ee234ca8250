package sklearn

import (
	"math"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// float32Dtype reports whether a vectorizer was built with
// dtype=np.float32: its matrices are then float32 and the TF-IDF weights
// are rounded as numpy rounds them (preprocess.TfidfTransformer.Float32).
// The dtype is pickled as the numpy scalar type (a global reference) or,
// when given as np.dtype("float32"), as a dtype object.
func float32Dtype(o obj) bool {
	switch d := mustGet(o, "dtype").(type) {
	case pickle.Global:
		return d.Module == "numpy" && d.Name == "float32"
	case *pickle.Global:
		return d.Module == "numpy" && d.Name == "float32"
	case *numpy.Dtype:
		return d.Kind == 'f' && d.ItemSize == 4
	case numpy.Dtype:
		return d.Kind == 'f' && d.ItemSize == 4
	case string:
		return d == "float32"
	}
	return false
}

// isFloat32Array reports whether v is a float32 numpy array: the
// coefficients of a linear model fitted on float32 features, which
// scikit-learn keeps in float32 and computes with in float32.
func isFloat32Array(v any) bool {
	a, ok := v.(*numpy.Array)
	return ok && a.Dtype.Kind == 'f' && a.Dtype.ItemSize == 4
}

// score32 is linear.score for float32 coefficients on a sparse row, as
// scipy's csr_matvecs computes X @ coef_.T in float32 (a float32 product
// added to a float32 sum, in the row's column order) before numpy adds the
// intercept_, in float32 when it is float32 (LogisticRegression,
// LinearSVC, RidgeClassifier fitted on float32), in float64 when it is
// float64 (SGDClassifier keeps its intercept_ in float64); the
// probabilities follow in the decision's precision.
func (l *linear) score32(v *vec, dec, proba []float64) int {
	for k := 0; k < l.rows; k++ {
		w := l.coef[k*l.nf : (k+1)*l.nf]
		var s float32
		for i, j := range v.sp.Idx {
			s += float32(float32(v.sp.Val[i]) * float32(w[j]))
		}
		if l.intercept64 {
			dec[k] = float64(s) + l.intercept[k] // float32 + float64 is float64 in numpy
		} else {
			dec[k] = float64(s + float32(l.intercept[k]))
		}
	}
	if proba != nil {
		if l.intercept64 { // the decision is float64: so are the probabilities
			probaFromDecision(l.rule, dec[:l.rows], proba)
		} else {
			probaFromDecision32(l.rule, dec[:l.rows], proba)
		}
	}
	if l.rows == 1 {
		if dec[0] > 0 {
			return 1
		}
		return 0
	}
	return argmax(dec[:l.rows])
}

func expit32(x float32) float32 {
	return float32(1) / (float32(1) + float32(math.Exp(float64(-x))))
}

// probaFromDecision32 is probaFromDecision with every numpy operation on
// the float32 decision values rounded to float32.
func probaFromDecision32(rule probaRule, dec, proba []float64) {
	switch rule {
	case probaOVR:
		if len(dec) == 1 {
			p := expit32(float32(dec[0]))
			proba[0], proba[1] = float64(1-p), float64(p)
			return
		}
		var s float32
		for k, d := range dec {
			p := expit32(float32(d))
			proba[k] = float64(p)
			s += p
		}
		for k := range proba[:len(dec)] {
			proba[k] = float64(float32(proba[k]) / s)
		}
	case probaSoftmax:
		var x [2]float32
		xs := x[:0]
		if len(dec) == 1 {
			xs = append(xs, float32(-dec[0]), float32(dec[0]))
		} else {
			xs = make([]float32, len(dec))
			for k, d := range dec {
				xs[k] = float32(d)
			}
		}
		m := xs[0]
		for _, v := range xs {
			m = max(m, v)
		}
		var s float32
		for k, v := range xs {
			xs[k] = numpy.Exp32(v - m)
			s += xs[k]
		}
		for k, v := range xs {
			proba[k] = float64(v / s)
		}
	default:
		probaFromDecision(rule, dec, proba)
		for k := range proba {
			proba[k] = float64(float32(proba[k]))
		}
	}
}

// idfByProduct reports whether a TfidfTransformer holds its IDF as the
// _idf_diag matrix of scikit-learn ≤1.4 (applied by a sparse product)
// rather than the idf_ array of 1.5 and later.
func idfByProduct(tf obj) bool {
	if _, ok := tf.get("idf_"); ok {
		return false
	}
	_, ok := tf.get("_idf_diag")
	return ok
}
