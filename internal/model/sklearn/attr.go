package sklearn

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// obj is a decoded estimator with typed attribute accessors; a missing or
// mistyped attribute is an error naming the estimator and the attribute.
type obj struct{ *pickle.Object }

func asObj(v any) (obj, bool) {
	o, ok := v.(*pickle.Object)
	if !ok || o == nil {
		return obj{}, false
	}
	return obj{o}, true
}

func (o obj) name() string { return o.Class.Name }

func (o obj) errf(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", model.ErrInvalid, o.Class.Name, fmt.Sprintf(format, args...))
}

func (o obj) get(name string) (any, bool) {
	if o.Object == nil {
		return nil, false
	}
	return o.Attr(name)
}

func (o obj) str(name, def string) (string, error) {
	v, ok := o.get(name)
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", o.errf("%s is %s, want a string", name, pickle.Describe(v))
	}
	return s, nil
}

func (o obj) boolean(name string, def bool) (bool, error) {
	v, ok := o.get(name)
	if !ok || v == nil {
		return def, nil
	}
	switch b := v.(type) {
	case bool:
		return b, nil
	case int64:
		return b != 0, nil
	}
	return false, o.errf("%s is %s, want a bool", name, pickle.Describe(v))
}

func (o obj) integer(name string, def int) (int, error) {
	v, ok := o.get(name)
	if !ok || v == nil {
		return def, nil
	}
	if i, ok := v.(int64); ok {
		return int(i), nil
	}
	return 0, o.errf("%s is %s, want an int", name, pickle.Describe(v))
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *numpy.Array:
		if x.Len() == 1 {
			f, err := x.Float64s()
			if err == nil {
				return f[0], true
			}
		}
	}
	return 0, false
}

// float returns a finite scalar attribute: NaN or ±Inf is refused, naming
// it, as floats refuses them in arrays.
func (o obj) float(name string) (float64, error) {
	v, ok := o.get(name)
	if !ok {
		return 0, o.errf("missing %s", name)
	}
	f, ok := toFloat(v)
	if !ok {
		return 0, o.errf("%s is %s, want a number", name, pickle.Describe(v))
	}
	if err := o.finite(name, []float64{f}, nil, false); err != nil {
		return 0, err
	}
	return f, nil
}

// floats returns a numeric array attribute in row-major order with its
// shape. Every value must be finite: a NaN or ±Inf is refused with an error
// wrapping model.ErrInvalid that names the attribute and the index, since
// scikit-learn never fits one into the arrays mlserve reads and one such
// value would turn every prediction it touches into NaN. The one kind of
// array that may hold -Inf is read with logProbs.
func (o obj) floats(name string) ([]float64, []int, error) {
	return o.numbers(name, false)
}

// logProbs is floats for an array of log-probabilities that scikit-learn
// legitimately stores -Inf in: the log of a probability of zero, which the
// scoring code carries through (exp(-Inf) is 0). NaN and +Inf are still
// refused. The only such array is naive Bayes' class_log_prior_:
// sklearn/naive_bayes.py _update_class_log_prior takes np.log of the class
// counts with the divide-by-zero warning silenced "because class was not
// yet observed" (a class given to partial_fit that no sample had), or of a
// class_prior that gives a class 0.
func (o obj) logProbs(name string) ([]float64, []int, error) {
	return o.numbers(name, true)
}

func (o obj) numbers(name string, negInf bool) ([]float64, []int, error) {
	v, ok := o.get(name)
	if !ok {
		return nil, nil, o.errf("missing %s (is the estimator fitted?)", name)
	}
	var f []float64
	var shape []int
	switch x := v.(type) {
	case *numpy.Array:
		var err error
		if f, err = x.Float64s(); err != nil {
			return nil, nil, o.errf("%s: %v", name, err)
		}
		shape = x.Shape
	default:
		s, ok := toFloat(v)
		if !ok {
			return nil, nil, o.errf("%s is %s, want an array", name, pickle.Describe(v))
		}
		f = []float64{s}
	}
	if err := o.finite(name, f, shape, negInf); err != nil {
		return nil, nil, err
	}
	return f, shape, nil
}

// finite refuses a NaN or ±Inf in vals (-Inf allowed when negInf), naming
// the attribute and the value's index in an array of the given shape, e.g.
// "LogisticRegression.coef_ holds NaN at [0, 17]".
func (o obj) finite(name string, vals []float64, shape []int, negInf bool) error {
	for i, v := range vals {
		if v-v == 0 { // false for NaN and ±Inf only
			continue
		}
		if negInf && math.IsInf(v, -1) {
			continue
		}
		return fmt.Errorf("%w: %s.%s holds %s%s; scikit-learn does not fit such a value, and it would make predictions NaN",
			model.ErrInvalid, o.name(), name, nonFiniteName(v), indexOf(i, shape, len(vals)))
	}
	return nil
}

// nonFiniteName names a NaN or infinite value.
func nonFiniteName(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return "NaN"
}

// indexOf renders flat index i of a row-major array of the given shape as
// " at [r, c]"; "" for a scalar.
func indexOf(i int, shape []int, n int) string {
	if len(shape) == 0 {
		if n == 1 {
			return ""
		}
		return fmt.Sprintf(" at [%d]", i)
	}
	idx := make([]string, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] <= 0 {
			return fmt.Sprintf(" at flat index %d", i)
		}
		idx[d] = strconv.Itoa(i % shape[d])
		i /= shape[d]
	}
	return " at [" + strings.Join(idx, ", ") + "]"
}

// labels renders classes_ as Python's str() would.
func (o obj) labels() ([]string, error) {
	v, ok := classesOf(o)
	if !ok {
		return nil, o.errf("missing classes_ (is the estimator fitted?)")
	}
	var vals []any
	switch x := v.(type) {
	case *numpy.Array:
		var err error
		if vals, err = x.Values(); err != nil {
			return nil, o.errf("classes_: %v", err)
		}
	case *pickle.List:
		vals = x.Items
	default:
		return nil, o.errf("classes_ is %s", pickle.Describe(v))
	}
	out := make([]string, len(vals))
	for i, e := range vals {
		s, err := pyStr(e)
		if err != nil {
			return nil, o.errf("classes_[%d]: %v", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// pyStr is Python's str() of a label.
func pyStr(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case float64:
		return pyFloat(x), nil
	case []byte:
		return fmt.Sprintf("b%q", x), nil
	}
	return "", fmt.Errorf("unsupported label %s", pickle.Describe(v))
}

// pyFloat is Python's repr of a float.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	a := math.Abs(f)
	if a >= 1e16 || a < 1e-4 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
