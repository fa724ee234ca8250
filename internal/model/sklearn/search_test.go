package sklearn

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// TestSearchGetattr checks that builtins.getattr, allowed for a scipy
// distribution's pickled bound method, stays refused for anything else.
func TestSearchGetattr(t *testing.T) {
	const dist = "cscipy.stats._discrete_distns\nrandint_gen\n)R"
	for _, tc := range []struct {
		name, stream string
		ok           bool
	}{
		{"distribution private method", "cbuiltins\ngetattr\n(" + dist + "S'_entropy'\ntR.", true},
		{"distribution public name", "cbuiltins\ngetattr\n(" + dist + "S'rvs'\ntR.", false},
		{"not a distribution", "cbuiltins\ngetattr\n(I1\nS'_x'\ntR.", false},
		{"a numpy object", "cbuiltins\ngetattr\n(cnumpy\nvectorize\n)RS'_x'\ntR.", false},
		{"three arguments", "cbuiltins\ngetattr\n(" + dist + "S'_entropy'\nI0\ntR.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decode(strings.NewReader(tc.stream))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if o, ok := v.(*pickle.Object); !ok || o.Class.Name != "getattr" || len(o.Args) != 2 {
					t.Fatalf("decoded %s, want an inert getattr object", pickle.Describe(v))
				}
				return
			}
			if !errors.Is(err, pickle.ErrForbidden) || !strings.Contains(err.Error(), "builtins.getattr") {
				t.Fatalf("err = %v, want a refusal of builtins.getattr", err)
			}
		})
	}
}

// TestSearchCandidateAsStep checks that an estimator allowed only as a
// search's candidate is refused by name when a pipeline uses it as a step.
func TestSearchCandidateAsStep(t *testing.T) {
	// Pipeline([("v", CountVectorizer()), ("c", BaggingClassifier())]), pickled at
	// protocol 0 with stand-in classes: a vocabulary_ and classes_ only.
	stream := "ccopy_reg\n_reconstructor\np0\n(csklearn.pipeline\nPipeline\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n(dp5\nVsteps\np6\n(lp7\n(Vv\np8\ng0\n(csklearn.feature_extraction.text\nCountVectorizer\np9\ng2\nNtp10\nRp11\n(dp12\nVvocabulary_\np13\n(dp14\nVa\np15\nI0\nssbtp16\na(Vc\np17\ng0\n(csklearn.ensemble._bagging\nBaggingClassifier\np18\ng2\nNtp19\nRp20\n(dp21\nVclasses_\np22\n(lp23\ng15\naVb\np24\nasbtp25\nasb."
	_, err := LoadReader(bytes.NewReader([]byte(stream)))
	if !errors.Is(err, model.ErrUnsupported) || !errors.Is(err, pickle.ErrForbidden) ||
		!strings.Contains(err.Error(), "sklearn.ensemble._bagging.BaggingClassifier is not supported") {
		t.Fatalf("err = %v, want BaggingClassifier refused as unsupported", err)
	}
}
