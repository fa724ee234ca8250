// Package sklearn serves scikit-learn text classifiers read natively from the
// .pkl and .joblib files Python wrote, without running Python or any pickled
// code.
//
// Load decodes the file through an allow-list of globals (numpy, scipy,
// joblib and the scikit-learn classes listed in Supported), then translates
// the estimator tree into the shared preprocess feature extractors and a
// small set of Go classifiers that compute what scikit-learn's predict,
// predict_proba and decision_function compute. Anything else is refused: an
// unknown estimator with an error wrapping model.ErrUnsupported that lists
// what is supported, a global that is not allowed at all (a pickled custom
// tokenizer, os.system) with an error wrapping model.ErrInvalid and
// pickle.ErrForbidden that names it.
//
// Beyond linear models and naive Bayes, the classifier at a pipeline's end
// may be a meta-estimator (OneVsRest, OneVsOne, Voting, Stacking, whose
// members are translated like any last step), a tree or ensemble
// (DecisionTree, RandomForest, ExtraTrees, GradientBoosting, AdaBoost,
// HistGradientBoosting), an SVC/NuSVC, an MLP, a KNeighbors or a
// NearestCentroid. Each reproduces scikit-learn's arithmetic where it
// decides a label: trees compare the float32-cast feature with the float64
// threshold as sklearn/tree/_tree.pyx does, SVC couples pairwise
// probabilities as scikit-learn's libsvm does, KNeighbors keeps equally
// distant rows as ArgKmin's heap does. What the file carries only for
// fitting (optimizer state, a RandomState, a KD tree, Cython loss objects)
// is allowed as data and never called.
//
// LoadVectors reads the other kind of scikit-learn file mlserve serves: a
// classifier on dense float vectors (the second stage of a two-stage model,
// fed by an encoder's embeddings), bare or after dense transformers
// (StandardScaler, Normalizer, TruncatedSVD, PCA). Its VectorModel shares
// the text models' classifiers, so its predictions mean the same. Each
// loader refuses the other's files with an error that says which to use.
//
// Files are read as people save them. A saved GridSearchCV,
// RandomizedSearchCV or successive-halving search keeps what it was given
// and what it tried (scipy.stats
// distributions, CV splitters, scorers and the metric functions they name,
// joblib.Memory, candidate estimators that lost): these are allow-listed as
// inert data that is decoded, never called, and only best_estimator_ is
// translated; a candidate class reached as a step is still refused by name
// (search.go, inert_gen.go). CalibratedClassifierCV may wrap whole text
// pipelines, one per fold, each with its own vocabulary (calibrate.go).
// Feature selectors are their fitted support masks (selection.go), and
// dtype=np.float32 vectorizers round as numpy does (float32.go).
//
// Model.Explain (explain.go, names.go) explains a prediction exactly where
// the model's score is a sum over the row's stored values plus a bias:
// linear classifiers, naive Bayes and CalibratedClassifierCV of them (the
// mean of the bases' scores), after vectorizers, element-wise steps and
// selection masks, in pipelines and feature unions. A column is named by
// walking the featurizer back (a vocabulary's inverse and a mask's inverse
// are built once per model, on the first explanation; a hashed column by
// the text's own n-grams), and only the top k are named. Anything that
// mixes columns (TruncatedSVD) or scores otherwise (trees, kernels, MLPs)
// answers model.ErrNotExplainable and the server falls back to occlusion.
//
// A model file is untrusted input to a server that serves other models, so
// LoadContext and LoadVectorsContext hold each file to a budget derived from
// its size (joblib.Budget, capped by Options.MaxModelBytes) and stop when
// their context is done; the translator refuses an estimator that contains
// itself, estimators nested deeper than 64 and more than 4096 in all, with
// an error that names the path (GridSearchCV.best_estimator_ →
// GridSearchCV). A panic below them is turned into an error as a last line
// of defence, never relied on.
package sklearn
