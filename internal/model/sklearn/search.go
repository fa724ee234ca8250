package sklearn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// searchParts are the other globals a saved search object (or a pipeline)
// carries as data: joblib's Memory (Pipeline(memory=...)), the random state
// inside a scipy distribution, the trees of a fitted forest candidate (so
// that a forest reached as a step is refused by name, not by its parts).
var searchParts = map[string][]string{
	"joblib.memory":          {"Memory"},
	"joblib._store_backends": {"FileSystemStoreBackend"},
	"sklearn.tree._tree":     {"Tree"},
	"sklearn.utils._bunch":   {"Bunch"},
	// A numpy RandomState or Generator (a distribution's random_state),
	// as numpy 1.17+ and 2.x pickle them.
	"numpy.random._pickle":       {"__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"},
	"numpy.random":               {"__RandomState_ctor"},
	"numpy.random.mtrand":        {"RandomState"},
	"numpy.random._mt19937":      {"MT19937"},
	"numpy.random._pcg64":        {"PCG64", "PCG64DXSM"},
	"numpy.random._philox":       {"Philox"},
	"numpy.random._sfc64":        {"SFC64"},
	"numpy.random._generator":    {"Generator"},
	"numpy.random.bit_generator": {"__pyx_unpickle_SeedSequence", "SeedSequence"},
}

// allowSearchParts adds to a the globals a saved GridSearchCV or
// RandomizedSearchCV holds besides its best_estimator_: candidate estimators,
// scipy.stats distributions, cross-validation splitters, scorers and the
// metric functions they name. Classes decode to inert *pickle.Object values
// that the translator never calls and reads only when they are reached as a
// step of what is served, where a class outside Supported is refused by
// name; functions are references that cannot be called at all.
func allowSearchParts(a *pickle.AllowList) {
	for _, table := range []map[string][]string{candidateEstimators, searchDistributions, searchSplitters, searchParts} {
		for m, names := range table {
			for _, n := range names {
				if _, err := a.Lookup(m, n); err == nil {
					continue // supported: keep its handler
				}
				a.Allow(m, n, pickle.Class())
			}
		}
	}
	a.Allow("numpy", "vectorize", pickle.Class())
	a.Allow("builtins", "getattr", pickle.Handler{Call: distributionMethod})
	// Score functions a univariate selector holds by reference.
	for _, n := range []string{"chi2", "f_classif", "f_regression", "r_regression", "f_oneway"} {
		a.Allow("sklearn.feature_selection._univariate_selection", n, pickle.Type())
	}
	a.Allow("sklearn.feature_selection._mutual_info", "mutual_info_classif", pickle.Type())
	for m, names := range metricFunctions {
		for _, n := range names {
			a.Allow(m, n, pickle.Type())
		}
	}
}

// distributionMethod is builtins.getattr as a scipy.stats distribution's
// pickled state uses it (rv_discrete keeps vecentropy, a numpy.vectorize
// of its own bound method _entropy): getattr of a private method name on a
// scipy.stats distribution object yields an inert object holding both.
// Anything else (getattr of a module, of a builtin, of a public name) is
// refused as the forbidden global it is.
func distributionMethod(cls pickle.Global, args pickle.Tuple, kwargs *pickle.Dict) (any, error) {
	if kwargs.Len() == 0 && len(args) == 2 {
		o, ok := args[0].(*pickle.Object)
		name, ok2 := args[1].(string)
		if ok && ok2 && strings.HasPrefix(o.Class.Module, "scipy.stats.") && strings.HasPrefix(name, "_") {
			return &pickle.Object{Class: cls, Args: args}, nil
		}
	}
	return nil, fmt.Errorf("%w (only a scipy.stats distribution's own private method may be named through it)",
		&pickle.ForbiddenError{Module: cls.Module, Name: cls.Name})
}

// isSearch reports whether an estimator class is a hyper-parameter search
// whose best_estimator_ is what serves: GridSearchCV, RandomizedSearchCV and
// the successive-halving searches (sklearn.experimental), which keep the same
// refit and best_estimator_.
func isSearch(name string) bool {
	switch name {
	case "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV":
		return true
	}
	return false
}

// searchBest returns the best_estimator_ of a search (isSearch), ok false for any other estimator; a search saved
// without one (refit=False) is an error that says so.
func searchBest(o obj) (best any, ok bool, err error) {
	if !isSearch(o.name()) {
		return nil, false, nil
	}
	if r, ok := o.get("refit"); ok && r == false {
		return nil, true, fmt.Errorf("%w: %s with refit=False has no best_estimator_ to serve; refit it on the best parameters",
			model.ErrUnsupported, o.name())
	}
	best, ok = o.get("best_estimator_")
	if !ok {
		return nil, true, o.errf("missing best_estimator_ (is the search fitted?)")
	}
	return best, true, nil
}

// viaSearch translates a search's best estimator as the classifier of the
// pipeline that holds the search as its last step.
func (t *translator) viaSearch(best any, err error) (classifier, []string, error) {
	if err != nil {
		return nil, nil, err
	}
	t.via = "best_estimator_"
	return t.classifier(best)
}

// notServed is the refusal of an estimator that decoded only because a
// search may hold it as inert data (candidateEstimators) and that is
// reached as a step of what is served: it wraps model.ErrUnsupported and
// the pickle.ForbiddenError the allow-list would have raised without
// searches, and names the class. It is nil for a class that Load
// translates somewhere (a supported one in the wrong place).
func notServed(o *pickle.Object) error {
	if mods, ok := classes[o.Class.Name]; ok && slices.Contains(mods, o.Class.Module) {
		return nil
	}
	return fmt.Errorf("%w: %s.%s is not supported; supported estimators: %s (%w)",
		model.ErrUnsupported, o.Class.Module, o.Class.Name, strings.Join(Supported(), ", "),
		&pickle.ForbiddenError{Module: o.Class.Module, Name: o.Class.Name})
}
