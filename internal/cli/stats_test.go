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
