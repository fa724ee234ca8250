package sklearn

import (
	"sort"
	"strings"

	"github.com/mlserve/mlserve/internal/joblib"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/scipy"
)

// classes maps each scikit-learn class mlserve understands to the module paths
// it has been pickled under from scikit-learn 1.0 to 1.9.
var classes = map[string][]string{
	"Pipeline":                       {"sklearn.pipeline"},
	"FeatureUnion":                   {"sklearn.pipeline"},
	"GridSearchCV":                   {"sklearn.model_selection._search"},
	"RandomizedSearchCV":             {"sklearn.model_selection._search"},
	"HalvingGridSearchCV":            {"sklearn.model_selection._search_successive_halving"},
	"HalvingRandomSearchCV":          {"sklearn.model_selection._search_successive_halving"},
	"CountVectorizer":                {"sklearn.feature_extraction.text"},
	"TfidfVectorizer":                {"sklearn.feature_extraction.text"},
	"TfidfTransformer":               {"sklearn.feature_extraction.text"},
	"HashingVectorizer":              {"sklearn.feature_extraction.text"},
	"TruncatedSVD":                   {"sklearn.decomposition._truncated_svd"},
	"PCA":                            {"sklearn.decomposition._pca"},
	"Normalizer":                     {"sklearn.preprocessing._data"},
	"StandardScaler":                 {"sklearn.preprocessing._data"},
	"LogisticRegression":             {"sklearn.linear_model._logistic"},
	"SGDClassifier":                  {"sklearn.linear_model._stochastic_gradient"},
	"LinearSVC":                      {"sklearn.svm._classes"},
	"RidgeClassifier":                {"sklearn.linear_model._ridge"},
	"Perceptron":                     {"sklearn.linear_model._perceptron"},
	"PassiveAggressiveClassifier":    {"sklearn.linear_model._passive_aggressive"},
	"MultinomialNB":                  {"sklearn.naive_bayes"},
	"ComplementNB":                   {"sklearn.naive_bayes"},
	"BernoulliNB":                    {"sklearn.naive_bayes"},
	"CalibratedClassifierCV":         {"sklearn.calibration"},
	"_CalibratedClassifier":          {"sklearn.calibration"},
	"_SigmoidCalibration":            {"sklearn.calibration"},
	"IsotonicRegression":             {"sklearn.isotonic"},
	"LabelBinarizer":                 {"sklearn.preprocessing._label"},
	"LabelEncoder":                   {"sklearn.preprocessing._label"},
	"_TemperatureScaling":            {"sklearn.calibration"},
	"FrozenEstimator":                {"sklearn.frozen._frozen"},
	"SelectKBest":                    {"sklearn.feature_selection._univariate_selection"},
	"SelectPercentile":               {"sklearn.feature_selection._univariate_selection"},
	"GenericUnivariateSelect":        {"sklearn.feature_selection._univariate_selection"},
	"VarianceThreshold":              {"sklearn.feature_selection._variance_threshold"},
	"SelectFpr":                      {"sklearn.feature_selection._univariate_selection"},
	"SelectFdr":                      {"sklearn.feature_selection._univariate_selection"},
	"SelectFwe":                      {"sklearn.feature_selection._univariate_selection"},
	"SelectFromModel":                {"sklearn.feature_selection._from_model"},
	"LinearDiscriminantAnalysis":     {"sklearn.discriminant_analysis"},
	"MaxAbsScaler":                   {"sklearn.preprocessing._data"},
	"MinMaxScaler":                   {"sklearn.preprocessing._data"},
	"OneVsRestClassifier":            {"sklearn.multiclass"},
	"OneVsOneClassifier":             {"sklearn.multiclass"},
	"VotingClassifier":               {"sklearn.ensemble._voting"},
	"StackingClassifier":             {"sklearn.ensemble._stacking"},
	"LogisticRegressionCV":           {"sklearn.linear_model._logistic"},
	"RidgeClassifierCV":              {"sklearn.linear_model._ridge"},
	"DecisionTreeClassifier":         {"sklearn.tree._classes"},
	"ExtraTreeClassifier":            {"sklearn.tree._classes"},
	"RandomForestClassifier":         {"sklearn.ensemble._forest"},
	"ExtraTreesClassifier":           {"sklearn.ensemble._forest"},
	"GradientBoostingClassifier":     {"sklearn.ensemble._gb"},
	"AdaBoostClassifier":             {"sklearn.ensemble._weight_boosting"},
	"HistGradientBoostingClassifier": {"sklearn.ensemble._hist_gradient_boosting.gradient_boosting"},
	"SVC":                            {"sklearn.svm._classes"},
	"NuSVC":                          {"sklearn.svm._classes"},
	"MLPClassifier":                  {"sklearn.neural_network._multilayer_perceptron"},
	"KNeighborsClassifier":           {"sklearn.neighbors._classification"},
	"NearestCentroid":                {"sklearn.neighbors._nearest_centroid"},
}

