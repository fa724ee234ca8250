package sklearn

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

var _ model.Explainer = (*Model)(nil)

// explainable is a classifier whose score is a sum over the row's stored
// values plus a bias: linear models and naive Bayes, and calibrated
// ensembles of them (through their base estimators).
type explainable interface {
	// contributions writes into out[i] the share of the row's i-th stored
	// value in the score that decided pred, and returns the score's bias,
	// the class index whose score it is and the score's name; ok is false
	// when the classifier cannot say (a dense row, a base that is not
	// explainable).
	contributions(v *vec, pred int, out []float64) (bias float64, class int, score string, ok bool)
}

func (l *linear) contributions(v *vec, pred int, out []float64) (float64, int, string, bool) {
	if v.isDense {
		return 0, 0, "", false
	}
	k, class := pred, pred
	if l.rows == 1 {
		k, class = 0, 1
	}
	w := l.coef[k*l.nf : (k+1)*l.nf]
	for i, j := range v.sp.Idx {
		out[i] = v.sp.Val[i] * w[j]
	}
	return l.intercept[k], class, "decision_function", true
}

func (n *naiveBayes) contributions(v *vec, pred int, out []float64) (float64, int, string, bool) {
	if v.isDense {
		return 0, 0, "", false
	}
	w := n.flp[pred*n.nf : (pred+1)*n.nf]
	for i, j := range v.sp.Idx {
		x := v.sp.Val[i]
		if !math.IsNaN(n.binarize) {
			x = 0
			if v.sp.Val[i] > n.binarize {
				x = 1
			}
		}
		out[i] = x * w[j]
	}
	return n.bias[pred], pred, "joint_log_likelihood", true
}

// contributions of a calibrated ensemble are the mean of its members' base
// estimators' contributions: exact for the mean of the bases' scores, which
// the calibrators then map monotonically to probabilities.
func (c *calibrated) contributions(v *vec, pred int, out []float64) (float64, int, string, bool) {
	for i := range out {
		out[i] = 0
	}
	tmp := make([]float64, len(out))
	var bias float64
	class, score := -1, ""
	for _, m := range c.members {
		e, ok := m.base.(explainable)
		if !ok || m.base.nClasses() != c.classes {
			return 0, 0, "", false
		}
		b, k, s, ok := e.contributions(v, pred, tmp)
		if !ok || (class >= 0 && (k != class || s != score)) {
			return 0, 0, "", false
		}
		class, score = k, s
		bias += b / float64(len(c.members))
		for i, x := range tmp {
			out[i] += x / float64(len(c.members))
		}
	}
	if class < 0 {
		return 0, 0, "", false
	}
	return bias, class, "mean_base_" + score, true
}

// termRef is one n-gram of the text and the analyzer that made it.
type termRef struct {
	term   string
	an     *preprocess.Analyzer
	hashed bool
}

// termColumns maps each column of f's output row that the text's n-grams
// feed to those n-grams (off is f's first column in the final row). A step
// that mixes columns (TruncatedSVD) makes it answer model.ErrNotExplainable.
func termColumns(ctx context.Context, f featurizer, text string, off int32, out map[int32][]termRef) error {
	switch t := f.(type) {
	case textVec:
		return vectorizerTerms(ctx, t.tv, text, off, out)
	case oovVec:
		return vectorizerTerms(ctx, t.tv, text, off, out)
	case *chain:
		inner := map[int32][]termRef{}
		if err := termColumns(ctx, t.first, text, 0, inner); err != nil {
			return err
		}
		for _, s := range t.steps {
			switch s := s.(type) {
			case tfidfStep, normStep, scaleStep, maxAbsStep:
				// Column by column: the same columns come out.
			case maskStep:
				next := make(map[int32][]termRef, len(inner))
				for j, refs := range inner {
					if c := s.newCol[j]; c >= 0 {
						next[c] = refs
					}
				}
				inner = next
			default:
				return fmt.Errorf("%w: %T mixes the columns", model.ErrNotExplainable, s)
			}
		}
		for j, refs := range inner {
			out[j+off] = refs
		}
		return nil
	case *union:
		for _, p := range t.parts {
			if err := termColumns(ctx, p, text, off, out); err != nil {
				return err
			}
			off += int32(p.width())
		}
		return nil
	}
	return fmt.Errorf("%w: featurizer %T", model.ErrNotExplainable, f)
}

