package model

import (
	"context"
	"errors"

	"github.com/mlserve/mlserve/api"
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

// Explanation, Contribution and Span are the API's types: a model's
// explanation is what the server sends.
type (
	Explanation  = api.Explanation
	Contribution = api.Contribution
	Span         = api.Span
)

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
