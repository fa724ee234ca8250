package api

// OOD is one answer's out-of-distribution verdict: how unlike the model
// version's held-out reference the text and its prediction are (its
// out-of-vocabulary rate, length and confidence, combined). Present when
// the version's model.yaml has a reference block.
type OOD struct {
	// Score is 1 − p, p the combined tail probability: near 1 for a text
	// unlike anything in the reference.
	Score float64 `json:"score" doc:"1 - p (combined tail probability against the version's reference); near 1 is out of distribution."`
	// Flag says p is below the version's level (ood_alpha, default 0.01).
	Flag bool `json:"flag" doc:"Whether p is below the version's ood_alpha (default 0.01)."`
	// Signal names the signal that decided (oov_rate, text_length,
	// confidence), when flagged.
	Signal string `json:"signal,omitempty" doc:"The signal with the smallest tail probability, when flagged."`
}
