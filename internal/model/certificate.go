package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
)

// ErrCertificate means a version's outputs differ from its parity
// certificate (model.yaml's golden: section) beyond tolerance: it was
// trained or saved by another environment than the one that certified it,
// or altered since. Such a version fails to load; it never serves.
var ErrCertificate = errors.New("parity certificate failed")

// Certificate is a version's parity certificate status (see api.Certificate).
type Certificate = api.Certificate

// DefaultGoldenTolerance is the tolerance of a golden: section that names
// none: far above the 1e-12 disagreements of summation order and exp/log
// ulps, far below any change of a coefficient that matters.
const DefaultGoldenTolerance = 1e-6

// maxGoldenTexts caps a certificate's size, so checking it stays a small
// part of a load's time budget.
const maxGoldenTexts = 1000

// goldenBatch is how many golden texts go to the model in one call.
const goldenBatch = 64

// Golden is the golden: section of a manifest, written by the training
// environment (python/mlserve_certify.py): texts with the label and
// probabilities (or decision values) that environment's model produced.
type Golden struct {
	// Tolerance is the largest absolute difference allowed per probability
	// or decision value; 0 means DefaultGoldenTolerance.
	Tolerance float64 `yaml:"tolerance"`
	// Producer names the environment that computed the outputs (library
	// versions), for the record.
	Producer map[string]string `yaml:"producer"`
	// Texts are the certified texts and their outputs.
	Texts []GoldenText `yaml:"texts"`

	// result is the check's outcome, set once by the registry while it
	// loads the version, before the manifest is shared.
	result *Certificate
}

// GoldenText is one certified text and the output the training
// environment gave for it.
type GoldenText struct {
	// Text is the input, as a client sends it (before the manifest's
	// preprocessing).
	Text string `yaml:"text"`
	// Label is the predicted class label.
	Label string `yaml:"label"`
	// Probabilities maps each label to its probability; empty for a model
	// without probabilities.
	Probabilities map[string]float64 `yaml:"probabilities"`
	// Decision holds the decision values (decision_function), when given.
	Decision []float64 `yaml:"decision"`
}

// tolerance is g's tolerance, defaulted.
func (g *Golden) tolerance() float64 {
	if g.Tolerance == 0 {
		return DefaultGoldenTolerance
	}
	return g.Tolerance
}

// validate checks the section's shape: what parses but cannot be checked is
// an error naming the entry.
func (g *Golden) validate() error {
	if len(g.Texts) == 0 {
		return errors.New("golden: no texts")
	}
	if len(g.Texts) > maxGoldenTexts {
		return fmt.Errorf("golden: %d texts (at most %d)", len(g.Texts), maxGoldenTexts)
	}
	if g.Tolerance < 0 || math.IsNaN(g.Tolerance) || math.IsInf(g.Tolerance, 0) {
		return fmt.Errorf("golden: tolerance %v (want a finite number >= 0)", g.Tolerance)
	}
	for i, t := range g.Texts {
		if t.Label == "" {
			return fmt.Errorf("golden: texts[%d]: no label", i)
		}
		if len(t.Probabilities) == 0 && len(t.Decision) == 0 {
			return fmt.Errorf("golden: texts[%d]: neither probabilities nor decision", i)
		}
		for l, p := range t.Probabilities {
			if !(p >= 0 && p <= 1) {
				return fmt.Errorf("golden: texts[%d]: probability of %q is %v (want 0 to 1)", i, l, p)
			}
		}
		for _, d := range t.Decision {
			if math.IsNaN(d) || math.IsInf(d, 0) {
				return fmt.Errorf("golden: texts[%d]: decision value %v is not finite", i, d)
			}
		}
	}
	return nil
}

// CertificateOf is the certificate status of a version with manifest man
// that loaded (a nil or golden-less manifest: none).
func CertificateOf(man *Manifest) *Certificate {
	if man == nil || man.Golden == nil {
		return &Certificate{Status: api.CertificateNone}
	}
	if man.Golden.result == nil {
		return nil // not checked yet
	}
	c := *man.Golden.result
	return &c
}

