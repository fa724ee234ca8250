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
// Releases before 1.8 clip at float32's eps, later ones at float64's; those
// before 1.4 (the _gb_losses objects) take log(p) for more than two classes.
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
	eps := 0x1p-52 // np.finfo(np.float64).eps
	if versionBelow(o, 1, 8) {
		eps = 0x1p-23 // np.finfo(np.float32).eps
	}
	old := versionBelow(o, 1, 4)
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
	if old {
		for j, p := range prior {
			out[j] = math.Log(clip(p))
		}
		return out, nil
	}
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

// adaBoost is AdaBoostClassifier (SAMME): each member's vote for the class
// it predicts weighs its estimator weight, every other class -w/(K-1);
// the sum over members, divided by the sum of the weights, is the decision
// (for two classes, the second column minus the first); probabilities are
// the softmax of the decision over K-1 (two classes: of ±decision/2).
// Releases before 1.3 gave the other classes 0 instead of -w/(K-1); and
// before 1.6 a file may hold SAMME.R (the default until 1.4), whose members
// vote with (K-1)·(log p - mean log p) of their clipped probabilities.
type adaBoost struct {
	est     []classifier
	vote    [][]int // member i's predicted index → the ensemble's class
	weights []float64
	wsum    float64
	classes int
	nf      int
	// zeroOther: the other classes get 0, not -w/(K-1) (before 1.3).
	zeroOther bool
	// real: SAMME.R.
	real bool
}

func (t *translator) adaBoost(o obj, labels []string) (classifier, error) {
	alg, err := o.str("algorithm", "SAMME")
	if err != nil || alg != "SAMME" && alg != "deprecated" && alg != "SAMME.R" {
		return nil, fmt.Errorf("%w: AdaBoostClassifier algorithm %q; mlserve serves 'SAMME' and 'SAMME.R'",
			model.ErrUnsupported, alg)
	}
	cs, ls, err := t.members(o, "estimators_")
	if err != nil {
		return nil, err
	}
	w, _, err := o.floats("estimator_weights_")
	if err != nil {
		return nil, err
	}
	if len(w) < len(cs) {
		return nil, o.errf("estimator_weights_ has %d values for %d estimators_", len(w), len(cs))
	}
	a := &adaBoost{est: cs, weights: w[:len(cs)], wsum: pairwiseSum(w), classes: len(labels), nf: cs[0].nFeatures(),
		zeroOther: versionBelow(o, 1, 3), real: alg == "SAMME.R"}
	if a.wsum == 0 {
		return nil, o.errf("estimator_weights_ sum to 0")
	}
	pos := make(map[string]int, len(labels))
	for i, l := range labels {
		pos[l] = i
	}
	for i, ml := range ls {
		v := make([]int, len(ml))
		for j, l := range ml {
			k, ok := pos[l]
			if !ok {
				return nil, o.errf("estimators_[%d] predicts class %q, not in classes_", i, l)
			}
			v[j] = k
		}
		if a.real && (len(v) != len(labels) || !cs[i].probabilistic()) {
			return nil, o.errf("SAMME.R estimators_[%d] has no probability for each of the %d classes", i, len(labels))
		}
		a.vote = append(a.vote, v)
	}
	return a, nil
}

func (a *adaBoost) nClasses() int       { return a.classes }
func (a *adaBoost) probabilistic() bool { return true }
func (a *adaBoost) nFeatures() int      { return a.nf }
func (a *adaBoost) nDecision() int {
	if a.classes == 2 {
		return 1
	}
	return a.classes
}

func (a *adaBoost) score(v *vec, dec, proba []float64) int {
	s := newScratch(a.est)
	n := a.classes
	pred := make([]float64, n)
	other := -1 / float64(n-1)
	if a.zeroOther {
		other = 0
	}
	for i, c := range a.est {
		k := a.vote[i][c.score(v, s[i].dec, s[i].proba)]
		if a.real {
			a.addReal(pred, a.vote[i], s[i].proba)
			continue
		}
		w := a.weights[i]
		for j := range pred {
			if j == k {
				pred[j] += w
			} else {
				pred[j] += float64(other * w)
			}
		}
	}
	for j := range pred {
		pred[j] /= a.wsum
	}
	if n == 2 {
		d := -pred[0] + pred[1]
		dec[0] = d
		if proba != nil {
			proba[0], proba[1] = -d/2, d/2
			softmax(proba[:2])
		}
		if d > 0 {
			return 1
		}
		return 0
	}
	copy(dec, pred)
	if proba != nil {
		for j := range pred {
			proba[j] = pred[j] / float64(n-1)
		}
		softmax(proba[:n])
	}
	return argmax(pred)
}

