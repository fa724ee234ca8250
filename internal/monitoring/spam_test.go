package monitoring

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

const root = "../.."

// sample is one text with its true label and what models/spam/v1 said.
type sample struct {
	text, truth string
	pred        model.Prediction
	oov         float64
}

var spamOnce struct {
	sync.Once
	man           *model.Manifest
	labels        []string
	held, reviews []sample
	err           error
}

// spamData loads models/spam/v1, predicts the SpamAssassin held-out split
// and the sentiment reviews with it, and attaches the OOV rates real
// scikit-learn computed (testdata/oov.json, written by testdata/oov.py).
func spamData(t testing.TB) (*model.Manifest, []string, []sample, []sample) {
	t.Helper()
	dir := filepath.Join(root, ".cache", "data", "spam-assassin-0.2.3", "data")
	if _, err := os.Stat(filepath.Join(dir, "file_list.json")); err != nil {
		t.Skipf("SpamAssassin corpus missing (run scripts/fetch-data.sh): %v", err)
	}
	s := &spamOnce
	s.Do(func() { s.man, s.labels, s.held, s.reviews, s.err = loadSpam(dir) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.man, s.labels, s.held, s.reviews
}

func loadSpam(dir string) (*model.Manifest, []string, []sample, []sample, error) {
	b, err := os.ReadFile(filepath.Join(root, "models", "spam", "v1", "model.yaml"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	man, _, err := model.ParseManifest(b)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	m, err := sklearn.Load(filepath.Join(root, "models", "spam", "v1", "model.joblib"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer m.Close()
	var oov map[string]float64
	if b, err = os.ReadFile("testdata/oov.json"); err != nil {
		return nil, nil, nil, nil, err
	}
	if err = json.Unmarshal(b, &oov); err != nil {
		return nil, nil, nil, nil, err
	}
	var names []string
	if b, err = os.ReadFile(filepath.Join(dir, "file_list.json")); err != nil {
		return nil, nil, nil, nil, err
	}
	if err = json.Unmarshal(b, &names); err != nil {
		return nil, nil, nil, nil, err
	}
	var held []sample
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(n, ".txt")+".json"))
		if err != nil {
			return nil, nil, nil, nil, err
		}
		var rec struct{ Text string }
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, nil, nil, nil, err
		}
		sum := sha256.Sum256([]byte(rec.Text))
		if (uint64(sum[0])<<24|uint64(sum[1])<<16|uint64(sum[2])<<8|uint64(sum[3]))%5 != 0 {
			continue // training split (python/mlserve_data/spam.py)
		}
		truth := "ham"
		if strings.HasPrefix(n, "spam") {
			truth = "spam"
		}
		held = append(held, sample{text: rec.Text, truth: truth})
	}
	f, err := os.Open(filepath.Join(root, "python", "data", "sentiment.csv"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var reviews []sample
	for _, r := range rows[1:] {
		reviews = append(reviews, sample{text: r[0], truth: r[1]})
	}
	for _, set := range [][]sample{held, reviews} {
		texts := make([]string, len(set))
		for i := range set {
			texts[i] = set[i].text
		}
		preds, err := m.Predict(context.Background(), texts)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		for i := range set {
			set[i].pred = preds[i]
			sum := sha256.Sum256([]byte(set[i].text))
			r, ok := oov[hex.EncodeToString(sum[:8])]
			if !ok {
				r = -1
			}
			set[i].oov = r
		}
	}
	return man, m.Labels(), held, reviews, nil
}

func observation(s sample) Observation {
	return Observation{Label: s.pred.Label, Confidence: s.pred.Confidence,
		TextLength: utf8.RuneCountInString(s.text), OOVRate: s.oov}
}

// newSpamMonitor tracks spam-v1 with its manifest and a log buffer.
func newSpamMonitor(t *testing.T, cfg config.Drift) (*Monitor, *Metrics, *bytes.Buffer) {
	t.Helper()
	man, labels, _, _ := spamData(t)
	met, err := NewMetrics(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mon, err := New(config.Monitoring{Drift: cfg}, met, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Track("spam-v1", labels, man); err != nil {
		t.Fatal(err)
	}
	return mon, met, &logs
}

func TestSpamHeldOutNoFalseAlarm(t *testing.T) {
	_, _, held, _ := spamData(t)
	if len(held) < 1000 {
		t.Fatalf("held-out split has %d texts, want about 1233", len(held))
	}
	for _, missing := range held {
		if missing.oov < 0 {
			t.Fatalf("no OOV rate for a held-out text; regenerate testdata/oov.json")
		}
	}
	const window = 400
	mon, _, logs := newSpamMonitor(t, config.Drift{Window: window})
	rng := rand.New(rand.NewPCG(1, 2))
	worst := map[string]float64{}
	windows := 0
	for pass := range 4 { // 4 shuffled passes: 12 full windows of fresh traffic
		order := rng.Perm(len(held))
		for i, j := range order {
			mon.Record("spam-v1", "", observation(held[j]))
			if (pass*len(held)+i+1)%window != 0 {
				continue
			}
			windows++
			st, err := mon.Drift("spam-v1")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st.Signals {
				worst[s.Signal] = max(worst[s.Signal], s.PSI)
			}
			if st.Status == "alert" {
				t.Fatalf("window %d: false alarm on held-out mail: %+v", windows, st.Signals)
			}
		}
	}
	if windows < 10 || len(worst) != 4 {
		t.Fatalf("checked %d windows, signals %v", windows, worst)
	}
	for sig, psi := range worst {
		if psi >= 0.1 {
			t.Errorf("%s: worst PSI %.4f over %d windows of held-out mail, want under the warn level 0.1", sig, psi, windows)
		}
	}
	t.Logf("worst PSI over %d windows of %d: %v", windows, window, worst)
	if strings.Contains(logs.String(), "drift alert") {
		t.Errorf("alert logged on held-out mail:\n%s", logs)
	}
}

func TestSpamShiftedStreamAlerts(t *testing.T) {
	_, _, held, reviews := spamData(t)
	var onlySpam []sample
	for _, s := range held {
		if s.pred.Label == "spam" {
			onlySpam = append(onlySpam, s)
		}
	}
	tests := []struct {
		name   string
		stream []sample
		alerts []string // signals that must reach alert
	}{
		{"single class", onlySpam, []string{SignalLabel}},
		{"sentiment reviews", reviews, []string{SignalTextLength, SignalOOVRate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mon, met, logs := newSpamMonitor(t, config.Drift{Window: 400})
			// Normal traffic first (shuffled: the corpus is grouped by class,
			// so file order is itself a shifted stream): no alert.
			rng := rand.New(rand.NewPCG(3, 4))
			for _, j := range rng.Perm(len(held))[:400] {
				mon.Record("spam-v1", "", observation(held[j]))
			}
			if st, _ := mon.Drift("spam-v1"); st.Status == "alert" {
				t.Fatalf("alert before the shift: %v", psis(st))
			}
			// Then a window of shifted traffic.
			for range 400 {
				mon.Record("spam-v1", "", observation(tt.stream[rng.IntN(len(tt.stream))]))
			}
			st, err := mon.Drift("spam-v1")
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != "alert" {
				t.Fatalf("status %s, want alert: %+v", st.Status, st.Signals)
			}
			got := map[string]api.DriftSignal{}
			for _, s := range st.Signals {
				got[s.Signal] = s
			}
			for _, sig := range tt.alerts {
				s := got[sig]
				if s.Status != "alert" || s.PSI < 0.25 {
					t.Errorf("%s: PSI %.3f status %s, want alert", sig, s.PSI, s.Status)
				}
				if v := testutil.ToFloat64(met.driftState.WithLabelValues("spam", "v1", sig)); v != 2 {
					t.Errorf("mlserve_drift_status{signal=%q} = %v, want 2", sig, v)
				}
				if v := testutil.ToFloat64(met.driftScore.WithLabelValues("spam", "v1", sig)); v != s.PSI {
					t.Errorf("mlserve_drift_psi{signal=%q} = %v, want %v", sig, v, s.PSI)
				}
				if !strings.Contains(logs.String(), "drift alert raised") || !strings.Contains(logs.String(), "signal="+sig) {
					t.Errorf("no alert log line for %s:\n%s", sig, logs)
				}
			}
			t.Logf("%s: %v", tt.name, psis(st))
		})
	}
}

func psis(st api.DriftStatus) map[string]float64 {
	m := map[string]float64{}
	for _, s := range st.Signals {
		m[s.Signal] = s.PSI
	}
	return m
}

func TestSpamFeedbackAccuracy(t *testing.T) {
	_, _, held, _ := spamData(t)
	mon, met, logs := newSpamMonitor(t, config.Drift{FeedbackWindow: 200, MinFeedback: 50, Tolerance: 0.05})
	id := func(i int) string { return fmt.Sprintf("req-%d", i) }
	// True labels: live accuracy matches the held-out accuracy, no alert.
	for i, s := range held[:400] {
		mon.Record("spam-v1", id(i), observation(s))
		if _, err := mon.Feedback(id(i), s.truth); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := mon.Drift("spam-v1")
	if st.Accuracy.Live == nil || *st.Accuracy.Live < 0.95 || st.Accuracy.Status != "ok" || st.Accuracy.Feedback != 200 {
		t.Fatalf("true labels: accuracy %+v", st.Accuracy)
	}
	before := *st.Accuracy.Live
	if v := testutil.ToFloat64(met.liveAccuracy.WithLabelValues("spam", "v1")); v != before {
		t.Errorf("mlserve_live_accuracy = %v, want %v", v, before)
	}
	// Wrong labels: accuracy falls and the performance alert is raised.
	for i, s := range held[400:440] {
		mon.Record("spam-v1", id(400+i), observation(s))
		wrong := "spam"
		if s.pred.Label == "spam" {
			wrong = "ham"
		}
		res, err := mon.Feedback(id(400+i), wrong)
		if err != nil || res.Correct || res.ModelVersion != "spam-v1" {
			t.Fatalf("feedback: %+v, %v", res, err)
		}
	}
	st, _ = mon.Drift("spam-v1")
	if *st.Accuracy.Live > before-0.15 || st.Accuracy.Status != "alert" || st.Status != "alert" {
		t.Fatalf("after wrong labels: accuracy %v (was %v), status %s/%s", *st.Accuracy.Live, before,
			st.Accuracy.Status, st.Status)
	}
	if v := testutil.ToFloat64(met.driftState.WithLabelValues("spam", "v1", SignalAccuracy)); v != 2 {
		t.Errorf("mlserve_drift_status{signal=accuracy} = %v, want 2", v)
	}
	if v := testutil.ToFloat64(met.feedback.WithLabelValues("spam", "v1", "wrong")); v < 40 {
		t.Errorf("mlserve_feedback_total{result=wrong} = %v, want ≥ 40", v)
	}
	if !strings.Contains(logs.String(), "drift alert raised") || !strings.Contains(logs.String(), "signal=accuracy") {
		t.Errorf("no accuracy alert log:\n%s", logs)
	}
	// Right labels again: the alert clears, with a log line.
	for i, s := range held[440:700] {
		mon.Record("spam-v1", id(440+i), observation(s))
		if _, err := mon.Feedback(id(440+i), s.truth); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ = mon.Drift("spam-v1"); st.Accuracy.Status != "ok" {
		t.Errorf("after recovery: %+v", st.Accuracy)
	}
	if !strings.Contains(logs.String(), "drift alert cleared") {
		t.Errorf("no clear log:\n%s", logs)
	}
}
