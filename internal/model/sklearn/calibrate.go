package sklearn

import (
	"fmt"
	"math"
	"strconv"
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
	return ok && (e.name() == "Pipeline" || isSearch(e.name()))
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
		if err := checkCalibrationMethod(method); err != nil {
			return nil, nil, nil, err
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

// checkCalibrationMethod refuses a calibration method mlserve does not
// reproduce, saying which it does.
func checkCalibrationMethod(method string) error {
	switch method {
	case "sigmoid", "isotonic", "temperature":
		return nil
	}
	return fmt.Errorf("%w: CalibratedClassifierCV method %q: mlserve reproduces sigmoid, isotonic and temperature calibration",
		model.ErrUnsupported, method)
}

// temperatureOf reads method="temperature" (scikit-learn 1.8+): one
// _TemperatureScaling whose beta_ scales the logits of all classes at once.
func temperatureOf(m obj, labels []string, base classifier, baseLabels []string) (*calibratedOne, error) {
	l, ok := mustGet(m, "calibrators").(*pickle.List)
	if !ok || len(l.Items) != 1 {
		return nil, m.errf("calibrators is %s, want the one _TemperatureScaling of method='temperature'", pickle.Describe(mustGet(m, "calibrators")))
	}
	co, ok := asObj(l.Items[0])
	if !ok || co.name() != "_TemperatureScaling" {
		return nil, m.errf("calibrator is %s, want _TemperatureScaling", pickle.Describe(l.Items[0]))
	}
	beta, err := co.float("beta_")
	if err != nil {
		return nil, err
	}
	if err := co.finite("beta_", []float64{beta}, nil, false); err != nil {
		return nil, err
	}
	if len(baseLabels) != len(labels) {
		return nil, m.errf("estimator has %d classes, the calibration %d", len(baseLabels), len(labels))
	}
	// The estimator's classes are the calibration's, in order: by name, or
	// label-encoded (0, 1, …) as 1.8+ fits the per-fold estimators.
	for i := range labels {
		if labels[i] != baseLabels[i] && baseLabels[i] != strconv.Itoa(i) {
			return nil, m.errf("estimator class %q where the calibration has %q", baseLabels[i], labels[i])
		}
	}
	return &calibratedOne{base: base, nclasses: len(labels), useProba: base.nDecision() == 0,
		temperature: true, beta: beta}, nil
}

// temperatureProba is _TemperatureScaling.predict on one row: binary
// predictions become the logits (-d, d), or (1-p, p) for probabilities;
// rows that are probabilities (in [0, 1], summing to 1 within numpy's
// isclose) become log(p + 1e-12); then softmax(beta * logits).
// scikit-learn decides "probabilities" over the whole batch; mlserve per
// row, which differs only for a batch that mixes both kinds.
func temperatureProba(beta float64, preds []float64, useProba bool, out []float64) {
	n := len(out)
	if len(preds) == 1 {
		if useProba {
			out[0], out[1] = 1-preds[0], preds[0]
		} else {
			out[0], out[1] = -preds[0], preds[0]
		}
	} else {
		copy(out, preds)
	}
	if n > 1 {
		in01, sum := true, 0.0
		for _, x := range out {
			in01 = in01 && x >= 0 && x <= 1
			sum += x
		}
		if in01 && math.Abs(sum-1) <= 1e-8+1e-5 {
			for k, x := range out {
				out[k] = math.Log(x + 1e-12)
			}
		}
	}
	for k := range out {
		out[k] *= beta
	}
	softmax(out)
}
