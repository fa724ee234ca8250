package cli

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
)

func TestRenderStats(t *testing.T) {
	acc := 0.9
	st := &api.Stats{UptimeSeconds: 3725, Models: map[string]api.ModelStats{
		"spam-v1": {Requests: 1200, Texts: 1500, Errors: 12, LatencyP50MS: 1.2, LatencyP90MS: 3.4, LatencyP99MS: 9.9,
			ThroughputRPS: 20, ErrorsByKind: map[string]int64{"validation": 10, "timeout": 2}, ErrorRate: 0.01,
			CacheHits: 300, CacheMisses: 1200, CacheHitRatio: 0.2, Predictions: map[string]int64{"spam": 400, "ham": 1100},
			Drift: "warn", LiveAccuracy: &acc},
		"sentiment-v2": {Requests: 3, Texts: 3, Errors: 1, LatencyP50MS: 2, LatencyP99MS: 2},
	}, Cache: &api.CacheStats{Memory: api.CacheTierStats{Hits: 300, Misses: 1200, Entries: 900}}}
	out := renderStats(st, statsWidth)
	for _, want := range []string{"spam-v1", "drift warn", "live accuracy 90.0%", "sentiment-v2", "p90 3.4",
		"cache: memory 300 hits, 1200 misses, 900 entries", "ham", "spam"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lack %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "sentiment-v2") > strings.Index(out, "spam-v1") {
		t.Errorf("models not sorted by id:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > statsWidth {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	// Without monitoring the error rate still shows, from the error count:
	// sentiment-v2's 1 of 3, drawn in its own block.
	if i, j := strings.Index(out, "sentiment-v2"), strings.Index(out, "spam-v1"); !strings.Contains(out[i:j], "errors 33.3%") {
		t.Errorf("plain error rate is not 1/3:\n%s", out[i:j])
	}
}

// TestFleetLine: the first line says whose figures follow.
func TestFleetLine(t *testing.T) {
	tests := []struct {
		name string
		st   api.Stats
		want string
	}{
		{"old server", api.Stats{}, ""},
		{"fleet", api.Stats{Scope: "fleet", Fleet: &api.FleetState{State: "shared", Replicas: 3}}, "fleet: 3 replicas sharing Redis\n"},
		{"one replica", api.Stats{Scope: "fleet", Fleet: &api.FleetState{State: "shared", Replicas: 1}}, "fleet: 1 replica sharing Redis\n"},
		{"replica shared", api.Stats{Scope: "replica", Fleet: &api.FleetState{State: "shared"}},
			"replica: this replica's counters; drift and live accuracy shared by the fleet\n"},
		{"down", api.Stats{Scope: "replica", Fleet: &api.FleetState{State: "down", Detail: "connection refused"}},
			"replica: fleet down (connection refused)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fleetLine(&tt.st); got != tt.want {
				t.Errorf("fleetLine = %q, want %q", got, tt.want)
			}
			if out := renderStats(&tt.st, statsWidth); !strings.HasPrefix(out, tt.want) {
				t.Errorf("renderStats does not start with it:\n%s", out)
			}
		})
	}
}

func TestRenderTraffic(t *testing.T) {
	pa, ca := 0.776, 0.806
	st := &api.Stats{Traffic: map[string]api.TrafficView{"sentiment": {
		Name: "sentiment", Primary: "sentiment-v1", Candidate: "sentiment-v2", State: api.TrafficPromoted,
		Policy:  api.TrafficPolicy{Mode: api.TrafficCanary, Share: 0.1},
		Verdict: "after 150 texts: agreement 0.9267 >= 0.8",
		Stats: api.TrafficStats{Requests: 305, Compared: 150, Agreement: 0.9267, Feedback: 134,
			PrimaryLiveAccuracy: &pa, CandidateLiveAccuracy: &ca, LatencyRatio: 2.53,
			PrimaryLatencyMS: api.LatencySummary{N: 150, P50: 0.06, P99: 0.26}, CandidateLatencyMS: api.LatencySummary{N: 150, P50: 0.14, P99: 0.85},
			Drift: map[string]string{"sentiment-v1": "ok", "sentiment-v2": "warn"}},
	}}}
	out := renderStats(st, statsWidth)
	for _, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > statsWidth {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	for _, want := range []string{
		"traffic sentiment: canary 10%, promoted",
		"sentiment-v1   sentiment-v2",
		"0.06/0.26      0.14/0.85",
		"live accuracy (134)",
		"0.776          0.806",
		"ok           warn",
		"agreement 0.927",
		"latency ratio 2.53",
		"verdict: after 150 texts: agreement 0.9267 >= 0.8",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
}
