package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
)

// MaxExplainTopK is the most contributions one explanation may ask for.
const MaxExplainTopK = 1000

// MaxExplainTokens is the most tokens occlusion may remove one at a time
// (each is one more text through the model).
const MaxExplainTokens = 512

// Explain asks for an explanation of each prediction. In JSON it is
// `true`, `false` or an object `{"top_k": 10, "max_tokens": 64}` (either
// key optional); the zero value is `false`.
type Explain struct {
	// Enabled says an explanation was asked for.
	Enabled bool `json:"-"`
	// TopK is how many contributions to return, largest magnitude first;
	// zero means the server's default (10).
	TopK int `json:"top_k,omitempty"`
	// MaxTokens caps how many tokens occlusion removes one at a time
	// (models without an exact explanation); zero means the server's
	// default (64).
	MaxTokens int `json:"max_tokens,omitempty"`
}

// UnmarshalJSON reads true, false, null or an options object.
func (e *Explain) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*e = Explain{Enabled: true}
		return nil
	case "false", "null":
		*e = Explain{}
		return nil
	}
	type plain Explain
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("explain: want true, false or {\"top_k\": n, \"max_tokens\": n}: %w", err)
	}
	if p.TopK < 0 || p.TopK > MaxExplainTopK {
		return fmt.Errorf("explain.top_k %d: want 1 to %d", p.TopK, MaxExplainTopK)
	}
	if p.MaxTokens < 0 || p.MaxTokens > MaxExplainTokens {
		return fmt.Errorf("explain.max_tokens %d: want 1 to %d", p.MaxTokens, MaxExplainTokens)
	}
	*e = Explain(p)
	e.Enabled = true
	return nil
}

// MarshalJSON writes false, true or the options object.
func (e Explain) MarshalJSON() ([]byte, error) {
	if !e.Enabled {
		return []byte("false"), nil
	}
	if e.TopK == 0 && e.MaxTokens == 0 {
		return []byte("true"), nil
	}
	type plain Explain
	return json.Marshal(plain(e))
}

// IsZero makes omitzero leave out a request's explain when not asked for.
func (e Explain) IsZero() bool { return !e.Enabled }

// Schema is the OpenAPI schema of Explain: a boolean or the options object.
func (e *Explain) Schema(huma.Registry) *huma.Schema {
	one, topK, maxTok := 1.0, float64(MaxExplainTopK), float64(MaxExplainTokens)
	return &huma.Schema{
		Description: "Explain the prediction: true, or options. Exact contributions for linear and naive Bayes models, occlusion (approximate) for others.",
		OneOf: []*huma.Schema{
			{Type: huma.TypeBoolean},
			{
				Type:                 huma.TypeObject,
				AdditionalProperties: false,
				Properties: map[string]*huma.Schema{
					"top_k":      {Type: huma.TypeInteger, Minimum: &one, Maximum: &topK, Description: "Contributions to return, largest magnitude first (default 10)."},
					"max_tokens": {Type: huma.TypeInteger, Minimum: &one, Maximum: &maxTok, Description: "Tokens occlusion removes one at a time (default 64)."},
				},
			},
		},
	}
}

// Explanation says why the model gave a text its label.
type Explanation struct {
	// Method is "exact" (the model's own arithmetic) or "occlusion"
	// (leave-one-token-out).
	Method string `json:"method" doc:"exact or occlusion."`
	// Approximate is true for occlusion.
	Approximate bool `json:"approximate" doc:"True for occlusion."`
	// Class is the label whose score is explained (for a binary linear
	// model the positive class, classes_[1]: negative contributions push
	// towards the other label).
	Class string `json:"class" doc:"Label whose score is explained (binary linear models: the positive class)."`
	// Score names the explained quantity: decision_function,
	// joint_log_likelihood, mean_base_decision_function, log_odds (occlusion
	// of a probabilistic model: log(p/(1-p)) of the label), ...
	Score string `json:"score" doc:"What value is: decision_function, joint_log_likelihood, mean_base_..., log_odds (occlusion of a probabilistic model)."`
	// Value is the explained score of the whole text.
	Value float64 `json:"value" doc:"The explained score of the whole text."`
	// Base is the score without any feature (the intercept or log prior);
	// 0 for occlusion.
	Base float64 `json:"base" doc:"Intercept or log prior (exact); 0 for occlusion."`
	// Contributions are the top-k features, largest magnitude first.
	Contributions []Contribution `json:"contributions" doc:"Top-k features, largest magnitude first."`
	// Rest is the sum of the contributions left out of the top k (exact:
	// base + Σ contributions + rest = value).
	Rest float64 `json:"rest" doc:"Sum of the contributions not listed (exact: base + contributions + rest = value)."`
	// Features is how many features (n-grams; occlusion: distinct words)
	// the text has.
	Features int `json:"features" doc:"How many features (n-grams; occlusion: distinct words) the text has."`
}

// Contribution is one feature's share of the explained score.
type Contribution struct {
	// Feature is the n-gram as the model's analyzer wrote it (occlusion:
	// the word removed).
	Feature string `json:"feature"`
	// Hashed lists every n-gram of the text hashed to the same column
	// (HashingVectorizer).
	Hashed []string `json:"hashed,omitempty"`
	// Value is the contribution: feature value × weight (exact), or the
	// drop in the score without the word (occlusion).
	Value float64 `json:"value"`
	// FeatureValue is the feature's value in the model's row (after TF-IDF
	// and normalisation); 0 for occlusion.
	FeatureValue float64 `json:"feature_value,omitempty"`
	// Spans are the feature's occurrences in the text as sent, in code
	// points.
	Spans []Span `json:"spans"`
}

// Span is [Start, End) in code points of the text as sent (Python's str
// indices: text[start:end]).
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}
