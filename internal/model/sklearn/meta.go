package sklearn

import (
	"fmt"
	"strconv"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// Meta-estimators: classifiers whose prediction combines other fitted
// classifiers (OneVsRestClassifier, OneVsOneClassifier, VotingClassifier,
// StackingClassifier). Each member is translated by the same classifier
// translator as a pipeline's last step, so a meta-estimator around any
// supported classifier (SGDClassifier, LinearSVC, a calibrated model, a
// tree) works, and each computes what scikit-learn's multiclass.py and
// ensemble/_voting.py, _stacking.py compute, in the same order of
// operations.

// moreClassifier returns the translation of the classifiers this file and
// the model files beside it add, by class name, nil for any other;
// translate.go's classifier falls back to it.
func moreClassifier(name string) func(t *translator, o obj, labels []string) (classifier, error) {
	switch name {
	case "OneVsRestClassifier":
		return (*translator).oneVsRest
	case "OneVsOneClassifier":
		return (*translator).oneVsOne
	case "VotingClassifier":
		return (*translator).voting
	case "StackingClassifier":
		return (*translator).stacking
	case "LogisticRegressionCV", "RidgeClassifierCV":
		return linearCV
	case "LinearDiscriminantAnalysis":
		return ldaClassifier
	}
	return modelClassifier(name)
}

// linearCV is LogisticRegressionCV and RidgeClassifierCV: once fitted, the
// linear model of the best regularization, scored as their non-CV
// counterparts score.
func linearCV(_ *translator, o obj, labels []string) (classifier, error) {
	l, err := linearOf(o, len(labels))
	if err != nil {
		return nil, err
	}
	l.rule, err = linearRule(o, len(labels))
	return l, err
}

// members translates the fitted classifiers in attribute name (a list),
// each with the labels it was fitted on; all must take the same features.
func (t *translator) members(o obj, name string) ([]classifier, [][]string, error) {
	v, ok := o.get(name)
	if !ok {
		return nil, nil, o.errf("missing %s (is it fitted?)", name)
	}
	var items []any
	switch l := v.(type) {
	case *pickle.List:
		items = l.Items
	case pickle.Tuple: // OneVsOneClassifier keeps a tuple
		items = l
	}
	if len(items) == 0 {
		return nil, nil, o.errf("%s is %s, want a non-empty list of fitted estimators", name, pickle.Describe(v))
	}
	saved := t.chain
	var cs []classifier
	var ls [][]string
	for i, it := range items {
		t.via = name
		if m, ok := asObj(it); ok && m.name() == "_ConstantPredictor" {
			return nil, nil, fmt.Errorf("%w: %s.%s[%d] is a _ConstantPredictor (a class absent from the training data); refit with every class present",
				model.ErrUnsupported, o.name(), name, i)
		}
		var c classifier
		var labels []string
		var err error
		if t.text != nil {
			c, labels, err = t.textMember(it, name, i)
		} else {
			c, labels, err = t.classifier(it)
		}
		if err != nil {
			return nil, nil, err
		}
		if i > 0 {
			t.chain = saved // Info names the first member's chain only
		}
		if len(cs) > 0 && c.nFeatures() != cs[0].nFeatures() {
			return nil, nil, o.errf("%s[%d] takes %d features, %s[0] %d", name, i, c.nFeatures(), name, cs[0].nFeatures())
		}
		cs = append(cs, c)
		ls = append(ls, labels)
	}
	return cs, ls, nil
}

// checkEncoded checks that a member was fitted on the label-encoded target
// (classes 0 … n-1), as Voting and Stacking fit theirs.
func checkEncoded(o obj, name string, i int, labels []string, n int) error {
	if len(labels) != n {
		return o.errf("%s[%d] has %d classes, the ensemble %d", name, i, len(labels), n)
	}
	for k, l := range labels {
		if l != strconv.Itoa(k) {
			return o.errf("%s[%d] has classes %v, want the encoded 0 … %d", name, i, labels, n-1)
		}
	}
	return nil
}

// scratch holds one member's outputs while a meta-estimator scores a row.
type scratch struct{ dec, proba []float64 }

// newScratch allocates outputs for each member in one backing array.
func newScratch(cs []classifier) []scratch {
	n := 0
	for _, c := range cs {
		n += max(c.nDecision(), 1) + c.nClasses()
	}
	buf := make([]float64, n)
	out := make([]scratch, len(cs))
	for i, c := range cs {
		nd := max(c.nDecision(), 1)
		out[i].dec, buf = buf[:nd:nd], buf[nd:]
		if c.probabilistic() {
			out[i].proba = buf[:c.nClasses():c.nClasses()]
		}
		buf = buf[c.nClasses():]
	}
	return out
}

// binaryScore is multiclass.py's _predict_binary for a member fitted on
// {0, 1}: its decision value if it has a decision_function, else the
// probability of class 1.
func binaryScore(c classifier, s scratch) float64 {
	if c.nDecision() > 0 {
		return s.dec[0]
	}
	return s.proba[1]
}

// binaryThreshold is _threshold_for_binary_predict: 0 for a decision
// value, 0.5 for a probability.
func binaryThreshold(c classifier) float64 {
	if c.nDecision() > 0 {
		return 0
	}
	return 0.5
}

// oneVsRest is OneVsRestClassifier (single-label): one binary member per
// class (one in all when there are two classes).
type oneVsRest struct {
	est     []classifier
	classes int
	nf      int
	dec     bool // every member has a decision_function
	proba   bool // every member has predict_proba
}

func (t *translator) oneVsRest(o obj, labels []string) (classifier, error) {
	if lb, ok := asObj(mustGet(o, "label_binarizer_")); ok {
		if yt, _ := lb.str("y_type_", ""); yt != "binary" && yt != "multiclass" {
			return nil, fmt.Errorf("%w: OneVsRestClassifier fitted on a %q target; mlserve serves single-label classification", model.ErrUnsupported, yt)
		}
	}
	cs, ls, err := t.members(o, "estimators_")
	if err != nil {
		return nil, err
	}
	want := len(labels)
	if want == 2 {
		want = 1
	}
	if len(cs) != want {
		return nil, o.errf("%d estimators_ for %d classes", len(cs), len(labels))
	}
	r := &oneVsRest{est: cs, classes: len(labels), nf: cs[0].nFeatures(), dec: true, proba: true}
	for i, c := range cs {
		if len(ls[i]) != 2 {
			return nil, o.errf("estimators_[%d] has %d classes, want the binary 0/1", i, len(ls[i]))
		}
		r.dec = r.dec && c.nDecision() == 1
		r.proba = r.proba && c.probabilistic()
		if c.nDecision() == 0 && !c.probabilistic() {
			return nil, o.errf("estimators_[%d] (%s) has neither decision_function nor predict_proba", i, t.chain[len(t.chain)-1])
		}
	}
	return r, nil
}

func (r *oneVsRest) nClasses() int       { return r.classes }
func (r *oneVsRest) probabilistic() bool { return r.proba }
func (r *oneVsRest) nFeatures() int      { return r.nf }
func (r *oneVsRest) nDecision() int {
	if !r.dec {
		return 0
	}
	return len(r.est)
}

func (r *oneVsRest) score(v *vec, dec, proba []float64) int {
	s := newScratch(r.est)
	for i, c := range r.est {
		c.score(v, s[i].dec, s[i].proba)
	}
	if r.dec {
		for i := range r.est {
			dec[i] = s[i].dec[0]
		}
	}
	if proba != nil && r.proba {
		if len(r.est) == 1 {
			p := s[0].proba[1]
			proba[0], proba[1] = 1-p, p
		} else {
			for i := range r.est {
				proba[i] = s[i].proba[1]
			}
		}
		var sum float64
		for _, p := range proba[:r.classes] {
			sum += p
		}
		if sum != 0 {
			for k := range proba[:r.classes] {
				proba[k] /= sum
			}
		}
	}
	if len(r.est) == 1 {
		if binaryScore(r.est[0], s[0]) > binaryThreshold(r.est[0]) {
			return 1
		}
		return 0
	}
	best, bestV := 0, binaryScore(r.est[0], s[0])
	for i := 1; i < len(r.est); i++ {
		if x := binaryScore(r.est[i], s[i]); x > bestV {
			best, bestV = i, x
		}
	}
	return best
}

// oneVsOne is OneVsOneClassifier: a binary member for each pair i < j of
// classes (0 for i, 1 for j), combined by utils.multiclass's
// _ovr_decision_function (votes plus confidences squashed into (-1/3, 1/3)).
type oneVsOne struct {
	est     []classifier
	classes int
	nf      int
}

func (t *translator) oneVsOne(o obj, labels []string) (classifier, error) {
	if pi, ok := o.get("pairwise_indices_"); ok && pi != nil {
		return nil, fmt.Errorf("%w: OneVsOneClassifier on a precomputed kernel (pairwise_indices_ set) takes a kernel matrix, not text features", model.ErrUnsupported)
	}
	cs, ls, err := t.members(o, "estimators_")
	if err != nil {
		return nil, err
	}
	n := len(labels)
	if len(cs) != n*(n-1)/2 {
		return nil, o.errf("%d estimators_ for %d classes, want %d", len(cs), n, n*(n-1)/2)
	}
	for i := range cs {
		if len(ls[i]) != 2 {
			return nil, o.errf("estimators_[%d] has %d classes, want the binary 0/1", i, len(ls[i]))
		}
		if cs[i].nDecision() == 0 && !cs[i].probabilistic() {
			return nil, o.errf("estimators_[%d] has neither decision_function nor predict_proba", i)
		}
	}
	return &oneVsOne{est: cs, classes: n, nf: cs[0].nFeatures()}, nil
}

func (r *oneVsOne) nClasses() int       { return r.classes }
func (r *oneVsOne) probabilistic() bool { return false }
func (r *oneVsOne) nFeatures() int      { return r.nf }
func (r *oneVsOne) nDecision() int {
	if r.classes == 2 {
		return 1
	}
	return r.classes
}

func (r *oneVsOne) score(v *vec, dec, _ []float64) int {
	s := newScratch(r.est)
	n := r.classes
	y := make([]float64, 2*n)
	votes, conf := y[:n], y[n:]
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			c := r.est[k]
			pred := c.score(v, s[k].dec, s[k].proba)
			x := binaryScore(c, s[k])
			conf[i] -= x
			conf[j] += x
			if pred == 0 {
				votes[i]++
			} else {
				votes[j]++
			}
			k++
		}
	}
	for c := range votes {
		votes[c] += conf[c] / (3 * (abs(conf[c]) + 1))
	}
	if n == 2 {
		dec[0] = votes[1]
		if votes[1] > binaryThreshold(r.est[0]) {
			return 1
		}
		return 0
	}
	copy(dec, votes)
	return argmax(votes)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// voting is VotingClassifier: members fitted on the label-encoded target;
