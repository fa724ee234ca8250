package sklearn

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// column is where a final feature column comes from: a vocabulary term,
// or a column of a hashing vectorizer (whose terms depend on the text).
type column struct {
	term string
	an   *preprocess.Analyzer
	hv   *preprocess.HashingVectorizer
	col  int32 // hv's column
}

// inverse caches the lookups that name a column, built once per model on
// the first explanation: a selection step's input column by output
// column. (A vectorizer answers its vocabulary's terms by column itself.)
type inverse struct{ m sync.Map }

func (inv *inverse) mask(s maskStep) []int32 {
	key := &s.newCol[0]
	if v, ok := inv.m.Load(key); ok {
		return v.([]int32)
	}
	old := make([]int32, s.n)
	for j, c := range s.newCol {
		if c >= 0 {
			old[c] = int32(j)
		}
	}
	v, _ := inv.m.LoadOrStore(key, old)
	return v.([]int32)
}

// nameOf says where column col of f's output row comes from. A step that
// mixes columns (TruncatedSVD) makes it answer model.ErrNotExplainable.
func (inv *inverse) nameOf(f featurizer, col int32) (column, error) {
	switch t := f.(type) {
	case textVec:
		return inv.vectorizerName(t.tv, col)
	case oovVec:
		return inv.vectorizerName(t.tv, col)
	case *chain:
		for i := len(t.steps) - 1; i >= 0; i-- {
			switch s := t.steps[i].(type) {
			case tfidfStep, normStep, scaleStep, maxAbsStep:
				// Column by column: the same columns come out.
			case maskStep:
				if s.n == 0 {
					return column{}, fmt.Errorf("%w: empty selection", model.ErrNotExplainable)
				}
				col = inv.mask(s)[col]
			default:
				return column{}, fmt.Errorf("%w: %T mixes the columns", model.ErrNotExplainable, s)
			}
		}
		return inv.nameOf(t.first, col)
	case *union:
		for _, p := range t.parts {
			if w := int32(p.width()); col >= w {
				col -= w
				continue
			}
			return inv.nameOf(p, col)
		}
	}
	return column{}, fmt.Errorf("%w: featurizer %T", model.ErrNotExplainable, f)
}

func (inv *inverse) vectorizerName(tv preprocess.TextVectorizer, col int32) (column, error) {
	switch v := tv.(type) {
	case *preprocess.TfidfVectorizer:
		return column{term: v.Count.Term(int(col)), an: v.Count.Analyzer}, nil
	case *preprocess.CountVectorizer:
		return column{term: v.Term(int(col)), an: v.Analyzer}, nil
	case *preprocess.HashingVectorizer:
		return column{hv: v, an: v.Analyzer, col: col}, nil
	}
	return column{}, fmt.Errorf("%w: vectorizer %T", model.ErrNotExplainable, tv)
}

// checkNames reports whether every column of f can be named, without
// naming any: model.ErrNotExplainable for a step that mixes columns.
func checkNames(f featurizer) error {
	switch t := f.(type) {
	case textVec:
		return checkVectorizer(t.tv)
	case oovVec:
		return checkVectorizer(t.tv)
	case *chain:
		for _, s := range t.steps {
			switch s.(type) {
			case tfidfStep, normStep, scaleStep, maxAbsStep, maskStep:
			default:
				return fmt.Errorf("%w: %T mixes the columns", model.ErrNotExplainable, s)
			}
		}
		return checkNames(t.first)
	case *union:
		for _, p := range t.parts {
			if err := checkNames(p); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: featurizer %T", model.ErrNotExplainable, f)
}

func checkVectorizer(tv preprocess.TextVectorizer) error {
	switch tv.(type) {
	case *preprocess.TfidfVectorizer, *preprocess.CountVectorizer, *preprocess.HashingVectorizer:
		return nil
	}
	return fmt.Errorf("%w: vectorizer %T", model.ErrNotExplainable, tv)
}

// hashedTerms maps each column of hv to the text's distinct n-grams that
// hash there.
func hashedTerms(ctx context.Context, hv *preprocess.HashingVectorizer, text string) (map[int32][]string, error) {
	out := map[int32][]string{}
	var sc preprocess.Scratch
	err := hv.Analyzer.EachContext(ctx, text, &sc, func(term []byte) {
		j := hv.Column(term)
		if slices.Contains(out[j], string(term)) {
			return
		}
		out[j] = append(out[j], string(term))
	})
	return out, err
}