// inert are classes that occur inside supported estimators (SGD loss
// objects, search scorers, masked arrays in cv_results_) and are accepted
// but never used.
var inert = map[string][]string{
	"sklearn.linear_model._sgd_fast": {"Hinge", "Log", "ModifiedHuber", "SquaredHinge",
		"SquaredLoss", "Huber", "EpsilonInsensitive", "SquaredEpsilonInsensitive", "Classification", "Regression"},
	"sklearn._loss._loss": {"CyHalfBinomialLoss", "CyHalfMultinomialLoss", "CyHalfSquaredError",
		"CyHuberLoss", "CyAbsoluteError", "CyHalfPoissonLoss", "CyExponentialLoss"},
	// scikit-learn 1.4-1.5 (numpy 2 builds) pickle the Cython losses through these
	"_loss": {"__pyx_unpickle_CyHalfBinomialLoss", "__pyx_unpickle_CyHalfMultinomialLoss", "CyHalfBinomialLoss",
		"CyHalfMultinomialLoss", "__pyx_unpickle_CyExponentialLoss", "CyExponentialLoss"},
	"sklearn.ensemble._gb_losses": {"BinomialDeviance", "MultinomialDeviance", "ExponentialLoss"}, // before 1.3
	"sklearn._loss.loss":          {"HalfBinomialLoss", "HalfMultinomialLoss", "HalfSquaredError"},
	"sklearn._loss.link":          {"LogitLink", "IdentityLink", "MultinomialLogit", "Interval"},
	"sklearn.metrics._scorer": {"_PassthroughScorer", "_Scorer", "_PredictScorer",
		"_ProbaScorer", "_ThresholdScorer", "_MultimetricScorer"},
	"sklearn.utils._bunch": {"Bunch"},
	"sklearn.utils":        {"Bunch"}, // 1.0
	// 1.0's HistGradientBoosting losses (sklearn._loss from 1.1)
	"sklearn.ensemble._hist_gradient_boosting.loss": {"BinaryCrossEntropy", "CategoricalCrossEntropy"},
	"sklearn.utils.fixes":                           {"loguniform"},
	"numpy.ma.core":                                 {"_mareconstruct"},
	"sklearn.model_selection._split":                {"StratifiedKFold", "KFold"},
}

// Supported lists the scikit-learn estimators Load translates, sorted.
func Supported() []string {
	out := make([]string, 0, len(classes))
	for name := range classes {
		if strings.HasPrefix(name, "_") || name == "LabelBinarizer" || name == "LabelEncoder" {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// AllowList returns the globals a scikit-learn file may name: numpy, scipy
// sparse and joblib's array wrapper, and the scikit-learn classes in classes
// and inert as generic classes. Any other global stops decoding.
func AllowList() *pickle.AllowList {
	a := pickle.NewAllowList()
	numpy.Register(a)
	scipy.Register(a)
	joblib.Register(a)
	for name, mods := range classes {
		for _, m := range mods {
			a.Allow(m, name, pickle.Class())
		}
	}
	for m, names := range inert {
		for _, n := range names {
			a.Allow(m, n, pickle.Class())
		}
	}
	// Functions referenced (never called) by search objects' scorers.
	for _, n := range []string{"accuracy_score", "f1_score", "precision_score", "recall_score",
		"roc_auc_score", "log_loss", "balanced_accuracy_score"} {
		a.Allow("sklearn.metrics._classification", n, pickle.Type())
		a.Allow("sklearn.metrics._ranking", n, pickle.Type())
	}
	// numpy masked arrays (GridSearchCV's cv_results_) name their class
	// as a plain reference.
	a.Allow("numpy.ma", "MaskedArray", pickle.Type())
	a.Allow("numpy.ma.core", "MaskedArray", pickle.Type())
	allowSearchParts(a)
	allowModels(a)
	return a
}