// hard voting takes the (weighted) most common prediction, soft voting
// the (weighted) average of the probabilities.
type voting struct {
	est     []classifier
	weights []float64 // nil: unweighted
	soft    bool
	classes int
	nf      int
}

func (t *translator) voting(o obj, labels []string) (classifier, error) {
	kind, err := o.str("voting", "hard")
	if err != nil {
		return nil, err
	}
	if kind != "hard" && kind != "soft" {
		return nil, o.errf("voting is %q, want 'hard' or 'soft'", kind)
	}
	cs, ls, err := t.members(o, "estimators_")
	if err != nil {
		return nil, err
	}
	r := &voting{est: cs, soft: kind == "soft", classes: len(labels), nf: cs[0].nFeatures()}
	for i := range cs {
		if err := checkEncoded(o, "estimators_", i, ls[i], len(labels)); err != nil {
			return nil, err
		}
		if r.soft && !cs[i].probabilistic() {
			return nil, o.errf("voting='soft' but estimators_[%d] has no predict_proba", i)
		}
	}
	if r.weights, err = votingWeights(o, len(cs)); err != nil {
		return nil, err
	}
	return r, nil
}

// votingWeights is _weights_not_none: the weights of the estimators that
// were not dropped, nil when weights is None.
func votingWeights(o obj, n int) ([]float64, error) {
	wv, ok := o.get("weights")
	if !ok || wv == nil {
		return nil, nil
	}
	ws, err := floatList(o, "weights", wv)
	if err != nil {
		return nil, err
	}
	ev, _ := o.get("estimators")
	el, ok := ev.(*pickle.List)
	if !ok || len(el.Items) != len(ws) {
		return nil, o.errf("weights has %d values for estimators %s", len(ws), pickle.Describe(ev))
	}
	var out []float64
	for i, it := range el.Items {
		if tu, ok := it.(pickle.Tuple); ok && len(tu) == 2 && tu[1] == "drop" {
			continue
		}
		out = append(out, ws[i])
	}
	if len(out) != n {
		return nil, o.errf("%d weights for %d fitted estimators", len(out), n)
	}
	if err := o.finite("weights", out, nil, false); err != nil {
		return nil, err
	}
	return out, nil
}

