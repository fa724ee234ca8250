package sklearn

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// selectionStep translates the feature selectors and scalers that sit
// between a vectorizer and a classifier: SelectKBest, SelectPercentile,
// GenericUnivariateSelect (k_best, percentile) and VarianceThreshold keep
// the columns of their fitted support mask (whatever the score function
// was: at predict time it is a mask), MaxAbsScaler and MinMaxScaler scale.
// ok is false for any other estimator.
func (t *translator) selectionStep(o obj) (r rowStep, ok bool, err error) {
	switch o.name() {
	case "SelectKBest", "SelectPercentile", "GenericUnivariateSelect", "VarianceThreshold",
		"SelectFpr", "SelectFdr", "SelectFwe":
		mask, err := supportMask(o)
		if err != nil {
			return nil, true, err
		}
		return newMaskStep(o.name(), mask), true, nil
	case "SelectFromModel":
		mask, err := fromModelMask(o)
		if err != nil {
			return nil, true, err
		}
		return newMaskStep(o.name(), mask), true, nil
	case "MaxAbsScaler":
		s, _, err := o.floats("scale_")
		if err != nil {
			return nil, true, err
		}
		for j, x := range s {
			if x == 0 {
				return nil, true, o.errf("scale_ holds 0 at [%d]; scikit-learn stores 1 for a constant feature", j)
			}
		}
		return maxAbsStep{scale: s}, true, nil
	case "MinMaxScaler":
		s, _, err := o.floats("scale_")
		if err != nil {
			return nil, true, err
		}
		m, _, err := o.floats("min_")
		if err != nil {
			return nil, true, err
		}
		if len(s) != len(m) {
			return nil, true, o.errf("scale_ has %d values, min_ %d", len(s), len(m))
		}
		clip, err := o.boolean("clip", false)
		if err != nil {
			return nil, true, err
		}
		lo, hi := 0.0, 1.0
		if fr, ok := o.get("feature_range"); ok {
			if tu, ok := fr.(pickle.Tuple); ok && len(tu) == 2 {
				lo, _ = toFloat(tu[0])
				hi, _ = toFloat(tu[1])
			}
		}
		return minMaxStep{scale: s, min: m, clip: clip, lo: lo, hi: hi}, true, nil
	}
	return nil, false, nil
}

// rawFloats reads a float array that may hold NaN (univariate scores of a
// constant feature).
func rawFloats(o obj, name string) ([]float64, error) {
	a, ok := mustGet(o, name).(*numpy.Array)
	if !ok {
		return nil, o.errf("%s is %s (is the selector fitted?)", name, pickle.Describe(mustGet(o, name)))
	}
	vals, err := a.Values()
	if err != nil {
		return nil, o.errf("%s: %v", name, err)
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		f, ok := toFloat(v)
		if !ok {
			return nil, o.errf("%s[%d] is %s", name, i, pickle.Describe(v))
		}
		out[i] = f
	}
	return out, nil
}

