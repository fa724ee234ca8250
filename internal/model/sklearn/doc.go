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
package sklearn
