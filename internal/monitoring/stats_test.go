package monitoring

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestStatsSummary(t *testing.T) {
	start := time.Unix(10_000, 0)
	now := start
	s := newStats(start, func() time.Time { return now })
	// 100 requests over 10 s at 1..100 ms, 4 errors, 30 s of silence, then 5 more.
	for i := 1; i <= 100; i++ {
		now = start.Add(time.Duration(i) * 100 * time.Millisecond)
		s.Request("spam-v1", 2, time.Duration(i)*time.Millisecond, "")
	}
	s.Request("spam-v1", 1, time.Second, KindTimeout)
	s.Request("spam-v1", 1, 0, KindValidation)
	s.Request("spam-v1", 1, 0, KindValidation)
	s.Request("spam-v1", 1, 0, KindQueueFull)
	now = now.Add(100 * time.Second) // everything so far leaves the last minute
	for range 5 {
		s.Request("spam-v1", 1, 50*time.Millisecond, "")
	}
	s.Prediction("spam-v1", "ham")
	s.Cache("spam-v1", 3, 1)
	got := s.Summary(func(id string) (string, *float64) { acc := .9; return "warn", &acc })
	if len(got.Models) != 1 || got.Requests != 109 || got.Errors != 4 {
		t.Fatalf("%+v", got)
	}
	m := got.Models["spam-v1"]
	checks := []struct {
		name      string
		got, want float64
	}{
		{"requests", float64(m.Requests), 109},
		{"texts", float64(m.Texts), 209},
		{"errors", float64(m.Errors), 4},
		{"error rate", m.ErrorRate, 4.0 / 109},
		{"validation errors", float64(m.ErrorsByKind[KindValidation]), 2},
		{"p50 (nearest rank of 1..100 ms and five 50 ms)", m.LatencyP50MS, 50},
		{"p90", m.LatencyP90MS, 90},
		{"p99", m.LatencyP99MS, 99},
		{"throughput: 5 requests in the last 60 s", m.ThroughputRPS, 5.0 / 60},
		{"cache hit ratio", m.CacheHitRatio, .75},
		{"uptime", got.UptimeSeconds, 110},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if d := c.got - c.want; d > 1e-9 || d < -1e-9 {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		})
	}
	if m.Drift != "warn" || *m.LiveAccuracy != .9 || m.Predictions["ham"] != 1 {
		t.Errorf("drift %q accuracy %v predictions %v", m.Drift, m.LiveAccuracy, m.Predictions)
	}
	s.Forget("spam-v1")
	if got := s.Summary(nil); len(got.Models) != 0 {
		t.Errorf("after Forget: %+v", got)
	}
}

func TestStatsLatencyWindowIsBounded(t *testing.T) {
	s := newStats(time.Now(), nil)
	for range latencyWindow {
		s.Request("a-v1", 1, time.Second, "")
	}
	for range latencyWindow {
		s.Request("a-v1", 1, time.Millisecond, "")
	}
	if p := s.Summary(nil).Models["a-v1"]; p.LatencyP99MS != 1 {
		t.Errorf("old latencies still counted: %+v", p)
	}
}

func goldenSummary() *api.Stats {
	acc := .9421
	return &api.Stats{UptimeSeconds: 3723.4, Models: map[string]api.ModelStats{
		"sentiment-v2": {Requests: 1_234_567, Texts: 2_000_000, ThroughputRPS: 812.3,
			LatencyP50MS: 0.42, LatencyP90MS: 1.9, LatencyP99MS: 12.75, ErrorRate: 0.0021,
			ErrorsByKind: map[string]int64{KindTimeout: 12, KindQueueFull: 2581},
			CacheHits:    600_000, CacheMisses: 1_400_000, CacheHitRatio: 0.3,
			Predictions: map[string]int64{"positive": 1_200_000, "negative": 790_000, "neutral": 10_000},
			Drift:       "ok", LiveAccuracy: &acc},
		"spam-v1": {Requests: 10, Texts: 10, ThroughputRPS: .2, LatencyP50MS: 150, LatencyP90MS: 180, LatencyP99MS: 240,
			Predictions: map[string]int64{"spam": 10}, Drift: "alert"},
		"topics-with-a-very-long-model-name-that-does-not-fit-v1": {Requests: 30, Texts: 30,
			Predictions: map[string]int64{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9,
				"j": 10, "k": 11, "a-label-longer-than-sixteen-runes": 12}},
		"empty-v1": {},
	}}
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name  string
		sum   *api.Stats
		width int
	}{
		{"stats-80", goldenSummary(), 80},
		{"stats-120", goldenSummary(), 120},
		{"empty", &api.Stats{UptimeSeconds: 1}, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tt.sum, tt.width)
			for i, l := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(l); n > tt.width {
					t.Errorf("line %d is %d columns wide (> %d): %q", i+1, n, tt.width, l)
				}
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestRenderGolden -update)", err)
			}
			if !bytes.Equal([]byte(got), want) {
				t.Errorf("Render differs from %s (go test -update to accept):\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// ExampleRender prints a summary as `mlserve stats` shows it.
func ExampleRender() {
	s := &api.Stats{UptimeSeconds: 65, Models: map[string]api.ModelStats{"spam-v1": {Requests: 1200, Texts: 1200,
		ThroughputRPS: 20, LatencyP50MS: .8, LatencyP90MS: 1.5, LatencyP99MS: 4.2,
		Predictions: map[string]int64{"ham": 800, "spam": 400}, Drift: "ok"}}}
	fmt.Print(Render(s, 80))
	// Output:
	// mlserve stats · up 1m5s · 1 model version
	// ────────────────────────────────────────────────────────────────────────────────
	// spam-v1                                                                 drift ok
	//   requests 1,200  texts 1,200  20.0 req/s
	//   latency p50 0.80 ms  p90 1.50 ms  p99 4.20 ms
	//   errors 0.0%  cache off
	//   ham   ███████████████████████████████████████░░░░░░░░░░░░░░░░░░░░  66.7%   800
	//   spam  ████████████████████░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░  33.3%   400
}
