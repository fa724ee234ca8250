package api

// Certificate statuses (Certificate.Status).
const (
	// CertificatePassed: every golden text gave the training environment's
	// label and probabilities within tolerance.
	CertificatePassed = "passed"
	// CertificateFailed: a golden text did not; the version does not serve.
	CertificateFailed = "failed"
	// CertificateNone: the version's model.yaml carries no golden: section.
	CertificateNone = "none"
)

// Certificate is a version's parity certificate as checked at load time:
// the golden texts of its model.yaml, predicted by the loaded model and
// compared with the outputs the training environment recorded.
type Certificate struct {
	// Status is passed, failed or none.
	Status string `json:"status" enum:"passed,failed,none"`
	// Texts is the number of golden texts checked.
	Texts int `json:"texts,omitempty"`
	// Tolerance is the largest absolute difference allowed per
	// probability (or decision value).
	Tolerance float64 `json:"tolerance,omitempty"`
	// MaxDelta is the largest absolute difference seen over all texts.
	MaxDelta float64 `json:"max_delta"`
	// Producer names the environment that wrote the golden outputs
	// (library versions), as the certificate says.
	Producer map[string]string `json:"producer,omitempty"`
	// FirstDifference describes the first golden text whose output
	// differs beyond tolerance (failed only).
	FirstDifference string `json:"first_difference,omitempty"`
}
