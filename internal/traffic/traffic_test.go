package traffic

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// fakeReg records what the manager asked of the registry.
type fakeReg struct {
	mu       sync.Mutex
	defaults []string
	unloads  []string
}

func (r *fakeReg) SetDefault(_ context.Context, name, version string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.defaults = append(r.defaults, name+"-"+version)
	return nil
}

func (r *fakeReg) Unload(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unloads = append(r.unloads, id)
	return nil
}

func (r *fakeReg) calls() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.defaults...), append([]string(nil), r.unloads...)
}

// labeller runs every version by a rule: the label it gives a text, and
// how long it takes.
type labeller struct {
	label func(id, text string) string
	delay map[string]time.Duration
}

func (l labeller) run(ctx context.Context, id string, texts []string) ([]model.Prediction, error) {
	time.Sleep(l.delay[id])
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		out[i] = model.Prediction{Label: l.label(id, t), Confidence: 0.9}
	}
	return out, nil
}

func newManager(t *testing.T, opts Options, l labeller) (*Manager, *fakeReg) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	reg := &fakeReg{}
	m.Attach(reg, l.run)
	t.Cleanup(m.Close)
	return m, reg
}

func ptr(f float64) *float64 { return &f }

// serve plays the server's part for one request: route, answer with the
// version routed to, observe.
func serve(m *Manager, l labeller, ref, key, text, rid string, primaryLatency time.Duration) Decision {
	d := m.Route(ref, "s", "s-v1", key)
	id := "s-v1"
	if d.Answer != "" {
		id = d.Answer
	}
	preds, _ := l.run(context.Background(), id, []string{text})
	m.Observe(d, Sample{ID: id, Texts: []string{text}, Preds: preds, Latency: primaryLatency, RequestID: rid})
	return d
}

// waitState waits for name's traffic to reach state.
func waitState(t *testing.T, m *Manager, name, state string) api.TrafficView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := m.View(name)
		if err != nil {
			t.Fatal(err)
		}
		if v.State == state {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s (%s), want %s; stats %+v", v.State, v.Verdict, state, v.Stats)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func same(id, text string) string { return "pos" }

func TestRoute(t *testing.T) {
	l := labeller{label: same}
	for _, c := range []struct {
		name      string
		policy    api.TrafficPolicy
		ref, key  func(i int) string
		lo, hi    float64 // share of requests compared
		canaryLow float64 // share answered by the candidate
		canaryHi  float64
	}{
		{"shadow by name", api.TrafficPolicy{Mode: api.TrafficShadow}, func(int) string { return "s" }, nil, 1, 1, 0, 0},
		{"shadow by default", api.TrafficPolicy{Mode: api.TrafficShadow}, func(int) string { return "" }, nil, 1, 1, 0, 0},
		{"pinned id", api.TrafficPolicy{Mode: api.TrafficShadow}, func(int) string { return "s-v1" }, nil, 0, 0, 0, 0},
		{"pinned version", api.TrafficPolicy{Mode: api.TrafficShadow}, func(int) string { return "v1" }, nil, 0, 0, 0, 0},
		{"mirror 25%", api.TrafficPolicy{Mode: api.TrafficMirror, Share: 0.25}, func(int) string { return "s" }, nil, 0.2, 0.3, 0, 0},
		{"canary 30% random", api.TrafficPolicy{Mode: api.TrafficCanary, Share: 0.3}, func(int) string { return "s" }, nil, 0.25, 0.35, 0.25, 0.35},
		{"canary 30% keyed", api.TrafficPolicy{Mode: api.TrafficCanary, Share: 0.3}, func(int) string { return "s" },
			func(i int) string { return fmt.Sprintf("user-%d", i) }, 0.25, 0.35, 0.25, 0.35},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := newManager(t, Options{QueueSize: 10}, l)
			c.policy.Candidate = "s-v2"
			if _, err := m.Set("s", c.policy, "test"); err != nil {
				t.Fatal(err)
			}
			const n = 4000
			compared, canary := 0, 0
			for i := range n {
				key := ""
				if c.key != nil {
					key = c.key(i)
				}
				d := m.Route(c.ref(i), "s", "s-v1", key)
				if d.Compare() {
					compared++
				}
				if d.Answer == "s-v2" {
					canary++
				}
				if d.Answer != "" && d.Answer != "s-v2" {
					t.Fatalf("answer %q", d.Answer)
				}
			}
			if f := float64(compared) / n; f < c.lo || f > c.hi {
				t.Errorf("compared %.3f of requests, want %.2f to %.2f", f, c.lo, c.hi)
			}
			if f := float64(canary) / n; f < c.canaryLow || f > c.canaryHi {
				t.Errorf("candidate answered %.3f of requests, want %.2f to %.2f", f, c.canaryLow, c.canaryHi)
			}
			if d := m.Route("s", "s", "s-v2", ""); d.Compare() {
				t.Error("a request resolved to the candidate itself is routed")
			}
			if d := m.Route("other", "other", "other-v1", ""); d.Compare() {
				t.Error("another name is routed")
			}
		})
	}
}

