package sklearn

import (
	"fmt"
	"sync"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// unfrozen returns the estimator a FrozenEstimator (scikit-learn 1.6+,
// the replacement of cv="prefit") wraps, or v itself.
func unfrozen(v any) any {
	if o, ok := asObj(v); ok && o.name() == "FrozenEstimator" {
		if e, ok := o.get("estimator"); ok {
			return e
		}
	}
	return v
}

// calibratedWraps reports whether CalibratedClassifierCV o calibrates whole
// text pipelines (CalibratedClassifierCV(Pipeline(...)), cv="prefit" or a
// FrozenEstimator, ensemble True or False) rather than the classifier of a
// pipeline around it.
func calibratedWraps(o obj) bool {
	l, ok := mustGet(o, "calibrated_classifiers_").(*pickle.List)
	if !ok || len(l.Items) == 0 {
		return false
	}
	m, ok := asObj(l.Items[0])
	if !ok {
		return false
	}
	est, ok := m.get("estimator")
	if !ok {
		est = mustGet(m, "base_estimator")
	}
	e, ok := asObj(unfrozen(est))
	return ok && (e.name() == "Pipeline" || e.name() == "GridSearchCV" || e.name() == "RandomizedSearchCV")
}

// calibratedPipelines translates a CalibratedClassifierCV whose calibrated
// classifiers each hold a whole text pipeline (with ensemble=True, one per
// cross-validation fold, each with its own vocabulary). The text is
// featurized by every member's pipeline into one row, as a FeatureUnion
// would, and each member's classifier reads its own slice of it.
func (t *translator) calibratedPipelines(o obj) (featurizer, classifier, []string, error) {
	labels, err := o.labels()
	if err != nil {
		return nil, nil, nil, err
	}
	l := mustGet(o, "calibrated_classifiers_").(*pickle.List)
	u := &union{}
	c := &calibrated{classes: len(labels)}
	type member struct {
		m      obj
		clf    classifier
		labels []string
	}
	var ms []member
	off := 0
	for i, it := range l.Items {
		m, ok := asObj(it)
		if !ok || m.name() != "_CalibratedClassifier" {
			return nil, nil, nil, o.errf("calibrated_classifiers_[%d] is %s", i, pickle.Describe(it))
		}
		method, err := m.str("method", "sigmoid")
		if err != nil {
			return nil, nil, nil, err
		}
		if method != "sigmoid" && method != "isotonic" {
			return nil, nil, nil, fmt.Errorf("%w: CalibratedClassifierCV method %q: mlserve reproduces sigmoid and isotonic calibration",
				model.ErrUnsupported, method)
		}
		est, ok := m.get("estimator")
		if !ok {
			est, ok = m.get("base_estimator")
		}
		if !ok {
			return nil, nil, nil, m.errf("missing estimator (is the CalibratedClassifierCV fitted?)")
		}
		saved := t.chain
		t.via = "calibrated_classifiers_"
		f, clf, baseLabels, err := t.top(unfrozen(est))
		if i > 0 {
			t.chain = saved
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if f.width() != clf.nFeatures() {
			return nil, nil, nil, fmt.Errorf("%w: calibrated_classifiers_[%d]: its pipeline makes %d features, its classifier takes %d",
				model.ErrInvalid, i, f.width(), clf.nFeatures())
		}
		u.parts = append(u.parts, f)
		u.weights = append(u.weights, 1)
		ms = append(ms, member{m, &sliced{clf: clf, off: int32(off)}, baseLabels})
		off += f.width()
	}
	for i, mb := range ms {
		mb.clf.(*sliced).total = off
		one, err := t.calibrators(mb.m, labels, mb.clf, mb.labels)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("calibrated_classifiers_[%d]: %w", i, err)
		}
		c.members = append(c.members, one)
	}
	c.nf = off
	return u, c, labels, nil
}

// sliced is a classifier that reads columns [off, off+clf.nFeatures()) of
// a wider row (one member of calibratedPipelines' union).
type sliced struct {
	clf   classifier
	off   int32
	total int
}

var slicePool = sync.Pool{New: func() any { return new(vec) }}

func (s *sliced) score(v *vec, dec, proba []float64) int {
	sub := slicePool.Get().(*vec)
	defer slicePool.Put(sub)
	sub.isDense = false
	sub.sp.Reset()
	end := s.off + int32(s.clf.nFeatures())
	for k, j := range v.sp.Idx {
		if j >= s.off && j < end {
			sub.sp.Idx = append(sub.sp.Idx, j-s.off)
			sub.sp.Val = append(sub.sp.Val, v.sp.Val[k])
		}
	}
	return s.clf.score(sub, dec, proba)
}

func (s *sliced) nClasses() int       { return s.clf.nClasses() }
func (s *sliced) nDecision() int      { return s.clf.nDecision() }
func (s *sliced) probabilistic() bool { return s.clf.probabilistic() }
func (s *sliced) nFeatures() int      { return s.total }
