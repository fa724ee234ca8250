package sklearn

import (
	"fmt"
	"math"
	"slices"
	"sort"

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
	case "SelectKBest", "SelectPercentile", "GenericUnivariateSelect", "VarianceThreshold":
		mask, err := supportMask(o)
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
	mode := map[string]string{"SelectKBest": "k_best", "SelectPercentile": "percentile"}[o.name()]
	param := "k"
	if mode == "percentile" {
		param = "percentile"
	}
	if o.name() == "GenericUnivariateSelect" {
		if mode, err = o.str("mode", "percentile"); err != nil {
			return nil, err
		}
		param = "param"
	}
	pv := mustGet(o, param)
	switch mode {
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
	return nil, fmt.Errorf("%w: %s(mode=%q): mlserve applies the k_best and percentile modes (fpr, fdr and fwe select by p-value; refit with SelectKBest or SelectPercentile)",
		model.ErrUnsupported, o.name(), mode)
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