// TestCanarySticky: a key keeps its side for the policy's life.
func TestCanarySticky(t *testing.T) {
	m, _ := newManager(t, Options{}, labeller{label: same})
	if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficCanary, Share: 0.5}, "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		key := fmt.Sprintf("user-%d", i)
		first := m.Route("s", "s", "s-v1", key).Answer
		for range 20 {
			if got := m.Route("s", "s", "s-v1", key).Answer; got != first {
				t.Fatalf("key %s went to %q then %q", key, first, got)
			}
		}
	}
}

func TestNoPolicyRoutesNothing(t *testing.T) {
	var nilM *Manager
	if d := nilM.Route("s", "s", "s-v1", "k"); d.Compare() || d.Answer != "" {
		t.Error("nil manager routes")
	}
	m, _ := newManager(t, Options{}, labeller{label: same})
	if d := m.Route("s", "s", "s-v1", "k"); d.Compare() {
		t.Error("no policy, but routed")
	}
}

func TestGates(t *testing.T) {
	agreeing := labeller{label: same}
	// The candidate labels texts ending in 0 differently: agreement 0.9
	// when every request is compared.
	tenth := labeller{label: func(id, text string) string {
		if id == "s-v2" && strings.HasSuffix(text, "0") {
			return "neg"
		}
		return "pos"
	}}
	// The candidate labels texts ending in an even digit differently:
	// agreement 0.5. A canary compares a random half of the requests, and
	// over its 50 samples a tenth's disagreement is 2 or fewer one time in
	// nine (0.96 passes 0.95); a half's is 2 or fewer one time in 10^11.
	half := labeller{label: func(id, text string) string {
		if id == "s-v2" && strings.IndexByte("02468", text[len(text)-1]) >= 0 {
			return "neg"
		}
		return "pos"
	}}
	slowCandidate := labeller{label: same, delay: map[string]time.Duration{"s-v2": 3 * time.Millisecond}}
	for _, c := range []struct {
		name    string
		l       labeller
		policy  api.TrafficPolicy
		fb      func(i int) string // feedback label for request i ("" none)
		want    string
		verdict string
		unload  bool
	}{
		{"agreement passes", agreeing, api.TrafficPolicy{Mode: api.TrafficShadow, Gates: api.Gates{MinAgreement: ptr(0.95), MinSamples: 50}},
			nil, api.TrafficPromoted, "agreement 1.0000 >= 0.95", false},
		{"agreement fails", tenth, api.TrafficPolicy{Mode: api.TrafficShadow, UnloadOnRollback: true,
			Gates: api.Gates{MinAgreement: ptr(0.95), MinSamples: 50}}, nil, api.TrafficRolledBack, "< min_agreement 0.95", true},
		{"canary agreement fails", half, api.TrafficPolicy{Mode: api.TrafficCanary, Share: 0.5,
			Gates: api.Gates{MinAgreement: ptr(0.95), MinSamples: 50}}, nil, api.TrafficRolledBack, "< min_agreement 0.95", false},
		{"latency fails", slowCandidate, api.TrafficPolicy{Mode: api.TrafficShadow, Gates: api.Gates{MaxLatencyRatio: ptr(2), MinSamples: 30}},
			nil, api.TrafficRolledBack, "> max_latency_ratio 2", false},
		{"latency passes", agreeing, api.TrafficPolicy{Mode: api.TrafficShadow, Gates: api.Gates{MaxLatencyRatio: ptr(50), MinSamples: 30}},
			nil, api.TrafficPromoted, "<= 50", false},
		// The truth is neg: the candidate is right on texts ending in 0
		// only (a tenth), below the gate.
		{"live accuracy fails", tenth, api.TrafficPolicy{Mode: api.TrafficShadow,
			Gates: api.Gates{MinLiveAccuracy: ptr(0.6), MinSamples: 10, MinFeedback: 30}},
			func(i int) string { return "neg" }, api.TrafficRolledBack, "live accuracy 0.1000 < min_live_accuracy 0.6", false},
		{"live accuracy passes", agreeing, api.TrafficPolicy{Mode: api.TrafficShadow,
			Gates: api.Gates{MinLiveAccuracy: ptr(0.9), MinSamples: 10, MinFeedback: 30}},
			func(i int) string { return "pos" }, api.TrafficPromoted, "live accuracy 1.0000 >= 0.9", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, reg := newManager(t, Options{QueueSize: 4096}, c.l)
			c.policy.Candidate = "s-v2"
			if _, err := m.Set("s", c.policy, "test"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 400; i++ {
				if v, _ := m.View("s"); v.State != api.TrafficRunning {
					break
				}
				rid := fmt.Sprintf("r%d", i)
				serve(m, c.l, "s", fmt.Sprint(i), fmt.Sprintf("text %d", i), rid, 200*time.Microsecond)
				if c.fb != nil {
					waitCompared(t, m, int64(i+1)) // feedback comes after the comparison
					m.Feedback(rid, c.fb(i))
				}
			}
			v := waitState(t, m, "s", c.want)
			if !strings.Contains(v.Verdict, c.verdict) {
				t.Errorf("verdict %q, want it to say %q", v.Verdict, c.verdict)
			}
			defaults, unloads := reg.calls()
			if c.want == api.TrafficPromoted && (len(defaults) != 1 || defaults[0] != "s-v2") {
				t.Errorf("SetDefault calls %v, want [s-v2]", defaults)
			}
			if c.want == api.TrafficRolledBack && len(defaults) != 0 {
				t.Errorf("rolled back but SetDefault %v", defaults)
			}
			if got := len(unloads) == 1 && unloads[0] == "s-v2"; got != c.unload {
				t.Errorf("unloads %v, want unload %v", unloads, c.unload)
			}
			if d := m.Route("s", "s", "s-v1", ""); d.Compare() {
				t.Error("still routed after the verdict")
			}
			kinds := []string{}
			for _, e := range v.Events {
				kinds = append(kinds, e.Kind)
			}
			if kinds[0] != "started" || !strings.Contains(strings.Join(kinds, ","), c.want) {
				t.Errorf("events %v", kinds)
			}
		})
	}
}

