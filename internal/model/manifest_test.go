package model

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseManifest(t *testing.T) {
	full := `framework: sklearn
artifact: model.joblib
description: sentiment
accuracy: 0.91
training_date: "2026-11-20"
features: {vectorizer: tfidf, ngram_range: [1, 2]}
labels: [negative, neutral, positive]
library_versions: {scikit-learn: "1.5.2", numpy: "2.1.0"}
preprocessing:
  - lowercase
  - truncate: {max_chars: 1000}
warmup: ["good", "bad"]
reference:
  n: 500
  label_distribution: {negative: 0.3, neutral: 0.3, positive: 0.4}
  confidence: {edges: [0, 0.5, 1], fractions: [0.2, 0.8], mean: 0.7}
  text_length: {edges: [0, 100, 1000], fractions: [0.5, 0.5]}
`
	tests := []struct {
		name     string
		in       string
		warnings int
		wantErr  bool
		check    func(*testing.T, *Manifest)
	}{
		{name: "full", in: full, check: func(t *testing.T, m *Manifest) {
			if m.Framework != "sklearn" || *m.Accuracy != 0.91 || len(m.Labels) != 3 || m.LibraryVersions["numpy"] != "2.1.0" {
				t.Errorf("got %+v", m)
			}
			if len(m.Preprocessing) != 2 || m.Preprocessing[1].Name != "truncate" || m.Preprocessing[1].Options["max_chars"].Value != "1000" ||
				strings.Join(m.Steps, ",") != "lowercase,truncate" {
				t.Errorf("preprocessing %+v", m.Preprocessing)
			}
			if m.Reference.N != 500 || *m.Reference.Confidence.Mean != 0.7 || m.Reference.TextLength.Mean != nil {
				t.Errorf("reference %+v", m.Reference)
			}
		}},
		{name: "empty", in: "", check: func(t *testing.T, m *Manifest) {
			if m.Framework != "" {
				t.Errorf("got %+v", m)
			}
		}},
		{name: "unknown keys warn", in: "framework: onnx\nopset: 17\nauthor: me\n", warnings: 2},
		{name: "onnx section kept for the backend", in: "framework: onnx\nonnx:\n  tokenizer: {type: regex}\n  output: {kind: logits}\n",
			check: func(t *testing.T, m *Manifest) {
				if m.ONNX.Kind != yaml.MappingNode || len(m.ONNX.Content) != 4 || m.ONNX.Content[0].Value != "tokenizer" {
					t.Errorf("onnx node %+v", m.ONNX)
				}
			}},
		{name: "bad yaml", in: "labels: [a, b\n", wantErr: true},
		{name: "wrong type", in: "accuracy: high\n", wantErr: true},
		{name: "bad step", in: "preprocessing: [{a: 1, b: 2}]\n", wantErr: true},
		{name: "histogram mismatch", in: "reference: {oov_rate: {edges: [0, 1], fractions: [0.5, 0.5]}}\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, w, err := ParseManifest([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(w) != tt.warnings {
				t.Errorf("warnings = %q, want %d", w, tt.warnings)
			}
			for _, s := range w {
				if !strings.Contains(s, "unknown key") {
					t.Errorf("warning %q", s)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("framework: sklearn\nreference: {confidence: {edges: [0,1], fractions: [1]}}\n"))
	f.Add([]byte("labels: [a, b]\nwarmup: [x]\n"))
	f.Add([]byte("golden: {tolerance: 1e-6, producer: {scikit-learn: 1.9.1}, texts: [{text: a, label: x, probabilities: {x: 0.5, y: 0.5}}, {text: b, label: y, decision: [1.5]}]}\n"))
	f.Add([]byte("traffic: {mode: canary, share: 10%, gates: {min_agreement: 0.9, max_latency_ratio: 2, min_samples: 5}, unload_on_rollback: true}\n"))
	f.Add([]byte("traffic: {mode: mirror, share: '%'}\ngolden: {texts: {a: b}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseManifest(b) // must not panic
	})
}
