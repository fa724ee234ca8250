package sklearn

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/preprocess"
)

// vec is one text's features: a sparse row, or a dense one after a dense
// transform (TruncatedSVD).
type vec struct {
	sp      preprocess.Sparse
	dense   []float64
	isDense bool
	// tmp is scratch for a dense step that cannot work in place; project
	// swaps it with dense.
	tmp []float64
}

// project replaces the row with n values, value c being f(c) computed from
// the current row.
func (v *vec) project(n int, f func(c int) float64) {
	if cap(v.tmp) < n {
		v.tmp = make([]float64, n)
	}
	out := v.tmp[:n]
	for c := range out {
		out[c] = f(c)
	}
	v.tmp, v.dense = v.dense, out
	v.isDense = true
}

// featurizer maps a text to its feature row.
type featurizer interface {
	featurize(text string, v *vec) error
	width() int
}

// rowStep transforms a feature row in place.
type rowStep interface {
	apply(v *vec) error
	width(in int) int
	// check reports whether the step accepts rows of in columns.
	check(in int) error
}

func wantWidth(name string, want, in int) error {
	if want != in {
		return fmt.Errorf("%s expects %d features, the step before gives %d", name, want, in)
	}
	return nil
}

func (s tfidfStep) check(in int) error {
	if s.t.IDF == nil {
		return nil
	}
	return wantWidth("TfidfTransformer", len(s.t.IDF), in)
}
func (s svdStep) check(in int) error { return wantWidth("TruncatedSVD", s.s.NFeatures, in) }
func (s normStep) check(int) error   { return nil }
func (s scaleStep) check(in int) error {
	if s.s.WithMean {
		if err := wantWidth("StandardScaler", len(s.s.Mean), in); err != nil {
			return err
		}
	}
	if s.s.WithStd {
		return wantWidth("StandardScaler", len(s.s.Scale), in)
	}
	return nil
}

type textVec struct{ tv preprocess.TextVectorizer }

func (t textVec) featurize(text string, v *vec) error {
	v.isDense = false
	t.tv.Transform(text, &v.sp)
	return nil
}
func (t textVec) width() int { return t.tv.NumFeatures() }

// chain is a text featurizer followed by row transforms (a Pipeline's
// transformers).
type chain struct {
	first featurizer
	steps []rowStep
}

func (c *chain) featurize(text string, v *vec) error {
	if err := c.first.featurize(text, v); err != nil {
		return err
	}
	for _, s := range c.steps {
		if err := s.apply(v); err != nil {
			return err
		}
	}
	return nil
}

func (c *chain) width() int {
	w := c.first.width()
	for _, s := range c.steps {
		w = s.width(w)
	}
	return w
}

// union is a FeatureUnion: its parts' rows side by side, each scaled by its
// weight.
type union struct {
	parts   []featurizer
	weights []float64 // 1 where none was given
}

func (u *union) featurize(text string, v *vec) error {
	v.isDense = false
	v.sp.Reset()
	var part vec
	off := int32(0)
	for i, p := range u.parts {
		if err := p.featurize(text, &part); err != nil {
			return err
		}
		if part.isDense {
			preprocess.FromDense(&part.sp, part.dense)
		}
		if w := u.weights[i]; w != 1 {
			for j := range part.sp.Val {
				part.sp.Val[j] *= w
			}
		}
		preprocess.Concat(&v.sp, part.sp, off)
		off += int32(p.width())
	}
	return nil
}

func (u *union) width() int {
	w := 0
	for _, p := range u.parts {
		w += p.width()
	}
	return w
}

type tfidfStep struct{ t preprocess.TfidfTransformer }

func (s tfidfStep) apply(v *vec) error {
	if v.isDense {
		return fmt.Errorf("TfidfTransformer after a dense step is not supported")
	}
	s.t.Apply(&v.sp)
	return nil
}
func (s tfidfStep) width(in int) int { return in }

type svdStep struct{ s *preprocess.TruncatedSVD }

func (s svdStep) apply(v *vec) error {
	if v.isDense {
		nf := s.s.NFeatures
		v.project(s.s.NComponents, func(c int) float64 {
			return dotDense(v.dense, s.s.Components[c*nf:(c+1)*nf])
		})
		return nil
	}
	v.dense = s.s.Transform(v.sp, v.dense)
	v.isDense = true
	return nil
}
func (s svdStep) width(int) int { return s.s.NComponents }

type normStep struct{ n preprocess.Normalizer }

func (s normStep) apply(v *vec) error {
	if v.isDense {
		s.n.Dense(v.dense)
	} else {
		s.n.Sparse(&v.sp)
	}
	return nil
}
func (s normStep) width(in int) int { return in }

type scaleStep struct{ s *preprocess.StandardScaler }

func (s scaleStep) apply(v *vec) error {
	if v.isDense {
		s.s.Dense(v.dense)
		return nil
	}
	return s.s.Sparse(&v.sp)
}
func (s scaleStep) width(in int) int { return in }

// dot is row · w[:n], summed in column order as scipy's CSR product does.
func dot(v *vec, w []float64) float64 {
	if v.isDense {
		return dotDense(v.dense, w)
	}
	var s float64
	for k, j := range v.sp.Idx {
		s += v.sp.Val[k] * w[j]
	}
	return s
}

// dotDense is x · w[:len(x)]. It keeps four partial sums, as BLAS's dot
// products (which scikit-learn uses on dense rows) keep several, so that
// the additions do not wait on each other; the order differs from any one
// BLAS's only in rounding.
func dotDense(x, w []float64) float64 {
	w = w[:len(x)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(x); j += 4 {
		s0 += x[j] * w[j]
		s1 += x[j+1] * w[j+1]
		s2 += x[j+2] * w[j+2]
		s3 += x[j+3] * w[j+3]
	}
	for ; j < len(x); j++ {
		s0 += x[j] * w[j]
	}
	return (s0 + s1) + (s2 + s3)
}