// TestFullQueueDrops: with the worker stuck, Observe never waits; what
// does not fit is dropped and counted.
func TestFullQueueDrops(t *testing.T) {
	block := make(chan struct{})
	l := labeller{label: same}
	m, err := New(Options{QueueSize: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(&fakeReg{}, func(ctx context.Context, id string, texts []string) ([]model.Prediction, error) {
		<-block
		return l.run(ctx, id, texts)
	})
	defer m.Close()
	defer close(block)
	if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow}, "test"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 100 {
		serve(m, l, "s", "", fmt.Sprint(i), "", time.Millisecond)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("100 requests took %s with the queue full: Observe waited", d)
	}
	v, _ := m.View("s")
	// 4 in the queue, and one in the stuck worker if it took it already.
	if v.Stats.Dropped < 95 || v.Stats.Dropped > 96 {
		t.Errorf("dropped %d, want 95-96", v.Stats.Dropped)
	}
}

func TestEvents(t *testing.T) {
	l := labeller{label: same}
	t.Run("manifest starts a policy", func(t *testing.T) {
		m, _ := newManager(t, Options{}, l)
		m.OnEvent(model.Event{Kind: model.Loaded, ID: "s-v2", Name: "s", Version: "v2",
			Manifest: &model.Manifest{Traffic: &api.TrafficPolicy{Mode: api.TrafficMirror, Share: 0.1}}})
		v, err := m.View("s")
		if err != nil || v.State != api.TrafficRunning || v.Candidate != "s-v2" || v.Policy.Share != 0.1 {
			t.Fatalf("view %+v, %v", v, err)
		}
	})
	for _, c := range []struct {
		name string
		ev   model.Event
		want string
	}{
		{"candidate retires", model.Event{Kind: model.Retiring, ID: "s-v2", Name: "s"}, api.TrafficStopped},
		{"primary retires", model.Event{Kind: model.Retired, ID: "s-v1", Name: "s"}, api.TrafficStopped},
		{"candidate made default", model.Event{Kind: model.DefaultChanged, ID: "s-v2", Name: "s", Previous: "s-v1"}, api.TrafficPromoted},
		{"candidate is the first default (restart after promotion)", model.Event{Kind: model.DefaultChanged, ID: "s-v2", Name: "s"}, api.TrafficStopped},
		{"another default", model.Event{Kind: model.DefaultChanged, ID: "s-v3", Name: "s", Previous: "s-v1"}, api.TrafficStopped},
		{"other name", model.Event{Kind: model.Retiring, ID: "t-v2", Name: "t"}, api.TrafficRunning},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := newManager(t, Options{}, l)
			if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow}, "test"); err != nil {
				t.Fatal(err)
			}
			serve(m, l, "s", "", "x", "", time.Millisecond) // the primary is seen
			waitCompared(t, m, 1)
			m.OnEvent(c.ev)
			if v, _ := m.View("s"); v.State != c.want {
				t.Fatalf("state %s (%s), want %s", v.State, v.Verdict, c.want)
			}
		})
	}
}

