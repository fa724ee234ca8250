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
	case "GradientBoostingClassifier":
		return (*translator).gradientBoosting
	case "AdaBoostClassifier":
		return (*translator).adaBoost
	case "HistGradientBoostingClassifier":
		return (*translator).histGradientBoosting
	case "SVC", "NuSVC":
		return (*translator).svc
	case "MLPClassifier":
		return (*translator).mlp
	case "KNeighborsClassifier":
		return (*translator).kNeighbors
	case "NearestCentroid":
		return (*translator).nearestCentroid
	}
	return nil
}

// allowTrees adds the globals the tree models need beyond their classes:
// a tree's fitted state, rebuilt by calling its class.
func allowTrees(a *pickle.AllowList) {
	a.Allow("sklearn.tree._tree", "Tree", pickle.Class())
	a.Allow("sklearn.tree._classes", "DecisionTreeRegressor", pickle.Class())
	a.Allow("sklearn.dummy", "DummyClassifier", pickle.Class())
	a.Allow("sklearn._loss.loss", "ExponentialLoss", pickle.Class())
	a.Allow("sklearn._loss.link", "HalfLogitLink", pickle.Class())
	// Cython loss objects with state pickle through a module function
	// taking (class, checksum, state): data, kept and never called.
	for _, n := range []string{"CyHalfMultinomialLoss", "CyHalfBinomialLoss", "CyExponentialLoss", "CyHalfSquaredError"} {
		a.Allow("sklearn._loss._loss", "__pyx_unpickle_"+n, pickle.Class())
	}
	// The RandomState a gradient boosting keeps (_rng): its generator's
	// name and state, never used to predict.
	a.Allow("numpy.random._pickle", "__randomstate_ctor", pickle.Class())
	a.Allow("numpy.random._pickle", "__bit_generator_ctor", pickle.Class())
	a.Allow("numpy.random._pickle", "__generator_ctor", pickle.Class())
	a.Allow("numpy.random._mt19937", "MT19937", pickle.Type())
	a.Allow("numpy.random._pcg64", "PCG64", pickle.Type())
	a.Allow("numpy.random.bit_generator", "SeedSequence", pickle.Type())
	a.Allow("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence", pickle.Class())
	// An MLP keeps its optimizer's state (moments, velocities): data.
	a.Allow("sklearn.neural_network._stochastic_optimizers", "AdamOptimizer", pickle.Class())
	a.Allow("sklearn.neural_network._stochastic_optimizers", "SGDOptimizer", pickle.Class())
	// A KNeighborsClassifier fitted with a KD or ball tree carries the
	// tree and its metric: data (mlserve searches _fit_X by brute force).
	for _, m := range []string{"sklearn.neighbors._kd_tree", "sklearn.neighbors._ball_tree", "sklearn.metrics._dist_metrics"} {
		a.Allow(m, "newObj", pickle.Class())
	}
	a.Allow("sklearn.neighbors._kd_tree", "KDTree", pickle.Type())
	a.Allow("sklearn.neighbors._ball_tree", "BallTree", pickle.Type())
	a.Allow("sklearn.metrics._dist_metrics", "EuclideanDistance64", pickle.Type())
	a.Allow("sklearn.metrics._dist_metrics", "EuclideanDistance", pickle.Type())
	hgb := "sklearn.ensemble._hist_gradient_boosting."
	a.Allow(hgb+"predictor", "TreePredictor", pickle.Class())
	a.Allow(hgb+"binning", "_BinMapper", pickle.Class())
}
