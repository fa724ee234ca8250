package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// ManifestFile is the manifest's file name inside a version folder.
const ManifestFile = "model.yaml"

// Manifest is a version's model.yaml: metadata written by the training
// script. It is optional for scikit-learn artifacts. Keys this version of
// mlserve does not know are reported as warnings, not errors, so newer
// training scripts keep working.
type Manifest struct {
	// Framework is "sklearn" or "onnx"; empty means "infer from the artifact's extension".
	Framework string `yaml:"framework" json:"framework,omitempty"`
	// Artifact is the artifact's file name in the version folder.
	Artifact string `yaml:"artifact" json:"artifact,omitempty"`
	// Description is free text.
	Description string `yaml:"description" json:"description,omitempty"`
	// Accuracy is the accuracy on held-out data, when measured.
	Accuracy *float64 `yaml:"accuracy" json:"accuracy,omitempty"`
	// TrainingDate is when the model was trained (as written by the script).
	TrainingDate string `yaml:"training_date" json:"training_date,omitempty"`
	// Features describes the features (free-form: text or a map).
	Features any `yaml:"features" json:"features,omitempty"`
	// Labels are the class labels, when listed.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// LibraryVersions are the training libraries' versions (sklearn, numpy...).
	LibraryVersions map[string]string `yaml:"library_versions" json:"library_versions,omitempty"`
	// Preprocessing lists the cleaning steps applied to each text before the
	// model's own pipeline (preprocess.NewCleaner builds them).
	Preprocessing []preprocess.StepSpec `yaml:"preprocessing" json:"-"`
	// Steps are the names of the preprocessing steps, for display.
	Steps []string `yaml:"-" json:"preprocessing,omitempty"`
	// Warmup are sample texts predicted once before a version serves.
	Warmup []string `yaml:"warmup" json:"warmup,omitempty"`
	// Reference holds statistics of held-out data, for drift detection.
	Reference *Reference `yaml:"reference" json:"reference,omitempty"`
	// Threshold is the probability over which a multi-label model (one
	// sigmoid per label) returns a label in Prediction's label list;
	// nil means DefaultThreshold. Single-label models ignore it.
	Threshold *float64 `yaml:"threshold" json:"threshold,omitempty"`
	// ONNX is the onnx: section of an ONNX model (tokenizer, graph inputs,
	// output), kept undecoded: the onnx backend decodes it strictly.
	ONNX yaml.Node `yaml:"onnx" json:"-"`
	// OODPolicy is what a text flagged out of distribution gets: "flag"
	// (the default: answered, flagged) or "reject" (a 422).
	OODPolicy string `yaml:"ood_policy" json:"ood_policy,omitempty"`
	// OODAlpha is the level below which a text's combined p-value is
	// flagged (default ood.DefaultAlpha).
	OODAlpha *float64 `yaml:"ood_alpha" json:"ood_alpha,omitempty"`
	// Golden is the parity certificate: texts with the outputs the training
	// environment produced, checked when the version loads (nil: none).
	Golden *Golden `yaml:"golden" json:"-"`
	// Traffic makes the version a candidate: compared with its name's
	// default (shadow, canary, mirror) until promoted or rolled back. A
	// candidate does not become its name's default by being the newest.
	Traffic *api.TrafficPolicy `yaml:"traffic" json:"traffic,omitempty"`
}

// Reference is the reference block of a manifest: what the model's outputs
// and inputs looked like on held-out data.
type Reference struct {
	// N is the number of held-out texts the statistics come from.
	N int `yaml:"n" json:"n"`
	// LabelDistribution is the fraction of predictions per label.
	LabelDistribution map[string]float64 `yaml:"label_distribution" json:"label_distribution,omitempty"`
	// Confidence is the histogram of prediction confidence.
	Confidence *Histogram `yaml:"confidence" json:"confidence,omitempty"`
	// TextLength is the histogram of text lengths in characters.
	TextLength *Histogram `yaml:"text_length" json:"text_length,omitempty"`
	// OOVRate is the histogram of out-of-vocabulary token rates.
	OOVRate *Histogram `yaml:"oov_rate" json:"oov_rate,omitempty"`
}

// Histogram is a binned distribution: len(Edges) == len(Fractions)+1.
type Histogram struct {
	// Edges are the bin boundaries, ascending.
	Edges []float64 `yaml:"edges" json:"edges"`
	// Fractions are the share of values per bin.
	Fractions []float64 `yaml:"fractions" json:"fractions"`
	// Mean of the values, when given.
	Mean *float64 `yaml:"mean" json:"mean,omitempty"`
	// Std is the standard deviation of the values, when given.
	Std *float64 `yaml:"std" json:"std,omitempty"`
}