// samme R's floor for a member's probability (numpy's float64 eps).
const sammeEps = 0x1p-52

// addReal adds a SAMME.R member's vote to pred: (K-1)·(log p - (1/K)·Σ log p)
// of its probabilities p clipped below at eps, as scikit-learn's _samme_proba.
func (a *adaBoost) addReal(pred []float64, vote []int, p []float64) {
	n := a.classes
	var lp [maxRealClasses]float64
	logs := lp[:0]
	if n > maxRealClasses {
		logs = make([]float64, 0, n)
	}
	logs = logs[:n]
	var sum float64
	for m, c := range vote {
		logs[c] = math.Log(max(p[m], sammeEps))
	}
	for _, l := range logs {
		sum += l
	}
	mean := 1 / float64(n) * sum
	for j, l := range logs {
		pred[j] += float64(n-1) * (l - mean)
	}
}

// maxRealClasses is how many classes addReal keeps on the stack.
const maxRealClasses = 16

// pairwiseSum is numpy's sum of a float64 array: below 8 values in order;
// up to 128, eight interleaved partial sums combined pairwise, then the
// rest; above, the two halves (split at a multiple of 8) summed so.
func pairwiseSum(x []float64) float64 {
	n := len(x)
	switch {
	case n < 8:
		var s float64
		for _, v := range x {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], x[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += x[i+j]
			}
		}
		s := (r[0] + r[1]) + (r[2] + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += x[i]
		}
		return s
	}
	m := n / 2
	m -= m % 8
	return pairwiseSum(x[:m]) + pairwiseSum(x[m:])
}

// histGradientBoosting is HistGradientBoostingClassifier on dense rows
// (it takes no sparse input: in a text pipeline it follows a TruncatedSVD
// or another dense step). Raw predictions start at _baseline_prediction
// and add each iteration's TreePredictor leaf value (the learning rate is
// already in it); a split compares the float64 feature with num_threshold,
// a NaN going the node's missing_go_to_left way.
type histGradientBoosting struct {
	iters    [][]*histTree // n_iter × K
	baseline []float64
	classes  int
	nf       int
}

// histTree is one TreePredictor's nodes.
type histTree struct {
	value     []float64
	feature   []int32
	threshold []float64
	left      []int32
	right     []int32
	leaf      []bool
	nanLeft   []bool
}

func (h *histTree) predict(x []float64) float64 {
	n := int32(0)
	for !h.leaf[n] {
		v := x[h.feature[n]]
		switch {
		case v != v: // NaN
			if h.nanLeft[n] {
				n = h.left[n]
			} else {
				n = h.right[n]
			}
		case v <= h.threshold[n]:
			n = h.left[n]
		default:
			n = h.right[n]
		}
	}
	return h.value[n]
}

func (t *translator) histGradientBoosting(o obj, labels []string) (classifier, error) {
	nf, err := o.integer("n_features_in_", -1)
	if err != nil || nf < 0 {
		return nil, o.errf("missing n_features_in_ (is it fitted?)")
	}
	if p, ok := o.get("_preprocessor"); ok && p != nil {
		return nil, fmt.Errorf("%w: HistGradientBoostingClassifier with categorical features (a _preprocessor) takes a data frame, not text features", model.ErrUnsupported)
	}
	k := len(labels)
	if k == 2 {
		k = 1
	}
	h := &histGradientBoosting{classes: len(labels), nf: nf}
	if h.baseline, _, err = o.floats("_baseline_prediction"); err != nil {
		return nil, err
	}
	if len(h.baseline) != k {
		return nil, o.errf("_baseline_prediction has %d values, want %d", len(h.baseline), k)
	}
	pv, _ := o.get("_predictors")
	pl, ok := pv.(*pickle.List)
	if !ok || len(pl.Items) == 0 {
		return nil, o.errf("_predictors is %s, want a list of iterations", pickle.Describe(pv))
	}
	for i, it := range pl.Items {
		il, ok := it.(*pickle.List)
		if !ok || len(il.Items) != k {
			return nil, o.errf("_predictors[%d] is %s, want %d predictors", i, pickle.Describe(it), k)
		}
		var iter []*histTree
		for j, p := range il.Items {
			po, ok := asObj(p)
			if !ok || po.name() != "TreePredictor" {
				return nil, o.errf("_predictors[%d][%d] is %s, want a TreePredictor", i, j, pickle.Describe(p))
			}
			ht, err := histTreeOf(po, nf)
			if err != nil {
				return nil, err
			}
			iter = append(iter, ht)
		}
		h.iters = append(h.iters, iter)
	}
	return h, nil
}

