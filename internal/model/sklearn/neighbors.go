package sklearn

import (
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// MLPClassifier, KNeighborsClassifier and NearestCentroid.

// mlp is MLPClassifier's _forward_pass_fast: each layer X·W + b, the
// hidden activation between layers, softmax (or, for two classes, the
// logistic) at the output; predict thresholds the binary output at 0.5.
type mlp struct {
	w       [][]float64 // per layer, in × out row-major
	b       [][]float64
	sizes   []int // layer widths, input first
	act     string
	classes int
}

func (t *translator) mlp(o obj, labels []string) (classifier, error) {
	m := &mlp{classes: len(labels)}
	var err error
	if m.act, err = o.str("activation", "relu"); err != nil {
		return nil, err
	}
	switch m.act {
	case "relu", "tanh", "logistic", "identity":
	default:
		return nil, o.errf("activation %q", m.act)
	}
	out, err := o.str("out_activation_", "")
	if err != nil {
		return nil, err
	}
	if (len(labels) == 2) != (out == "logistic") || (len(labels) > 2 && out != "softmax") {
		return nil, fmt.Errorf("%w: MLPClassifier with out_activation_ %q for %d classes (a multilabel fit); mlserve serves single-label classification",
			model.ErrUnsupported, out, len(labels))
	}
	cv, _ := o.get("coefs_")
	iv, _ := o.get("intercepts_")
	cl, ok1 := cv.(*pickle.List)
	il, ok2 := iv.(*pickle.List)
	if !ok1 || !ok2 || len(cl.Items) == 0 || len(cl.Items) != len(il.Items) {
		return nil, o.errf("coefs_ is %s and intercepts_ %s, want lists of one array per layer", pickle.Describe(cv), pickle.Describe(iv))
	}
	for i := range cl.Items {
		l := obj{&pickle.Object{Class: o.Class, State: layerState(cl.Items[i], il.Items[i])}}
		w, shape, err := l.floats("coef")
		if err != nil {
			return nil, o.errf("coefs_[%d]: %v", i, err)
		}
		b, _, err := l.floats("intercept")
		if err != nil {
			return nil, o.errf("intercepts_[%d]: %v", i, err)
		}
		if len(shape) != 2 || len(b) != shape[1] || (i > 0 && shape[0] != m.sizes[i]) {
			return nil, o.errf("layer %d: coefs_ of shape %v, intercepts_ of %d", i, shape, len(b))
		}
		if i == 0 {
			m.sizes = append(m.sizes, shape[0])
		}
		m.sizes = append(m.sizes, shape[1])
		m.w = append(m.w, w)
		m.b = append(m.b, b)
	}
	want := len(labels)
	if want == 2 {
		want = 1
	}
	if m.sizes[len(m.sizes)-1] != want {
		return nil, o.errf("output layer of %d units for %d classes", m.sizes[len(m.sizes)-1], len(labels))
	}
	return m, nil
}

// layerState wraps one layer's arrays so obj.floats can read and check them.
func layerState(w, b any) *pickle.Dict {
	d := pickle.NewDict(2)
	_ = d.Set("coef", w)
	_ = d.Set("intercept", b)
	return d
}

func (m *mlp) nClasses() int       { return m.classes }
func (m *mlp) nDecision() int      { return 0 }
func (m *mlp) probabilistic() bool { return true }
func (m *mlp) nFeatures() int      { return m.sizes[0] }

func (m *mlp) score(v *vec, _, proba []float64) int {
	var a []float64
	for l := range m.w {
		in, out := m.sizes[l], m.sizes[l+1]
		w, z := m.w[l], make([]float64, out)
		switch {
		case l > 0:
			for i, x := range a {
				for c := 0; c < out; c++ {
					z[c] += float64(x * w[i*out+c])
				}
			}
		case v.isDense:
			for i, x := range v.dense[:in] {
				for c := 0; c < out; c++ {
					z[c] += float64(x * w[i*out+c])
				}
			}
		default:
			for k, i := range v.sp.Idx {
				x := v.sp.Val[k]
				for c := 0; c < out; c++ {
					z[c] += float64(x * w[int(i)*out+c])
				}
			}
		}
		for c := range z {
			z[c] += m.b[l][c]
		}
		if l < len(m.w)-1 {
			activate(m.act, z)
		}
		a = z
	}
	if len(a) == 1 {
		p := expit(a[0])
		if proba != nil {
			proba[0], proba[1] = 1-p, p
		}
		if p > 0.5 {
			return 1
		}
		return 0
	}
	softmax(a)
	copy(proba, a)
	return argmax(a)
}

func activate(kind string, z []float64) {
	for i, x := range z {
		switch kind {
		case "relu":
			z[i] = math.Max(x, 0)
		case "tanh":
			z[i] = math.Tanh(x)
		case "logistic":
			z[i] = expit(x)
		}
	}
}
