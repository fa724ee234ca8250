package sklearn

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// Ensembles of whole text pipelines: a VotingClassifier or
// StackingClassifier applied to raw text whose members are each a Pipeline
// with its own vectorizer (the notebook pattern
// VotingClassifier([("lr", make_pipeline(TfidfVectorizer(), LogisticRegression())),
// ("nb", make_pipeline(CountVectorizer(), MultinomialNB()))])). As
// calibratedPipelines does for CalibratedClassifierCV, the text is
// featurized by every member's pipeline into one row, as a FeatureUnion
// would, and each member's classifier reads its own slice of it; voting and
// stacking then combine the members exactly as they do over shared
// features.

// textMembers says whether the ensemble o's fitted members are text
// pipelines (or searches over them) rather than classifiers of shared
// features.
func textMembers(o obj) bool {
	v, _ := o.get("estimators_")
	l, ok := v.(*pickle.List)
	if !ok || len(l.Items) == 0 {
		return false
	}
	m, ok := asObj(l.Items[0])
	if !ok {
		return false
	}
	if best, ok, _ := searchBest(m); ok {
		if m, ok = asObj(best); !ok {
			return false
		}
	}
	return m.name() == "Pipeline"
}

// textUnion collects the members' featurizers while an ensemble of text
// pipelines is translated.
type textUnion struct {
	u      union
	sliced []*sliced
	width  int
}

// textEnsemble translates a Voting or Stacking classifier of text
// pipelines into the union of their featurizers and the ensemble over
// their sliced classifiers.
func (t *translator) textEnsemble(o obj) (featurizer, classifier, []string, error) {
	labels, err := o.labels()
	if err != nil {
		return nil, nil, nil, err
	}
	if o.name() == "StackingClassifier" {
		if p, err := o.boolean("passthrough", false); err != nil {
			return nil, nil, nil, err
		} else if p {
			return nil, nil, nil, fmt.Errorf("%w: StackingClassifier with passthrough=True over text pipelines: the final estimator would read the raw text",
				model.ErrUnsupported)
		}
	}
	saved := t.text
	tu := &textUnion{}
	t.text = tu
	var c classifier
	if o.name() == "VotingClassifier" {
		c, err = t.voting(o, labels)
	} else {
		c, err = t.stacking(o, labels)
	}
	t.text = saved
	if err != nil {
		return nil, nil, nil, err
	}
	return &tu.u, c, labels, nil
}

// textMember translates member i of an ensemble of text pipelines: its
// pipeline's featurizer joins the union, and its classifier reads the
// slice the featurizer fills.
func (t *translator) textMember(it any, name string, i int) (classifier, []string, error) {
	tu := t.text
	t.text = nil // a meta-estimator inside the member shares its features
	defer func() { t.text = tu }()
	f, clf, labels, err := t.top(it)
	if err != nil {
		return nil, nil, err
	}
	if f.width() != clf.nFeatures() {
		return nil, nil, fmt.Errorf("%w: %s[%d]: its pipeline makes %d features, its classifier takes %d",
			model.ErrInvalid, name, i, f.width(), clf.nFeatures())
	}
	s := &sliced{clf: clf, off: int32(tu.width)}
	tu.u.parts = append(tu.u.parts, f)
	tu.u.weights = append(tu.u.weights, 1)
	tu.sliced = append(tu.sliced, s)
	tu.width += f.width()
	for _, m := range tu.sliced {
		m.total = tu.width
	}
	return s, labels, nil
}