// histTreeOf reads a TreePredictor's nodes (PREDICTOR_RECORD_DTYPE),
// refusing categorical splits and children that do not come after their
// parent (the grower numbers nodes so; it bounds every walk).
func histTreeOf(po obj, nf int) (*histTree, error) {
	nv, _ := po.get("nodes")
	na, ok := nv.(*numpy.Array)
	if !ok {
		return nil, po.errf("nodes is %s", pickle.Describe(nv))
	}
	field := func(name string) ([]float64, error) {
		f, err := na.Field(name)
		if err != nil {
			return nil, po.errf("nodes: %v", err)
		}
		v, err := f.Float64s()
		if err != nil {
			return nil, po.errf("nodes[%q]: %v", name, err)
		}
		return v, nil
	}
	cols := map[string][]float64{}
	for _, name := range []string{"value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf", "is_categorical"} {
		v, err := field(name)
		if err != nil {
			return nil, err
		}
		cols[name] = v
	}
	n := len(cols["value"])
	if n == 0 {
		return nil, po.errf("no nodes")
	}
	h := &histTree{value: cols["value"], threshold: cols["num_threshold"],
		feature: make([]int32, n), left: make([]int32, n), right: make([]int32, n), leaf: make([]bool, n), nanLeft: make([]bool, n)}
	for i := 0; i < n; i++ {
		h.leaf[i] = cols["is_leaf"][i] != 0
		h.nanLeft[i] = cols["missing_go_to_left"][i] != 0
		if h.leaf[i] {
			if err := po.finite("nodes.value", h.value[i:i+1], nil, false); err != nil {
				return nil, err
			}
			continue
		}
		if cols["is_categorical"][i] != 0 {
			return nil, fmt.Errorf("%w: HistGradientBoostingClassifier with a categorical split (node %d); text features are numeric", model.ErrUnsupported, i)
		}
		f, l, r := cols["feature_idx"][i], cols["left"][i], cols["right"][i]
		if f < 0 || f >= float64(nf) || l <= float64(i) || r <= float64(i) || l >= float64(n) || r >= float64(n) {
			return nil, po.errf("node %d splits on feature %v into %v and %v, of %d nodes and %d features", i, f, l, r, n, nf)
		}
		if h.threshold[i] != h.threshold[i] {
			return nil, po.errf("node %d has a NaN threshold", i)
		}
		h.feature[i], h.left[i], h.right[i] = int32(f), int32(l), int32(r)
	}
	return h, nil
}

func (h *histGradientBoosting) nClasses() int       { return h.classes }
func (h *histGradientBoosting) nDecision() int      { return len(h.baseline) }
func (h *histGradientBoosting) probabilistic() bool { return true }
func (h *histGradientBoosting) nFeatures() int      { return h.nf }

func (h *histGradientBoosting) score(v *vec, dec, proba []float64) int {
	x := v.dense
	if !v.isDense {
		// Not reached from a text pipeline's translation (dense steps
		// only), kept total: the row expanded.
		x = make([]float64, h.nf)
		for k, j := range v.sp.Idx {
			x[j] = v.sp.Val[k]
		}
	}
	raw := dec[:len(h.baseline)]
	copy(raw, h.baseline)
	for _, it := range h.iters {
		for k, tr := range it {
			raw[k] += tr.predict(x)
		}
	}
	if len(raw) == 1 {
		if proba != nil {
			p := expit(raw[0])
			proba[0], proba[1] = 1-p, p
		}
		if raw[0] > 0 {
			return 1
		}
		return 0
	}
	if proba != nil {
		copy(proba, raw)
		softmax(proba[:h.classes])
	}
	return argmax(raw)
}