// floatList reads a list, tuple or array of numbers.
func floatList(o obj, name string, v any) ([]float64, error) {
	var items []any
	switch x := v.(type) {
	case *pickle.List:
		items = x.Items
	case pickle.Tuple:
		items = x
	default:
		f, _, err := o.floats(name)
		return f, err
	}
	out := make([]float64, len(items))
	for i, it := range items {
		f, ok := toFloat(it)
		if !ok {
			return nil, o.errf("%s[%d] is %s, want a number", name, i, pickle.Describe(it))
		}
		out[i] = f
	}
	return out, nil
}

func (r *voting) nClasses() int       { return r.classes }
func (r *voting) nDecision() int      { return 0 }
func (r *voting) probabilistic() bool { return r.soft }
func (r *voting) nFeatures() int      { return r.nf }

func (r *voting) score(v *vec, _, proba []float64) int {
	s := newScratch(r.est)
	if !r.soft {
		counts := make([]float64, r.classes)
		for i, c := range r.est {
			p := c.score(v, s[i].dec, s[i].proba)
			w := 1.0
			if r.weights != nil {
				w = r.weights[i]
			}
			counts[p] += w
		}
		return argmax(counts)
	}
	for i, c := range r.est {
		c.score(v, s[i].dec, s[i].proba)
	}
	// np.average(probas, axis=0, weights): Σ p·w over the members in
	// order, divided by Σ w (the mean when unweighted).
	for k := range proba[:r.classes] {
		var sum, wsum float64
		for i := range r.est {
			if r.weights == nil {
				sum += s[i].proba[k]
			} else {
				sum += s[i].proba[k] * r.weights[i]
				wsum += r.weights[i]
			}
		}
		if r.weights == nil {
			wsum = float64(len(r.est))
		}
		proba[k] = sum / wsum
	}
	return argmax(proba[:r.classes])
}

