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
	if err := checkNames(m.feat); err != nil {
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
		// An empty list, not null, for a text without features.
		Contributions: []model.Contribution{},
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
	hashed := map[*preprocess.HashingVectorizer]map[int32][]string{}
	for _, i := range keep {
		c := model.Contribution{Value: vals[i], FeatureValue: v.sp.Val[i], Spans: []model.Span{}}
		name, err := m.inv.nameOf(m.feat, v.sp.Idx[i])
		if err != nil {
			return model.Explanation{}, err
		}
		terms := []string{name.term}
		if name.hv != nil {
			byCol, ok := hashed[name.hv]
			if !ok {
				if byCol, err = hashedTerms(ctx, name.hv, req.Text); err != nil {
					return model.Explanation{}, err
				}
				hashed[name.hv] = byCol
			}
			terms = byCol[name.col]
			c.Hashed = terms
			c.Feature = fmt.Sprintf("hash column %d", name.col)
		}
		if len(terms) > 0 {
			c.Feature = terms[0]
		}
		loc := locators[name.an]
		if loc == nil {
			if loc, err = preprocess.NewLocator(ctx, name.an, original, req.Text); err != nil {
				return model.Explanation{}, err
			}
			locators[name.an] = loc
		}
		for _, t := range terms {
			for _, s := range loc.Spans(t) {
				c.Spans = append(c.Spans, model.Span{Start: s.Start, End: s.End})
			}
		}
		ex.Contributions = append(ex.Contributions, c)
	}
	return ex, nil
}