// CheckGolden predicts g's texts with m and compares each output with the
// certified one. It returns the certificate's status; when a text differs
// beyond tolerance (or the model cannot be compared) the error wraps
// ErrCertificate and names the first differing text.
func CheckGolden(ctx context.Context, m Model, g *Golden) (Certificate, error) {
	tol := g.tolerance()
	cert := Certificate{Status: api.CertificatePassed, Texts: len(g.Texts), Tolerance: tol, Producer: g.Producer}
	labels := m.Labels()
	fail := func(i int, format string, args ...any) (Certificate, error) {
		cert.Status = api.CertificateFailed
		cert.FirstDifference = fmt.Sprintf("golden text %d %s: ", i, quote(g.Texts[i].Text)) + fmt.Sprintf(format, args...)
		return cert, fmt.Errorf("%w: %s", ErrCertificate, cert.FirstDifference)
	}
	for lo := 0; lo < len(g.Texts); lo += goldenBatch {
		hi := min(lo+goldenBatch, len(g.Texts))
		texts := make([]string, 0, hi-lo)
		for _, t := range g.Texts[lo:hi] {
			texts = append(texts, t.Text)
		}
		preds, err := m.Predict(ctx, texts)
		if err != nil {
			return cert, fmt.Errorf("golden texts: %w", err)
		}
		if len(preds) != len(texts) {
			return cert, fmt.Errorf("%w: golden texts: %d predictions for %d texts", ErrInvalid, len(preds), len(texts))
		}
		for j, p := range preds {
			i, want := lo+j, g.Texts[lo+j]
			if p.Label != want.Label {
				return fail(i, "label %q, certified %q", p.Label, want.Label)
			}
			if len(want.Probabilities) > 0 {
				if p.Probabilities == nil {
					return fail(i, "the model gives no probabilities; the certificate has them")
				}
				// Labels in a fixed order, so the first difference named is
				// the same on every load.
				names := make([]string, 0, len(want.Probabilities))
				for l := range want.Probabilities {
					names = append(names, l)
				}
				slices.Sort(names)
				for _, l := range names {
					k := slices.Index(labels, l)
					if k < 0 || k >= len(p.Probabilities) {
						return fail(i, "the certificate has a probability for label %q, which the model does not have (labels %q)", l, labels)
					}
					d := math.Abs(p.Probabilities[k] - want.Probabilities[l])
					cert.MaxDelta = max(cert.MaxDelta, d)
					if !(d <= tol) {
						return fail(i, "probability of %q is %.17g, certified %.17g (difference %.3g > tolerance %.3g)",
							l, p.Probabilities[k], want.Probabilities[l], d, tol)
					}
				}
			}
			if len(want.Decision) > 0 {
				if len(p.Decision) != len(want.Decision) {
					return fail(i, "%d decision values, certified %d", len(p.Decision), len(want.Decision))
				}
				for k, w := range want.Decision {
					d := math.Abs(p.Decision[k] - w)
					cert.MaxDelta = max(cert.MaxDelta, d)
					if !(d <= tol) {
						return fail(i, "decision value %d is %.17g, certified %.17g (difference %.3g > tolerance %.3g)",
							k, p.Decision[k], w, d, tol)
					}
				}
			}
		}
	}
	return cert, nil
}

// quote renders a golden text for an error message: quoted, at most 60
// characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		return fmt.Sprintf("%q...", string(r[:60]))
	}
	return fmt.Sprintf("%q", s)
}

// certify checks man's parity certificate on the warm model m, records the
// outcome on man (GET /models/{id} shows it) and closes m when it fails.
func (r *Registry) certify(ctx context.Context, m Model, man *Manifest) error {
	if man.Golden == nil {
		return nil
	}
	cert, err := CheckGolden(ctx, m, man.Golden)
	if err != nil {
		m.Close()
		if cert.Status == api.CertificateFailed {
			man.Golden.result = &cert
		}
		return err
	}
	man.Golden.result = &cert
	r.log.Info("parity certificate passed", "texts", cert.Texts, "max_delta", cert.MaxDelta, "tolerance", cert.Tolerance)
	return nil
}