var manifestKeys = []string{"framework", "artifact", "description", "accuracy", "training_date", "features",
	"labels", "library_versions", "preprocessing", "warmup", "reference", "onnx", "threshold", "ood_policy", "ood_alpha", "golden", "traffic"}

// ParseManifest decodes model.yaml. It returns warnings for keys it does not
// know; an error wrapping ErrInvalid for malformed YAML, wrong types or
// inconsistent histograms.
func ParseManifest(b []byte) (*Manifest, []string, error) {
	m := &Manifest{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil, nil
	}
	// Decoding errors keep their line numbers but not the values they
	// quote: the file may be a link to one that is not the admin's to show.
	if err := yaml.Unmarshal(b, m); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %s", ErrInvalid, ManifestFile, ContentFreeError(err))
	}
	var raw map[string]yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%w: %s: %s", ErrInvalid, ManifestFile, ContentFreeError(err))
	}
	var warnings []string
	for k := range raw {
		if !slices.Contains(manifestKeys, k) {
			warnings = append(warnings, fmt.Sprintf("%s: unknown key %q ignored", ManifestFile, k))
		}
	}
	slices.Sort(warnings)
	if t := m.Threshold; t != nil && !(*t >= 0 && *t < 1) {
		return nil, nil, fmt.Errorf("%w: %s: threshold %v is not in [0, 1)", ErrInvalid, ManifestFile, *t)
	}
	for _, st := range m.Preprocessing {
		m.Steps = append(m.Steps, st.Name)
	}
	if m.Reference != nil {
		for name, h := range map[string]*Histogram{"confidence": m.Reference.Confidence,
			"text_length": m.Reference.TextLength, "oov_rate": m.Reference.OOVRate} {
			if h != nil && len(h.Edges) != len(h.Fractions)+1 {
				return nil, nil, fmt.Errorf("%w: %s: reference.%s: %d edges for %d fractions (want fractions+1)",
					ErrInvalid, ManifestFile, name, len(h.Edges), len(h.Fractions))
			}
		}
	}
	switch m.OODPolicy {
	case "", "flag", "reject":
	default:
		return nil, nil, fmt.Errorf("%w: %s: ood_policy %q: want flag or reject", ErrInvalid, ManifestFile, m.OODPolicy)
	}
	if a := m.OODAlpha; a != nil && !(*a > 0 && *a < 1) {
		return nil, nil, fmt.Errorf("%w: %s: ood_alpha %v: want a level between 0 and 1", ErrInvalid, ManifestFile, *a)
	}
	if m.Traffic != nil {
		if err := CheckTraffic(*m.Traffic, true); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: traffic: %w", ErrInvalid, ManifestFile, err)
		}
	}
	if m.Golden != nil {
		if err := m.Golden.validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalid, ManifestFile, err)
		}
	}
	return m, warnings, nil
}

// CheckTraffic checks a traffic policy's values; inManifest says it is a
// model.yaml's traffic: section (whose candidate is the version itself).
func CheckTraffic(p api.TrafficPolicy, inManifest bool) error {
	switch p.Mode {
	case api.TrafficShadow:
	case api.TrafficCanary, api.TrafficMirror:
		if !(p.Share > 0 && p.Share <= 1) {
			return fmt.Errorf("mode %s needs a share above 0 and at most 1 (or 100%%), got %v", p.Mode, p.Share)
		}
	case api.TrafficOff:
		if inManifest {
			return errors.New("mode off is for the admin API; leave the section out")
		}
	default:
		return fmt.Errorf("mode %q: want shadow, canary or mirror", p.Mode)
	}
	if inManifest && p.Candidate != "" {
		return errors.New("candidate: the version whose model.yaml this is is the candidate; leave it out")
	}
	g := p.Gates
	for name, v := range map[string]*float64{"min_agreement": g.MinAgreement, "min_live_accuracy": g.MinLiveAccuracy} {
		if v != nil && !(*v >= 0 && *v <= 1) {
			return fmt.Errorf("gates.%s: %v is not between 0 and 1", name, *v)
		}
	}
	if v := g.MaxLatencyRatio; v != nil && !(*v > 0) {
		return fmt.Errorf("gates.max_latency_ratio: %v is not above 0", *v)
	}
	if g.MinSamples < 0 || g.MinFeedback < 0 {
		return errors.New("gates.min_samples and gates.min_feedback cannot be negative")
	}
	return nil
}