// vectorizerTerms adds each distinct n-gram of text that tv gives a column.
func vectorizerTerms(ctx context.Context, tv preprocess.TextVectorizer, text string, off int32, out map[int32][]termRef) error {
	var an *preprocess.Analyzer
	var col func(term []byte) (int32, bool)
	hashed := false
	switch v := tv.(type) {
	case *preprocess.TfidfVectorizer:
		an = v.Count.Analyzer
		col = func(t []byte) (int32, bool) { j, ok := v.Count.Vocabulary[string(t)]; return j, ok }
	case *preprocess.CountVectorizer:
		an = v.Analyzer
		col = func(t []byte) (int32, bool) { j, ok := v.Vocabulary[string(t)]; return j, ok }
	case *preprocess.HashingVectorizer:
		an, hashed = v.Analyzer, true
		col = func(t []byte) (int32, bool) { return v.Column(t), true }
	default:
		return fmt.Errorf("%w: vectorizer %T", model.ErrNotExplainable, tv)
	}
	var sc preprocess.Scratch
	return an.EachContext(ctx, text, &sc, func(term []byte) {
		j, ok := col(term)
		if !ok {
			return
		}
		j += off
		for _, r := range out[j] {
			if r.term == string(term) && r.an == an {
				return
			}
		}
		out[j] = append(out[j], termRef{string(term), an, hashed})
	})
}

// Explain gives the exact contribution of each n-gram of req.Text to the
// score that decided its label: feature value × coefficient for a linear
// model (the predicted class's row; for a binary model the single decision
// function, positive towards classes_[1]), the log-probability terms of
// naive Bayes, and for CalibratedClassifierCV the mean of its base
// estimators' contributions. Base (the intercept or the class's log prior)
// plus every contribution is Value. A model with a step that mixes columns
// (TruncatedSVD) or a classifier of another kind answers
// model.ErrNotExplainable.
func (m *Model) Explain(ctx context.Context, req model.ExplainRequest) (model.Explanation, error) {
	e, ok := m.clf.(explainable)
	if !ok {
		return model.Explanation{}, fmt.Errorf("%w: %T", model.ErrNotExplainable, m.clf)
	}
	topK := req.TopK
	if topK <= 0 {
		topK = model.DefaultTopK
	}
	var v vec
	if err := m.feat.featurize(ctx, req.Text, &v); err != nil {
		return model.Explanation{}, err
	}
	if v.isDense {
		return model.Explanation{}, fmt.Errorf("%w: the features are dense", model.ErrNotExplainable)
	}
	w := newWork(m.clf, len(m.labels))
	w.v = v
	var proba []float64
	if m.clf.probabilistic() {
		proba = w.proba
	}
	pred := m.clf.score(&w.v, w.dec, proba)
	vals := make([]float64, len(v.sp.Idx))
	bias, class, score, ok := e.contributions(&v, pred, vals)
	if !ok {
		return model.Explanation{}, fmt.Errorf("%w: %T", model.ErrNotExplainable, m.clf)
	}
	cols := map[int32][]termRef{}
	if err := termColumns(ctx, m.feat, req.Text, 0, cols); err != nil {
		return model.Explanation{}, err
	}
	var sum float64
	for _, x := range vals {
		sum += x
	}
	ex := model.Explanation{
		Method:   model.MethodExact,
		Class:    m.labels[class],
		Score:    score,
		Base:     bias,
		Value:    sum + bias,
		Features: len(vals),
	}
	order := make([]int, len(vals))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(math.Abs(vals[b]), math.Abs(vals[a])) })
	keep := order[:min(topK, len(order))]
	for _, i := range order[len(keep):] {
		ex.Rest += vals[i]
	}
	original := req.Original
	if original == "" {
		original = req.Text
	}
	locators := map[*preprocess.Analyzer]*preprocess.Locator{}
	for _, i := range keep {
		c := model.Contribution{Value: vals[i], FeatureValue: v.sp.Val[i], Spans: []model.Span{}}
		refs := cols[v.sp.Idx[i]]
		if len(refs) == 0 {
			c.Feature = fmt.Sprintf("column %d", v.sp.Idx[i])
		}
		for n, r := range refs {
			if n == 0 {
				c.Feature = r.term
			}
			if r.hashed {
				c.Hashed = append(c.Hashed, r.term)
			}
			loc := locators[r.an]
			if loc == nil {
				var err error
				if loc, err = preprocess.NewLocator(ctx, r.an, original, req.Text); err != nil {
					return model.Explanation{}, err
				}
				locators[r.an] = loc
			}
			for _, s := range loc.Spans(r.term) {
				c.Spans = append(c.Spans, model.Span{Start: s.Start, End: s.End})
			}
		}
		ex.Contributions = append(ex.Contributions, c)
	}
	return ex, nil
}