// supportMask is the selector's _get_support_mask.
func supportMask(o obj) ([]bool, error) {
	if o.name() == "VarianceThreshold" {
		v, err := rawFloats(o, "variances_")
		if err != nil {
			return nil, err
		}
		th := 0.0
		if x, ok := o.get("threshold"); ok {
			if th, ok = toFloat(x); !ok {
				return nil, o.errf("threshold is %s", pickle.Describe(x))
			}
		}
		mask := make([]bool, len(v))
		for j, x := range v {
			mask[j] = x > th
		}
		return mask, nil
	}
	scores, err := rawFloats(o, "scores_")
	if err != nil {
		return nil, err
	}
	// _clean_nans: NaN scores become the smallest float.
	for j, s := range scores {
		if math.IsNaN(s) {
			scores[j] = -math.MaxFloat64
		}
	}
	mode := map[string]string{"SelectKBest": "k_best", "SelectPercentile": "percentile",
		"SelectFpr": "fpr", "SelectFdr": "fdr", "SelectFwe": "fwe"}[o.name()]
	param := map[string]string{"k_best": "k", "percentile": "percentile"}[mode]
	if param == "" {
		param = "alpha"
	}
	if o.name() == "GenericUnivariateSelect" {
		if mode, err = o.str("mode", "percentile"); err != nil {
			return nil, err
		}
		param = "param"
	}
	pv := mustGet(o, param)
	switch mode {
	case "fpr", "fdr", "fwe":
		return pvalueMask(o, mode, pv)
	case "k_best":
		if pv == "all" {
			return allTrue(len(scores)), nil
		}
		k, ok := pv.(int64)
		if !ok && o.name() == "GenericUnivariateSelect" {
			if f, isF := pv.(float64); isF && f == math.Trunc(f) {
				k, ok = int64(f), true
			}
		}
		if !ok || k < 0 || int(k) > len(scores) {
			return nil, o.errf("k is %s for %d features", pickle.Describe(pv), len(scores))
		}
		// np.argsort(scores, kind="mergesort")[-k:]: a stable sort.
		idx := make([]int, len(scores))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
		mask := make([]bool, len(scores))
		for _, j := range idx[len(idx)-int(k):] {
			mask[j] = true
		}
		return mask, nil
	case "percentile":
		p, ok := toFloat(pv)
		if !ok || p < 0 || p > 100 {
			return nil, o.errf("percentile is %s", pickle.Describe(pv))
		}
		if p == 100 {
			return allTrue(len(scores)), nil
		}
		mask := make([]bool, len(scores))
		if p == 0 || len(scores) == 0 {
			return mask, nil
		}
		th := percentile(scores, 100-p)
		n := 0
		for j, s := range scores {
			if s > th {
				mask[j] = true
				n++
			}
		}
		maxFeats := int(float64(len(scores)) * p / 100)
		for j, s := range scores {
			if s == th && n < maxFeats {
				mask[j] = true
				n++
			}
		}
		return mask, nil
	}
	return nil, fmt.Errorf("%w: %s(mode=%q): mlserve applies the modes k_best, percentile, fpr, fdr and fwe",
		model.ErrUnsupported, o.name(), mode)
}

