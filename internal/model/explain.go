package model

import (
	"context"
	"errors"
)

// Explanation methods.
const (
	// MethodExact is a linear model's (or naive Bayes') own arithmetic: each
	// feature's value times its weight, summing with Base to Value.
	MethodExact = "exact"
	// MethodOcclusion is leave-one-token-out: each token's contribution is
	// how much the explained score drops when that token is removed.
	MethodOcclusion = "occlusion"
)

// DefaultTopK is how many contributions an explanation keeps when the
// request does not say.
const DefaultTopK = 10

// DefaultMaxTokens is how many tokens occlusion removes one at a time when
// the request does not say (each costs one more text through the model).
const DefaultMaxTokens = 64

// ExplainRequest asks for one text's explanation.
type ExplainRequest struct {
	// Text is the text the model sees (after the manifest's cleaning).
	Text string
	// Original is the text as the client sent it, before cleaning; spans
	// point into it. Empty means Text.
	Original string
	// TopK is how many contributions to keep, largest magnitude first;
	// zero means DefaultTopK.
	TopK int
}

// Explanation says why a model gave one text its label.
type Explanation struct {
	// Method is MethodExact or MethodOcclusion.
	Method string
	// Approximate is true for occlusion.
	Approximate bool
	// Class is the label whose score is explained: the predicted label,
	// or for a binary linear model the positive class (classes_[1]),
	// whose score is the single decision function.
	Class string
	// Score names the explained quantity ("decision_function",
	// "joint_log_likelihood", "mean_base_decision_function",
	// "probability").
	Score string
	// Value is the explained score for the text.
	Value float64
	// Base is the score without any feature: the intercept (exact) or
	// Value (occlusion, where contributions are drops from it).
	Base float64
	// Contributions are the top-k features, largest magnitude first.
	Contributions []Contribution
	// Rest is the sum of the contributions left out of the top k, so that
	// Base + Σ Contributions + Rest == Value for an exact explanation.
	Rest float64
	// Features is how many features (n-grams, or tokens for occlusion) the
	// text had in all.
	Features int
}

// Contribution is one feature's share of the explained score.
type Contribution struct {
	// Feature is the n-gram (or token for occlusion), as the model's
	// analyzer wrote it; for a hashed column, the first n-gram hashed there.
	Feature string
	// Hashed are all the text's n-grams that share the feature's column
	// (HashingVectorizer); nil otherwise.
	Hashed []string
	// Value is the feature's contribution (feature value × weight, or the
	// drop without the token).
	Value float64
	// FeatureValue is the value of the feature in the model's row (after
	// TF-IDF, normalisation and scaling); 0 for occlusion.
	FeatureValue float64
	// Spans are the feature's occurrences in the original text, in code
	// points; empty where none could be located (a cleaning step that
	// rewrote the words).
	Spans []Span
}

// Span is [Start, End) in code points (Python's str indices) of the
// original text.
type Span struct {
	Start, End int
}

// Explainer is a model that explains its own predictions exactly. A model
// that is not, or that answers ErrNotExplainable for a text, is explained
// by occlusion.
type Explainer interface {
	Explain(ctx context.Context, req ExplainRequest) (Explanation, error)
}

// ErrNotExplainable means a model cannot explain itself exactly (a dense
// step such as TruncatedSVD, a tree, a kernel); the caller falls back to
// occlusion.
var ErrNotExplainable = errors.New("no exact explanation for this model")
