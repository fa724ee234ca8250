package monitoring

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLabelValue: a class label from a model file becomes a bounded,
// valid UTF-8 label value; short valid ones pass unchanged.
func TestLabelValue(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	tests := []struct {
		name, in, want string
	}{
		{"short", "positive", "positive"},
		{"exactly the cap", strings.Repeat("a", MaxLabelValueBytes), strings.Repeat("a", MaxLabelValueBytes)},
		{"10 KB", long, strings.Repeat("x", MaxLabelValueBytes-len("…")) + "…"},
		{"invalid UTF-8", "bad\xff\xfelabel", "bad\uFFFDlabel"},
		{"cut inside a code point", strings.Repeat("é", 40), strings.Repeat("é", 30) + "…"},
		{"quotes and newlines kept for the exposition format to escape", "a\"b\nc\\", "a\"b\nc\\"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LabelValue(tt.in)
			if got != tt.want {
				t.Errorf("LabelValue = %q, want %q", got, tt.want)
			}
			if len(got) > MaxLabelValueBytes || !utf8.ValidString(got) {
				t.Errorf("LabelValue = %q: %d bytes, valid %v", got, len(got), utf8.ValidString(got))
			}
		})
	}
}

// TestObservePredictionHostileLabels: a 10 KB label and an invalid UTF-8
// one are counted under their capped, valid forms (the client library
// panics on invalid UTF-8; a run of bad bytes is one U+FFFD), and the registry still gathers and lints.
func TestObservePredictionHostileLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("L", 10_000)
	m.ObservePrediction("evil", "v1", long, 0.5)
	m.ObservePrediction("evil", "v1", long, 0.5)
	m.ObservePrediction("evil", "v1", "\xff\xfe", 0.5)
	m.ObservePrediction("evil", "v1", "line\nbreak \"quoted\"", 0.5)
	if got := testutil.ToFloat64(m.predictions.WithLabelValues("evil", "v1", LabelValue(long))); got != 2 {
		t.Errorf("long label counted %v times, want 2", got)
	}
	if got := testutil.ToFloat64(m.predictions.WithLabelValues("evil", "v1", "\uFFFD")); got != 1 {
		t.Errorf("invalid UTF-8 label counted %v times, want 1", got)
	}
	if n := testutil.CollectAndCount(m.predictions, "mlserve_predictions_total"); n != 3 {
		t.Errorf("%d series, want 3", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if v := lp.GetValue(); len(v) > MaxLabelValueBytes || !utf8.ValidString(v) {
					t.Errorf("%s: label %s=%q", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
	if probs, err := testutil.GatherAndLint(reg, "mlserve_predictions_total"); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}

func BenchmarkLabelValue(b *testing.B) {
	for b.Loop() {
		_ = LabelValue("positive")
	}
}