// stacking is StackingClassifier: the final estimator on the members'
// stacked outputs (each member's predict_proba, decision_function or
// predict, binary probabilities as the positive column only), followed by
// the input row itself when passthrough.
type stacking struct {
	est         []classifier
	method      []stackMethod
	final       classifier
	passthrough bool
	classes     int
	nf          int
	width       int // stacked outputs, before the passthrough row
}

type stackMethod int

const (
	stackProba stackMethod = iota
	stackDecision
	stackPredict
)

func (t *translator) stacking(o obj, labels []string) (classifier, error) {
	cs, ls, err := t.members(o, "estimators_")
	if err != nil {
		return nil, err
	}
	mv, _ := o.get("stack_method_")
	ml, ok := mv.(*pickle.List)
	if !ok {
		return nil, o.errf("stack_method_ is %s", pickle.Describe(mv))
	}
	var methods []string
	for _, it := range ml.Items {
		if it == "drop" || it == nil {
			continue
		}
		s, ok := it.(string)
		if !ok {
			return nil, o.errf("stack_method_ holds %s", pickle.Describe(it))
		}
		methods = append(methods, s)
	}
	if len(methods) != len(cs) {
		return nil, o.errf("%d stack methods for %d estimators_", len(methods), len(cs))
	}
	r := &stacking{est: cs, classes: len(labels), nf: cs[0].nFeatures()}
	if r.passthrough, err = o.boolean("passthrough", false); err != nil {
		return nil, err
	}
	for i, m := range methods {
		c := cs[i]
		if err := checkEncoded(o, "estimators_", i, ls[i], len(labels)); err != nil {
			return nil, err
		}
		switch {
		case m == "predict_proba" && c.probabilistic():
			r.method = append(r.method, stackProba)
			r.width += c.nClasses()
			if c.nClasses() == 2 {
				r.width--
			}
		case m == "decision_function" && c.nDecision() > 0:
			r.method = append(r.method, stackDecision)
			r.width += c.nDecision()
		case m == "predict":
			r.method = append(r.method, stackPredict)
			r.width++
		default:
			return nil, o.errf("stack_method_[%d] is %q, which estimators_[%d] does not have", i, m, i)
		}
	}
	fv, ok := o.get("final_estimator_")
	if !ok {
		return nil, o.errf("missing final_estimator_ (is it fitted?)")
	}
	t.via = "final_estimator_"
	final, fl, err := t.classifier(fv)
	if err != nil {
		return nil, err
	}
	if err := checkEncoded(o, "final_estimator_", 0, fl, len(labels)); err != nil {
		return nil, err
	}
	want := r.width
	if r.passthrough {
		want += r.nf
	}
	if final.nFeatures() != want {
		return nil, o.errf("final_estimator_ takes %d features, the stacked outputs are %d", final.nFeatures(), want)
	}
	r.final = final
	return r, nil
}

