package sklearn

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/model"
)

// LinearDiscriminantAnalysis is two things in a text pipeline: as the last
// step a linear classifier (decision X·coef_ᵀ + intercept_, probabilities
// expit for two classes and softmax for more, as LogisticRegression's
// multinomial rule), and before it a projection onto the discriminant
// directions, which this file builds as a PCA-like step.

// ldaClassifier is LinearDiscriminantAnalysis as the final estimator.
func ldaClassifier(_ *translator, o obj, labels []string) (classifier, error) {
	l, err := linearOf(o, len(labels))
	if err != nil {
		return nil, err
	}
	l.rule = probaSoftmax
	if len(labels) <= 2 {
		l.rule = probaOVR // [1-expit(d), expit(d)]
	}
	return l, nil
}

// ldaStep is LinearDiscriminantAnalysis.transform: (X - xbar_)·scalings_
// for the 'svd' solver, X·scalings_ for 'eigen', keeping the first
// _max_components columns. 'lsqr' has no transform (scikit-learn refuses
// too). It needs dense rows, as scikit-learn does.
func ldaStep(o obj) (*pcaStep, error) {
	solver, err := o.str("solver", "svd")
	if err != nil {
		return nil, err
	}
	if solver != "svd" && solver != "eigen" {
		return nil, fmt.Errorf("%w: LinearDiscriminantAnalysis(solver=%q) as a transformer: scikit-learn transforms only with 'svd' and 'eigen'",
			model.ErrUnsupported, solver)
	}
	sc, shape, err := o.floats("scalings_")
	if err != nil {
		return nil, err
	}
	if len(shape) != 2 || shape[0] < 1 || shape[1] < 1 {
		return nil, o.errf("scalings_ has shape %v", shape)
	}
	nf, rank := shape[0], shape[1]
	nc := rank
	if v, ok := o.get("_max_components"); ok {
		m, ok := v.(int64)
		if !ok || m < 1 {
			return nil, o.errf("_max_components is %v", v)
		}
		nc = min(int(m), rank)
	}
	p := &pcaStep{comp: make([]float64, nc*nf), offset: make([]float64, nc), nc: nc, nf: nf, name: "LinearDiscriminantAnalysis"}
	for c := range nc {
		for j := range nf {
			p.comp[c*nf+j] = sc[j*rank+c]
		}
	}
	if solver == "svd" {
		xbar, _, err := o.floats("xbar_")
		if err != nil {
			return nil, err
		}
		if len(xbar) != nf {
			return nil, o.errf("xbar_ has %d values for %d features", len(xbar), nf)
		}
		for c := range nc {
			var s float64
			for j, m := range xbar {
				s += m * p.comp[c*nf+j]
			}
			p.offset[c] = s
		}
	}
	return p, nil
}
