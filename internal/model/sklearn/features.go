package sklearn

import (
	"context"
	"fmt"

	"github.com/mlserve/mlserve/internal/model"
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
	// oov is the out-of-vocabulary count the model's first word vectorizer
	// took while featurizing (see oovVec).
	oov oovCount
	// part is a FeatureUnion's scratch row for its parts.
	part *vec
}

// oovCount is one text's word unigrams and those outside the vocabulary;
// ok is false when they were not counted.
type oovCount struct {
	words, out int
	ok         bool
}

// rate is the counts' out-of-vocabulary rate, as Model.OOVRate computes it.
func (c oovCount) rate() model.OOVRate {
	if !c.ok {
		return model.OOVRate{}
	}
	if c.words == 0 {
		return model.OOVRate{Measured: true}
	}
	return model.OOVRate{Rate: float64(c.out) / float64(c.words), Measured: true}
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

// featurizer maps a text to its feature row. It returns ctx.Err() once ctx
// is done, noticed within a few thousand terms of the text.
type featurizer interface {
	featurize(ctx context.Context, text string, v *vec) error
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

func (t textVec) featurize(ctx context.Context, text string, v *vec) error {
	v.isDense = false
	return t.tv.TransformContext(ctx, text, &v.sp)
}
func (t textVec) width() int { return t.tv.NumFeatures() }

// oovTransformer is a vectorizer that counts out-of-vocabulary words while
// it transforms (CountVectorizer, TfidfVectorizer).
type oovTransformer interface {
	preprocess.TextVectorizer
	TransformOOVContext(ctx context.Context, text string, dst *preprocess.Sparse) (words, out int, ok bool, err error)
}

// oovVec is the model's first word vectorizer, the one Model.OOVRate
// measures with: it leaves its out-of-vocabulary count in the row's oov,
// so Predict tells the rate without a second tokenization.
type oovVec struct{ tv oovTransformer }

func (t oovVec) featurize(ctx context.Context, text string, v *vec) error {
	v.isDense = false
	var err error
	v.oov.words, v.oov.out, v.oov.ok, err = t.tv.TransformOOVContext(ctx, text, &v.sp)
	return err
}
func (t oovVec) width() int { return t.tv.NumFeatures() }

// firstWordVec finds the first word vectorizer with a vocabulary, breadth
// first through pipelines and feature unions, as
// python/train_samples.word_vectorizer does; slot is where it sits in the
// featurizer tree rooted at *root. nil when there is none.
func firstWordVec(root *featurizer) (slot *featurizer, cv *preprocess.CountVectorizer) {
	queue := []*featurizer{root}
	for len(queue) > 0 {
		slot, queue = queue[0], queue[1:]
		switch t := (*slot).(type) {
		case textVec:
			if cv = countOf(t.tv); cv != nil && cv.Analyzer.Config().Kind == preprocess.KindWord {
				return slot, cv
			}
		case oovVec:
			if cv = countOf(t.tv); cv != nil {
				return slot, cv
			}
		case *chain:
			queue = append(queue, &t.first)
		case *union:
			for i := range t.parts {
				queue = append(queue, &t.parts[i])
			}
		}
	}
	return nil, nil
}

// countOf is the vectorizer's term counter with a vocabulary; nil for a
// hashing vectorizer.
func countOf(tv preprocess.TextVectorizer) *preprocess.CountVectorizer {
	switch v := tv.(type) {
	case *preprocess.TfidfVectorizer:
		return &v.Count
	case *preprocess.CountVectorizer:
		return v
	}
	return nil
}

// markOOV makes the first word vectorizer under *root count
// out-of-vocabulary words as it transforms.
func markOOV(root *featurizer) {
	slot, _ := firstWordVec(root)
	if slot == nil {
		return
	}
	if t, ok := (*slot).(textVec); ok {
		if ot, ok := t.tv.(oovTransformer); ok {
			*slot = oovVec{ot}
		}
	}
}

// chain is a text featurizer followed by row transforms (a Pipeline's
// transformers).
type chain struct {
	first featurizer
	steps []rowStep
}

func (c *chain) featurize(ctx context.Context, text string, v *vec) error {
	if err := c.first.featurize(ctx, text, v); err != nil {
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

func (u *union) featurize(ctx context.Context, text string, v *vec) error {
	v.isDense = false
	v.sp.Reset()
	if v.part == nil {
		v.part = new(vec)
	}
	part := v.part
	off := int32(0)
	for i, p := range u.parts {
		part.oov.ok = false
		if err := p.featurize(ctx, text, part); err != nil {
			return err
		}
		if part.oov.ok {
			v.oov = part.oov
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