func waitCompared(t *testing.T, m *Manager, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := m.View("s")
		if v.Stats.Compared >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("compared %d, want %d", v.Stats.Compared, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSetRefuses(t *testing.T) {
	m, _ := newManager(t, Options{}, labeller{label: same})
	for _, c := range []struct {
		name string
		p    api.TrafficPolicy
		want string
	}{
		{"unknown mode", api.TrafficPolicy{Candidate: "s-v2", Mode: "blue-green"}, `mode "blue-green"`},
		{"canary without share", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficCanary}, "needs a share"},
		{"share above 1", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficMirror, Share: 1.5}, "needs a share"},
		{"other name's version", api.TrafficPolicy{Candidate: "t-v2", Mode: api.TrafficShadow}, "not a version id of s"},
		{"agreement above 1", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow, Gates: api.Gates{MinAgreement: ptr(2)}}, "min_agreement"},
		{"stop without traffic", api.TrafficPolicy{Mode: api.TrafficOff}, "no running traffic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := m.Set("s", c.p, "test"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Set: %v, want an error saying %q", err, c.want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := labeller{label: same}
	m, _ := newManager(t, Options{Metrics: reg}, l)
	if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow}, "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		serve(m, l, "s", "", fmt.Sprint(i), "", time.Millisecond)
	}
	waitCompared(t, m, 10)
	if got := testutil.ToFloat64(m.met.comparedTotal.WithLabelValues("s", "v2")); got != 10 {
		t.Errorf("mlserve_traffic_compared_total %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.met.agreeTotal.WithLabelValues("s", "v2")); got != 10 {
		t.Errorf("mlserve_traffic_agreements_total %v, want 10", got)
	}
	if _, err := m.Set("s", api.TrafficPolicy{Mode: api.TrafficOff}, "test"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.met.verdicts.WithLabelValues("s", api.TrafficStopped)); got != 1 {
		t.Errorf("mlserve_traffic_verdicts_total{outcome=stopped} %v, want 1", got)
	}
}

func TestShareYAML(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		err  bool
	}{{"share: 10%", 0.1, false}, {"share: 0.25", 0.25, false}, {"share: 1", 1, false}, {"share: ten", 0, true}} {
		man, _, err := model.ParseManifest([]byte("traffic: {mode: canary, " + c.in + "}"))
		if c.err {
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
			continue
		}
		if err != nil || man.Traffic.Share != c.want {
			t.Errorf("%s: %v, share %v, want %v", c.in, err, man.Traffic.Share, c.want)
		}
	}
}

// BenchmarkRoute is Route's cost on the request path: no policy at all, a
// policy on another name, and shadow on the request's name (with the
// comparison handed to Observe, the queue drained by the worker).
func BenchmarkRoute(b *testing.B) {
	l := labeller{label: same}
	for _, c := range []struct {
		name   string
		policy string // "": none
	}{{"none", ""}, {"other-name", "t"}, {"shadow", "s"}} {
		b.Run(c.name, func(b *testing.B) {
			m, err := New(Options{QueueSize: 1 << 16, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			m.Attach(&fakeReg{}, l.run)
			defer m.Close()
			if c.policy != "" {
				if _, err := m.Set(c.policy, api.TrafficPolicy{Candidate: c.policy + "-v2", Mode: api.TrafficShadow}, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			preds := []model.Prediction{{Label: "pos", Confidence: 0.9}}
			texts := []string{"t"}
			for b.Loop() {
				d := m.Route("s", "s", "s-v1", "")
				m.Observe(d, Sample{ID: "s-v1", Texts: texts, Preds: preds})
			}
		})
	}
}
