// Package model defines what mlserve serves: a framework-neutral text
// classification model, the repository it is read from, and the registry of
// loaded versions.
package model

import (
	"context"
	"errors"
)

// Model is a loaded, ready-to-serve text classifier. Implementations are safe
// for concurrent use.
type Model interface {
	// Predict classifies a batch of texts. The result has one entry per text,
	// in order. ctx carries the request deadline.
	Predict(ctx context.Context, texts []string) ([]Prediction, error)
	// Labels are the class labels, in the order of Prediction.Probabilities.
	Labels() []string
	// Info describes the model as read from its artifact.
	Info() Info
	// Close releases what the model holds (native sessions, memory maps).
	Close() error
}

// Prediction is one text's result.
type Prediction struct {
	// Label is the predicted class label, rendered as a string.
	Label string
	// Index is Label's position in Labels().
	Index int
	// Confidence is the probability of Label, or for a model without
	// probabilities the score named by Info().Confidence.
	Confidence float64
	// Probabilities holds one score per label (in Labels() order) that sum to
	// one (for a MultiLabel model, each label's own probability); nil when
	// the model gives none.
	Probabilities []float64
	// Decision holds the raw decision values (scikit-learn's
	// decision_function: one value for a binary model, one per class
	// otherwise); nil when the model has none.
	Decision []float64
	// OOV is the text's out-of-vocabulary rate, the drift monitor's signal,
	// when the backend measured it while predicting (the scikit-learn
	// backend does, in the same pass as the features). The zero value means
	// not measured: other backends leave it so, and the server then asks
	// the model's own OOVRate(text) where it has one.
	OOV OOVRate
}

// MultiLabel is a Model whose labels are independent (multi-label
// classification: one sigmoid per label, probabilities that need not sum
// to one). Prediction.Label is still the most probable label; every label
// whose probability is over Threshold applies to the text (LabelsOver).
type MultiLabel interface {
	Model
	// Threshold is the probability a label must exceed to apply; ok is
	// false when the model turns out single-label (a backend whose models
	// may be either).
	Threshold() (threshold float64, ok bool)
}

// ThresholdOf returns m's multi-label threshold; ok is false for a
// single-label model.
func ThresholdOf(m Model) (threshold float64, ok bool) {
	if ml, is := m.(MultiLabel); is {
		return ml.Threshold()
	}
	return 0, false
}

// DefaultThreshold is a multi-label model's threshold when model.yaml sets
// none: a label applies when its sigmoid says it is more likely than not.
const DefaultThreshold = 0.5

// LabelsOver returns, in label order, the labels whose probability in p is
// over threshold; nil when none is.
func LabelsOver(labels []string, p Prediction, threshold float64) []string {
	var out []string
	for i, v := range p.Probabilities {
		if v > threshold && i < len(labels) {
			out = append(out, labels[i])
		}
	}
	return out
}

// OOVRate is an out-of-vocabulary rate that may not have been measured.
type OOVRate struct {
	// Rate is the share of the text's words outside the model's vocabulary,
	// from 0 to 1; 0 for a text without words.
	Rate float64
	// Measured says Rate holds a measurement.
	Measured bool
}

// Info is what a backend can tell about a model without any manifest.
type Info struct {
	// Framework is "sklearn" or "onnx".
	Framework string `json:"framework"`
	// Estimator is the chain of estimators, outermost first, e.g.
	// ["Pipeline", "TfidfVectorizer", "LogisticRegression"].
	Estimator []string `json:"estimator,omitempty"`
	// LibraryVersion is the version of the training library recorded in the
	// file (sklearn's _sklearn_version), when there is one.
	LibraryVersion string `json:"library_version,omitempty"`
	// Probabilistic says whether Confidence is a calibrated probability.
	Probabilistic bool `json:"probabilistic"`
	// Confidence says what Prediction.Confidence means.
	Confidence string `json:"confidence"`
	// Features describes the feature extraction (vocabulary size, n-gram range, ...).
	Features map[string]any `json:"features,omitempty"`
}

// Errors a backend's loader returns; wrap them with the detail.
var (
	// ErrUnsupported means the artifact holds something mlserve cannot serve
	// (an unknown estimator, a pickled Python callable).
	ErrUnsupported = errors.New("unsupported model")
	// ErrInvalid means the artifact is malformed or hostile.
	ErrInvalid = errors.New("invalid model file")
)
