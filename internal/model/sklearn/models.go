package sklearn

import "github.com/mlserve/mlserve/internal/pickle"

// modelClassifier returns the translation of the tree, ensemble, kernel
// and neighbour classifiers by class name, nil for any other.
func modelClassifier(name string) func(t *translator, o obj, labels []string) (classifier, error) {
	return nil
}

// allowTrees adds the globals the tree models need.
func allowTrees(a *pickle.AllowList) {}
