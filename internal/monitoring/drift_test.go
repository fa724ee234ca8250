package monitoring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
)

func TestPSI(t *testing.T) {
	tests := []struct {
		name     string
		exp, act []float64
		want     float64
	}{
		{"identical", []float64{.5, .5}, []float64{.5, .5}, 0},
		// (0.7−0.5)·ln(0.7/0.5) + (0.3−0.5)·ln(0.3/0.5)
		{"shifted", []float64{.5, .5}, []float64{.7, .3}, 0.2*math.Log(1.4) - 0.2*math.Log(0.6)},
		// empty actual bin floored at eps: (1e-4−0.5)·ln(1e-4/0.5) + (1−0.5)·ln(2)
		{"empty bin", []float64{.5, .5}, []float64{0, 1}, (1e-4-.5)*math.Log(1e-4/.5) + .5*math.Log(2)},
		{"both empty", []float64{0, 1}, []float64{0, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := psiOf(tt.exp, tt.act, 1e-4); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("PSI = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBin checks numpy.histogram's convention after clipping: [e_i, e_i+1),
// the last bin closed, values outside clipped into the outer bins.
func TestBin(t *testing.T) {
	edges := []float64{0, .1, .5, 1}
	tests := []struct {
		v    float64
		want int
	}{{-3, 0}, {0, 0}, {.05, 0}, {.1, 1}, {.3, 1}, {.5, 2}, {.99, 2}, {1, 2}, {7, 2}, {math.NaN(), 0}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.v), func(t *testing.T) {
			if got := bin(edges, tt.v); got != tt.want {
				t.Errorf("bin(%v) = %d, want %d", tt.v, got, tt.want)
			}
		})
	}
}

// TestNewRefusesBadConfig: the config package checks the values (its
// TestDriftDefaultsAndValidate holds the table); New runs that check on the
// values with their defaults and wraps both sentinels.
func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]config.Monitoring{
		"alert below warn": {Drift: config.Drift{Warn: .3, Alert: .2}},
		"pending -1":       {Pending: -1},
		"negative ttl":     {PendingTTL: -1},
	} {
		if _, err := New(cfg, nil, nil); !errors.Is(err, ErrConfig) || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%s: New = %v, want ErrConfig and config.ErrInvalid", name, err)
		}
	}
	mon, err := New(config.Monitoring{Drift: config.Drift{Window: 10}}, nil, nil)
	if err != nil {
		t.Fatalf("small window: %v", err)
	}
	bad := &model.Manifest{Reference: &model.Reference{Confidence: &model.Histogram{Edges: []float64{1, 0}, Fractions: []float64{1}}}}
	if err := mon.Track("a-v1", []string{"x"}, bad); !errors.Is(err, ErrConfig) {
		t.Errorf("Track with unsorted edges: %v", err)
	}
}