func (r *stacking) nClasses() int       { return r.classes }
func (r *stacking) nDecision() int      { return r.final.nDecision() }
func (r *stacking) probabilistic() bool { return r.final.probabilistic() }
func (r *stacking) nFeatures() int      { return r.nf }

func (r *stacking) score(v *vec, dec, proba []float64) int {
	s := newScratch(r.est)
	meta := make([]float64, 0, r.width)
	for i, c := range r.est {
		p := c.score(v, s[i].dec, s[i].proba)
		switch r.method[i] {
		case stackProba:
			if c.nClasses() == 2 {
				meta = append(meta, s[i].proba[1])
			} else {
				meta = append(meta, s[i].proba...)
			}
		case stackDecision:
			meta = append(meta, s[i].dec[:c.nDecision()]...)
		case stackPredict:
			meta = append(meta, float64(p)) // classes are the encoded 0 … n-1
		}
	}
	var x vec
	switch {
	case !r.passthrough:
		x.dense, x.isDense = meta, true
	case v.isDense:
		x.dense, x.isDense = append(meta, v.dense...), true
	default:
		// sparse.hstack: the stacked columns, then the row's own.
		x.sp.Idx = make([]int32, 0, len(meta)+len(v.sp.Idx))
		x.sp.Val = make([]float64, 0, len(meta)+len(v.sp.Idx))
		for j, m := range meta {
			if m != 0 {
				x.sp.Idx = append(x.sp.Idx, int32(j))
				x.sp.Val = append(x.sp.Val, m)
			}
		}
		for k, j := range v.sp.Idx {
			x.sp.Idx = append(x.sp.Idx, j+int32(r.width))
			x.sp.Val = append(x.sp.Val, v.sp.Val[k])
		}
	}
	return r.final.score(&x, dec, proba)
}

// allowModels adds the globals the meta-estimators and model files need
// beyond their classes: scikit-learn's Bunch (VotingClassifier's and
// StackingClassifier's named_estimators_) is a dict subclass whose items
// follow its construction, so it is decoded as a dict (sklearn.utils.Bunch
// in scikit-learn 1.0).
func allowModels(a *pickle.AllowList) {
	for _, mod := range []string{"sklearn.utils._bunch", "sklearn.utils"} {
		allowBunch(a, mod)
	}
}

func allowBunch(a *pickle.AllowList, mod string) {
	a.Allow(mod, "Bunch", pickle.Handler{Call: func(cls pickle.Global, args pickle.Tuple, kwargs *pickle.Dict) (any, error) {
		if len(args) > 0 {
			return nil, fmt.Errorf("%w: %s.%s takes no positional arguments in a pickle", pickle.ErrMalformed, cls.Module, cls.Name)
		}
		d := pickle.NewDict(0)
		if kwargs != nil {
			if err := kwargs.Each(d.Set); err != nil {
				return nil, err
			}
		}
		return d, nil
	}})
	allowTrees(a)
}
