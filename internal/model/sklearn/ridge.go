package sklearn

// classesOf returns an estimator's classes_: its own attribute, or, for
// RidgeClassifier and RidgeClassifierCV from scikit-learn 1.2 and earlier
// (where classes_ is a property), the classes_ of its _label_binarizer.
func classesOf(o obj) (any, bool) {
	if v, ok := o.get("classes_"); ok {
		return v, true
	}
	if lb, ok := asObj(mustGet(o, "_label_binarizer")); ok && lb.name() == "LabelBinarizer" {
		return lb.get("classes_")
	}
	return nil, false
}