// TestBootstrapReference: without a manifest reference the first predictions
// become the reference; the same traffic then scores near zero and a shift
// alerts.
func TestBootstrapReference(t *testing.T) {
	var logs bytes.Buffer
	mon, err := New(config.Monitoring{Drift: config.Drift{Bootstrap: 200, Window: 100}}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Track("a-v1", []string{"neg", "pos"}, nil); err != nil {
		t.Fatal(err)
	}
	normal := func(i int) Observation {
		l := "neg"
		if i%2 == 0 {
			l = "pos"
		}
		return Observation{Label: l, Confidence: .55 + float64(i%9)*.05, TextLength: 40 + (i*37)%300, OOVRate: float64(i%5) * .05}
	}
	for i := range 150 {
		mon.Record("a-v1", "", normal(i))
	}
	st, _ := mon.Drift("a-v1")
	if st.Reference != "collecting" || st.Collected != 150 || st.Bootstrap != 200 || len(st.Signals) != 0 {
		t.Fatalf("while collecting: %+v", st)
	}
	for i := 150; i < 400; i++ {
		mon.Record("a-v1", "", normal(i))
	}
	st, _ = mon.Drift("a-v1")
	if st.Reference != "bootstrap" || st.Samples != 100 || len(st.Signals) != 4 || st.Status != "ok" {
		t.Fatalf("after bootstrap: %+v", st)
	}
	for _, s := range st.Signals {
		if s.PSI > 0.1 {
			t.Errorf("%s PSI %v on unchanged traffic", s.Signal, s.PSI)
		}
	}
	for i := range 100 { // all "pos", long, unknown words, unsure
		mon.Record("a-v1", "", Observation{Label: "pos", Confidence: .51, TextLength: 5000 + i, OOVRate: .9})
	}
	st, _ = mon.Drift("a-v1")
	for _, s := range st.Signals {
		if s.Status != "alert" {
			t.Errorf("%s: PSI %v status %s after the shift, want alert", s.Signal, s.PSI, s.Status)
		}
	}
	if got := strings.Count(logs.String(), "drift alert raised"); got != 4 {
		t.Errorf("%d alert lines, want one per signal:\n%s", got, logs.String())
	}
	for range 100 { // back to normal: the alerts clear
		mon.Record("a-v1", "", normal(7))
	}
	for i := range 100 {
		mon.Record("a-v1", "", normal(i))
	}
	if st, _ = mon.Drift("a-v1"); st.Status == "alert" {
		t.Errorf("still alerting after recovery: %v", psis(st))
	}
	if !strings.Contains(logs.String(), "drift alert cleared") {
		t.Errorf("no clear line:\n%s", logs.String())
	}
}

// TestUnknownLabelAndMissingOOV: a label the reference never saw lands in
// the "(other)" bin; a negative OOV rate leaves that signal out.
func TestUnknownLabelAndMissingOOV(t *testing.T) {
	mon, _ := New(config.Monitoring{Drift: config.Drift{Window: 50}}, nil, nil)
	ref := &model.Reference{LabelDistribution: map[string]float64{"a": .5, "b": .5},
		OOVRate: &model.Histogram{Edges: []float64{0, .5, 1}, Fractions: []float64{.9, .1}}}
	if err := mon.Track("m-v1", []string{"a", "b"}, &model.Manifest{Reference: ref}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		mon.Record("m-v1", "", Observation{Label: "zzz", OOVRate: -1})
	}
	st, _ := mon.Drift("m-v1")
	if len(st.Signals) != 2 {
		t.Fatalf("signals %+v", st.Signals)
	}
	lab, oov := st.Signals[0], st.Signals[1]
	if lab.Bins[2] != "(other)" || lab.Window[2] != 1 || lab.Status != "alert" {
		t.Errorf("label signal %+v", lab)
	}
	if oov.Samples != 0 || oov.Status != "ok" {
		t.Errorf("oov signal with no rates: %+v", oov)
	}
}

func TestFeedbackBookkeeping(t *testing.T) {
	mon, _ := New(config.Monitoring{Pending: 3, PendingTTL: config.Duration(time.Minute)}, nil, nil)
	now := time.Unix(1000, 0)
	mon.now = func() time.Time { return now }
	if err := mon.Track("m-v1", []string{"a", "b"}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // r0 is pushed out by r3
		mon.Record("m-v1", fmt.Sprintf("r%d", i), Observation{Label: "a"})
	}
	tests := []struct {
		name, id, label string
		advance         time.Duration
		correct         bool
		err             error
	}{
		{"evicted", "r0", "a", 0, false, ErrUnknownRequest},
		{"never seen", "nope", "a", 0, false, ErrUnknownRequest},
		{"unknown label keeps the prediction waiting", "r1", "c", 0, false, ErrUnknownLabel},
		{"right", "r1", "a", 0, true, nil},
		{"second feedback on one prediction", "r1", "a", 0, false, ErrUnknownRequest},
		{"wrong", "r2", "b", 0, false, nil},
		{"expired", "r3", "a", 2 * time.Minute, false, ErrUnknownRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(tt.advance)
			res, err := mon.Feedback(tt.id, tt.label)
			if !errors.Is(err, tt.err) || (err == nil && res.Correct != tt.correct) {
				t.Errorf("Feedback(%s) = %+v, %v; want correct=%v err=%v", tt.id, res, err, tt.correct, tt.err)
			}
		})
	}
	st, _ := mon.Drift("m-v1")
	if st.Accuracy.Feedback != 2 || *st.Accuracy.Live != 0.5 || st.Accuracy.Status != "ok" {
		t.Errorf("accuracy %+v (no reference accuracy: never alerts)", st.Accuracy)
	}
	if _, err := mon.Drift("other-v1"); !errors.Is(err, ErrNotTracked) {
		t.Errorf("Drift(other): %v", err)
	}
}

// TestNewAppliesDefaults: the config file's monitoring block decodes into
// config.Monitoring, durations included, and New runs with it as
// WithDefaults completes it.
func TestNewAppliesDefaults(t *testing.T) {
	var cfg config.Monitoring
	src := "drift: {window: 500, warn: 0.2, alert: 0.4, tolerance: 0.1}\npending: 10\npending_ttl: 30m\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	mon, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := mon.cfg
	want := config.Monitoring{Drift: config.Drift{Window: 500, MinSamples: 250, Bootstrap: 1000, Warn: .2, Alert: .4,
		Epsilon: 1e-4, FeedbackWindow: 200, MinFeedback: 50, Tolerance: .1}, Pending: 10, PendingTTL: config.Duration(30 * time.Minute),
		Fleet: config.Fleet{Window: config.Duration(10 * time.Minute), Flush: config.Duration(time.Second), Queue: 65536}}
	if got != want {
		t.Errorf("config %+v, want %+v", got, want)
	}
}

// TestDriftStatusJSONRoundTrip: a client decodes what GET /models/{id}/drift sends.
func TestDriftStatusJSONRoundTrip(t *testing.T) {
	mon, _ := New(config.Monitoring{Drift: config.Drift{Window: 10}}, nil, nil)
	acc := .9
	ref := &model.Reference{LabelDistribution: map[string]float64{"a": 1}}
	if err := mon.Track("m-v1", []string{"a"}, &model.Manifest{Reference: ref, Accuracy: &acc}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		mon.Record("m-v1", "", Observation{Label: "b", OOVRate: -1})
	}
	st, _ := mon.Drift("m-v1")
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"status":"alert"`) {
		t.Errorf("JSON %s lacks the alert status", b)
	}
	var back api.DriftStatus
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Status != "alert" || back.Signals[0].Bins[1] != "(other)" || *back.Accuracy.Reference != .9 ||
		back.Signals[0].Status != "alert" || back.Accuracy.Status != "ok" {
		t.Errorf("round trip: %+v", back)
	}
}

// TestTrackRefusesNonID: a version is booked under the name and version
// model.SplitID gives, so an id it cannot split is refused, not booked
// with an empty version label.
func TestTrackRefusesNonID(t *testing.T) {
	mon, err := New(config.Monitoring{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"spam", "spam-vx", "Spam-v1", ""} {
		if err := mon.Track(id, []string{"a"}, nil); !errors.Is(err, model.ErrInvalidName) {
			t.Errorf("Track(%q) = %v, want ErrInvalidName", id, err)
		}
		if _, err := mon.Drift(id); !errors.Is(err, ErrNotTracked) {
			t.Errorf("Drift(%q) after a refused Track = %v, want ErrNotTracked", id, err)
		}
	}
}