// pvalueMask is SelectFpr, SelectFdr and SelectFwe's _get_support_mask
// (GenericUnivariateSelect's modes fpr, fdr, fwe) over pvalues_: p < alpha;
// Benjamini-Hochberg's p <= the largest sorted p(i) <= alpha/n·i; p < alpha/n.
// A NaN p-value is never selected, as numpy's comparisons say.
func pvalueMask(o obj, mode string, av any) ([]bool, error) {
	alpha, ok := toFloat(av)
	if !ok || math.IsNaN(alpha) {
		return nil, o.errf("alpha is %s", pickle.Describe(av))
	}
	p, err := rawFloats(o, "pvalues_")
	if err != nil {
		return nil, err
	}
	n := len(p)
	mask := make([]bool, n)
	switch mode {
	case "fpr", "fwe":
		th := alpha
		if mode == "fwe" {
			th = alpha / float64(n)
		}
		for j, x := range p {
			mask[j] = x < th
		}
	case "fdr":
		sv := slices.Clone(p)
		slices.SortFunc(sv, func(a, b float64) int { // np.sort: NaN last
			switch {
			case math.IsNaN(a) && math.IsNaN(b):
				return 0
			case math.IsNaN(a):
				return 1
			case math.IsNaN(b):
				return -1
			}
			return cmpFloat(a, b)
		})
		top, found := 0.0, false
		step := alpha / float64(n)
		for i, x := range sv {
			if x <= step*float64(i+1) && (!found || x > top) {
				top, found = x, true
			}
		}
		if !found {
			return mask, nil
		}
		for j, x := range p {
			mask[j] = x <= top
		}
	}
	return mask, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fromModelMask is SelectFromModel's _get_support_mask: the fitted
// estimator_'s importances (|coef_|, summed over rows as the L1 norm of
// norm_order=1 does, or feature_importances_ where it stores them), the
// max_features largest kept (a stable sort of the negated scores), then
// those below threshold dropped. The threshold is a number, "mean",
// "median" or "scale*mean|median", or, when None, 1e-5 for an
// L1-penalized estimator and "mean" otherwise.
func fromModelMask(o obj) ([]bool, error) {
	ev, ok := o.get("estimator_")
	est, isObj := asObj(ev)
	if !ok || !isObj {
		return nil, o.errf("estimator_ is %s (is it fitted?)", pickle.Describe(ev))
	}
	getter, err := o.str("importance_getter", "auto")
	if err != nil {
		return nil, err
	}
	norm, err := o.integer("norm_order", 1)
	if err != nil {
		return nil, err
	}
	var scores []float64
	_, hasCoef := est.get("coef_")
	switch {
	case (getter == "auto" || getter == "coef_") && hasCoef:
		coef, shape, err := est.floats("coef_")
		if err != nil {
			return nil, err
		}
		rows, nf := 1, len(coef)
		if len(shape) == 2 {
			rows, nf = shape[0], shape[1]
		}
		if rows > 1 && norm != 1 {
			return nil, fmt.Errorf("%w: SelectFromModel(norm_order=%d) over a %d-row coef_; mlserve applies norm_order=1",
				model.ErrUnsupported, norm, rows)
		}
		scores = make([]float64, nf)
		for r := range rows {
			for j := range nf {
				scores[j] += math.Abs(coef[r*nf+j])
			}
		}
	case getter == "auto" || getter == "feature_importances_":
		if _, ok := est.get("feature_importances_"); ok {
			if scores, _, err = est.floats("feature_importances_"); err != nil {
				return nil, err
			}
			break
		}
		nf, err := est.integer("n_features_in_", -1)
		if err != nil || nf < 0 {
			return nil, est.errf("missing n_features_in_ (is it fitted?)")
		}
		var ok bool
		if scores, ok, err = featureImportances(est, nf); err != nil {
			return nil, err
		} else if !ok {
			return nil, errNoImportances(est)
		}
	default:
		return nil, fmt.Errorf("%w: SelectFromModel(importance_getter=%q); mlserve applies 'auto', 'coef_' and 'feature_importances_'",
			model.ErrUnsupported, getter)
	}
	th, err := fromModelThreshold(o, est, scores)
	if err != nil {
		return nil, err
	}
	mask := allTrue(len(scores))
	mf, ok := o.get("max_features_") // 1.1+; the parameter before
	if !ok {
		mf, _ = o.get("max_features")
	}
	if mf != nil {
		k, ok := mf.(int64)
		if !ok || k < 0 || int(k) > len(scores) {
			return nil, o.errf("max_features is %s for %d features", pickle.Describe(mf), len(scores))
		}
		idx := make([]int, len(scores))
		for i := range idx {
			idx[i] = i
		}
		// np.argsort(-scores, kind="mergesort")[:k]
		sort.SliceStable(idx, func(a, b int) bool { return -scores[idx[a]] < -scores[idx[b]] })
		mask = make([]bool, len(scores))
		for _, j := range idx[:k] {
			mask[j] = true
		}
	}
	for j, s := range scores {
		if s < th {
			mask[j] = false
		}
	}
	return mask, nil
}

func fromModelThreshold(o obj, est obj, scores []float64) (float64, error) {
	tv, _ := o.get("threshold")
	if tv == nil {
		pen, _ := est.str("penalty", "")
		if pen == "l1" || strings.Contains(est.name(), "Lasso") {
			return 1e-5, nil
		}
		tv = "mean"
	}
	s, isStr := tv.(string)
	if !isStr {
		f, ok := toFloat(tv)
		if !ok {
			return 0, o.errf("threshold is %s", pickle.Describe(tv))
		}
		return f, nil
	}
	scale := 1.0
	if a, b, ok := strings.Cut(s, "*"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err != nil {
			return 0, o.errf("threshold %q: %v", s, err)
		}
		scale, s = f, strings.TrimSpace(b)
	}
	var ref float64
	switch s {
	case "mean":
		ref = pairwiseSum(scores) / float64(len(scores))
	case "median":
		ref = median(scores)
	default:
		return 0, o.errf("threshold %q is not a number, \"mean\", \"median\" or \"scale*mean|median\"", tv)
	}
	if scale == 1 && !strings.Contains(tv.(string), "*") {
		return ref, nil
	}
	return scale * ref, nil
}

// median is np.median: the middle value, or the mean of the two middle ones.
func median(a []float64) float64 {
	if len(a) == 0 {
		return math.NaN()
	}
	s := slices.Clone(a)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func allTrue(n int) []bool {
	m := make([]bool, n)
	for i := range m {
		m[i] = true
	}
	return m
}

// percentile is np.percentile(a, q) with the default linear method and
// numpy's _lerp (which computes from the upper end when t >= 0.5).
func percentile(a []float64, q float64) float64 {
	s := slices.Clone(a)
	slices.Sort(s)
	pos := q / 100 * float64(len(s)-1)
	lo := math.Floor(pos)
	i := int(lo)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	t := pos - lo
	x, y := s[i], s[i+1]
	d := y - x
	if t >= 0.5 {
		return y - d*(1-t)
	}
	return x + d*t
}

// maskStep keeps the columns of a support mask, renumbered.
type maskStep struct {
	name   string
	newCol []int32 // -1 for a dropped column
	n      int
}

func newMaskStep(name string, mask []bool) maskStep {
	m := maskStep{name: name, newCol: make([]int32, len(mask))}
	for j, keep := range mask {
		m.newCol[j] = -1
		if keep {
			m.newCol[j] = int32(m.n)
			m.n++
		}
	}
	return m
}

func (m maskStep) apply(v *vec) error {
	if v.isDense {
		k := 0
		for j, x := range v.dense {
			if m.newCol[j] >= 0 {
				v.dense[k] = x
				k++
			}
		}
		v.dense = v.dense[:k]
		return nil
	}
	k := 0
	for i, j := range v.sp.Idx {
		if c := m.newCol[j]; c >= 0 {
			v.sp.Idx[k], v.sp.Val[k] = c, v.sp.Val[i]
			k++
		}
	}
	v.sp.Idx, v.sp.Val = v.sp.Idx[:k], v.sp.Val[:k]
	return nil
}
func (m maskStep) width(int) int        { return m.n }
func (m maskStep) check(in int) error   { return wantWidth(m.name, len(m.newCol), in) }
func (s maxAbsStep) width(in int) int   { return in }
func (s maxAbsStep) check(in int) error { return wantWidth("MaxAbsScaler", len(s.scale), in) }
func (s minMaxStep) width(in int) int   { return in }
func (s minMaxStep) check(in int) error { return wantWidth("MinMaxScaler", len(s.scale), in) }

// maxAbsStep is MaxAbsScaler.transform: a sparse row multiplied by
// 1/scale_ (inplace_column_scale), a dense one divided by scale_.
type maxAbsStep struct{ scale []float64 }

func (s maxAbsStep) apply(v *vec) error {
	if v.isDense {
		for j := range v.dense {
			v.dense[j] /= s.scale[j]
		}
		return nil
	}
	for k, j := range v.sp.Idx {
		v.sp.Val[k] *= 1.0 / s.scale[j]
	}
	return nil
}

// minMaxStep is MinMaxScaler.transform: X*scale_ + min_, clipped to
// feature_range when clip is set. It needs a dense row (scikit-learn
// refuses sparse input too).
type minMaxStep struct {
	scale, min []float64
	clip       bool
	lo, hi     float64
}

func (s minMaxStep) apply(v *vec) error {
	if !v.isDense {
		return fmt.Errorf("MinMaxScaler does not take sparse input (scikit-learn refuses it too): put it after a dense step such as TruncatedSVD")
	}
	for j := range v.dense {
		x := v.dense[j] * s.scale[j]
		x += s.min[j]
		if s.clip {
			x = min(max(x, s.lo), s.hi)
		}
		v.dense[j] = x
	}
	return nil
}
