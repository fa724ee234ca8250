package sklearn

import (
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// gradientBoosting is GradientBoostingClassifier: raw predictions start
// at the init estimator's (a DummyClassifier's class prior through the
// loss's link, or zero) and each stage adds learning_rate times each of
// its regression trees' leaf value, in stage order as
// _gradient_boosting.pyx's predict_stages does; probabilities are the
// loss's inverse link of the raw predictions.
type gradientBoosting struct {
	stages  [][]*nodeTree // n_estimators × K
	lr      float64
	init    []float64 // K raw predictions every row starts from
	expo    bool      // loss='exponential': p = expit(2·raw)
	classes int
	nf      int
}

func (t *translator) gradientBoosting(o obj, labels []string) (classifier, error) {
	nf, err := o.integer("n_features_in_", -1)
	if err != nil || nf < 0 {
		return nil, o.errf("missing n_features_in_ (is it fitted?)")
	}
	k := len(labels)
	if k == 2 {
		k = 1
	}
	g := &gradientBoosting{classes: len(labels), nf: nf}
	loss, err := o.str("loss", "log_loss")
	if err != nil {
		return nil, err
	}
	switch loss {
	case "log_loss", "deviance":
	case "exponential":
		if len(labels) != 2 {
			return nil, o.errf("loss='exponential' with %d classes", len(labels))
		}
		g.expo = true
	default:
		return nil, fmt.Errorf("%w: GradientBoostingClassifier loss %q (supported: log_loss, exponential)", model.ErrUnsupported, loss)
	}
	if g.lr, err = o.float("learning_rate"); err != nil {
		return nil, err
	}
	if g.init, err = boostingInit(o, len(labels), g.expo); err != nil {
		return nil, err
	}
	ev, ok := o.get("estimators_")
	ea, ok2 := ev.(*numpy.Array)
	if !ok || !ok2 || ea.Dtype.Kind != 'O' || len(ea.Shape) != 2 || ea.Shape[1] != k || ea.Shape[0] == 0 {
		return nil, o.errf("estimators_ is %s, want an object array of shape (n_estimators, %d)", pickle.Describe(ev), k)
	}
	items, err := ea.Values()
	if err != nil {
		return nil, o.errf("estimators_: %v", err)
	}
	for i := 0; i < ea.Shape[0]; i++ {
		stage := make([]*nodeTree, k)
		for j := 0; j < k; j++ {
			it := items[i*k+j]
			to, ok := asObj(it)
			if !ok || to.name() != "DecisionTreeRegressor" {
				return nil, o.errf("estimators_[%d, %d] is %s, want a DecisionTreeRegressor", i, j, pickle.Describe(it))
			}
			t.via = "estimators_"
			leave, err := t.enter(to)
			if err != nil {
				return nil, err
			}
			stage[j], err = treeOf(to, nf, 1)
			leave()
			if err != nil {
				return nil, err
			}
		}
		g.stages = append(g.stages, stage)
	}
	return g, nil
}

// boostingInit is _init_raw_predictions for the init estimators a text
// model has: 'zero', or a DummyClassifier with strategy 'prior' (the
// default), whose probabilities, the class prior, are clipped to
// [eps, 1-eps] and mapped through the loss's link: logit (halved for the
// exponential loss) for two classes, log(p / gmean(p)) for more.
func boostingInit(o obj, nclasses int, expo bool) ([]float64, error) {
	k := nclasses
	if k == 2 {
		k = 1
	}
	iv, ok := o.get("init_")
	if !ok {
		return nil, o.errf("missing init_ (is it fitted?)")
	}
	if iv == "zero" {
		return make([]float64, k), nil
	}
	io, ok := asObj(iv)
	if !ok || io.name() != "DummyClassifier" {
		return nil, fmt.Errorf("%w: GradientBoostingClassifier init_ is %s; mlserve serves init=None (the class prior) or 'zero'",
			model.ErrUnsupported, pickle.Describe(iv))
	}
	if s, err := io.str("strategy", "prior"); err != nil || s != "prior" {
		return nil, fmt.Errorf("%w: GradientBoostingClassifier init_ is a DummyClassifier with strategy %q; mlserve serves 'prior'", model.ErrUnsupported, s)
	}
	prior, _, err := io.floats("class_prior_")
	if err != nil {
		return nil, err
	}
	if len(prior) != nclasses {
		return nil, io.errf("class_prior_ has %d values for %d classes", len(prior), nclasses)
	}
	const eps = 0x1p-52 // np.finfo(np.float64).eps
	clip := func(p float64) float64 { return math.Min(math.Max(p, eps), 1-eps) }
	if nclasses == 2 {
		p := clip(prior[1])
		raw := math.Log(p / (1 - p))
		if expo {
			raw *= 0.5
		}
		return []float64{raw}, nil
	}
	out := make([]float64, k)
	var s float64
	for j, p := range prior {
		out[j] = clip(p)
		s += math.Log(out[j])
	}
	gm := math.Exp(s / float64(k))
	for j := range out {
		out[j] = math.Log(out[j] / gm)
	}
	return out, nil
}

func (g *gradientBoosting) nClasses() int       { return g.classes }
func (g *gradientBoosting) nDecision() int      { return len(g.init) }
func (g *gradientBoosting) probabilistic() bool { return true }
func (g *gradientBoosting) nFeatures() int      { return g.nf }

func (g *gradientBoosting) score(v *vec, dec, proba []float64) int {
	raw := dec[:len(g.init)]
	copy(raw, g.init)
	for _, stage := range g.stages {
		for j, tr := range stage {
			raw[j] += float64(g.lr * tr.values(v)[0]) // no fused multiply-add
		}
	}
	if len(raw) == 1 {
		if proba != nil {
			x := raw[0]
			if g.expo {
				x *= 2
			}
			p := expit(x)
			proba[0], proba[1] = 1-p, p
		}
		if raw[0] >= 0 {
			return 1
		}
		return 0
	}
	if proba != nil {
		copy(proba, raw)
		softmax(proba[:g.classes])
	}
	return argmax(raw)
}
