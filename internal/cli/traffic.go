package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlserve/mlserve/api"
)

// renderTraffic draws each name's traffic comparison for `mlserve stats`:
// primary and candidate side by side, then the verdict.
func renderTraffic(ts map[string]api.TrafficView) string {
	if len(ts) == 0 {
		return ""
	}
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		v := ts[n]
		st := v.Stats
		mode := v.Policy.Mode
		if mode != api.TrafficShadow {
			mode += fmt.Sprintf(" %g%%", v.Policy.Share*100)
		}
		fmt.Fprintf(&b, "traffic %s: %s, %s\n", n, mode, v.State)
		fmt.Fprintf(&b, "  %-22s %14s %14s\n", "", orDash(v.Primary), v.Candidate)
		fmt.Fprintf(&b, "  %-22s %14s %14s\n", "latency p50/p99 ms",
			fmt.Sprintf("%.2f/%.2f", st.PrimaryLatencyMS.P50, st.PrimaryLatencyMS.P99),
			fmt.Sprintf("%.2f/%.2f", st.CandidateLatencyMS.P50, st.CandidateLatencyMS.P99))
		if st.Feedback > 0 {
			fmt.Fprintf(&b, "  %-22s %14.3f %14.3f\n", fmt.Sprintf("live accuracy (%d)", st.Feedback),
				deref(st.PrimaryLiveAccuracy), deref(st.CandidateLiveAccuracy))
		}
		if len(st.Drift) > 0 {
			fmt.Fprintf(&b, "  %-22s %14s %14s\n", "drift", orDash(st.Drift[v.Primary]), orDash(st.Drift[v.Candidate]))
		}
		fmt.Fprintf(&b, "  compared %d texts of %d requests: agreement %.3f\n", st.Compared, st.Requests, st.Agreement)
		fmt.Fprintf(&b, "  confidence delta mean %+.3f (p10 %+.3f, p90 %+.3f)",
			st.ConfidenceDelta.Mean, st.ConfidenceDelta.P10, st.ConfidenceDelta.P90)
		if st.LatencyRatio > 0 {
			fmt.Fprintf(&b, ", latency ratio %.2f", st.LatencyRatio)
		}
		if st.Dropped > 0 || st.Errors > 0 {
			fmt.Fprintf(&b, ", %d dropped, %d errors", st.Dropped, st.Errors)
		}
		b.WriteString("\n")
		if v.Verdict != "" {
			fmt.Fprintf(&b, "  verdict: %s\n", v.Verdict)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
