package sklearn

import "github.com/mlserve/mlserve/internal/pickle"

// modelClassifier returns the translation of the tree, ensemble, kernel
// and neighbour classifiers by class name, nil for any other.
func modelClassifier(name string) func(t *translator, o obj, labels []string) (classifier, error) {
	switch name {
	case "DecisionTreeClassifier", "ExtraTreeClassifier":
		return (*translator).decisionTree
	case "RandomForestClassifier", "ExtraTreesClassifier":
		return (*translator).forest
	}
	return nil
}

// allowTrees adds the globals the tree models need beyond their classes:
// a tree's fitted state, rebuilt by calling its class.
func allowTrees(a *pickle.AllowList) {
	a.Allow("sklearn.tree._tree", "Tree", pickle.Class())
}
