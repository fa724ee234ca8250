package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// statsWidth is the terminal width `mlserve stats` draws for.
const statsWidth = 80

func newStatsCmd(g *globals) *cobra.Command {
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the server's statistics: latency, errors, cache, predictions, drift, live accuracy",
		Long: `Show GET /stats per model version: requests, throughput, latency p50/p90/p99,
errors by kind, cache hit ratio, drift status, live accuracy and the prediction
distribution as bars, drawn for an 80-column terminal; then the cache tiers.
With --watch it redraws every --interval until interrupted.`,
		Example: `  mlserve stats
  mlserve stats --watch --interval 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval must be positive, got %s", interval)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return runStats(cmd.Context(), c, cmd.OutOrStdout(), watch, interval)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "redraw until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "redraw interval with --watch")
	return cmd
}

// runStats prints the stats once, or with watch every interval (clearing
// the screen first) until ctx ends.
func runStats(ctx context.Context, c *api.Client, out io.Writer, watch bool, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := c.Stats(ctx)
		if err != nil {
			if watch && ctx.Err() != nil {
				return nil
			}
			return err
		}
		if watch {
			fmt.Fprint(out, "\x1b[H\x1b[2J")
		}
		fmt.Fprint(out, renderStats(st, statsWidth))
		if !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// renderStats draws st: monitoring.Render's per-model view, then the cache
// tiers.
func renderStats(st *api.Stats, width int) string {
	out := monitoring.Render(summaryOf(st), width)
	if cs := st.Cache; cs != nil {
		line := fmt.Sprintf("cache: memory %d hits, %d misses, %d entries", cs.Memory.Hits, cs.Memory.Misses, cs.Memory.Entries)
		if r := cs.Redis; r != nil {
			line += fmt.Sprintf("; redis %d hits, %d misses, %d errors", r.Hits, r.Misses, r.Errors)
			if cs.RedisFallback {
				line += " (down: in fallback)"
			}
		}
		out += line + "\n"
	}
	return out
}

// summaryOf is the monitoring view of the API's stats, models sorted by id.
// Without monitoring on the server, the error rate comes from the plain
// error count.
func summaryOf(st *api.Stats) monitoring.Summary {
	s := monitoring.Summary{UptimeSeconds: st.UptimeSeconds}
	ids := make([]string, 0, len(st.Models))
	for id := range st.Models {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := st.Models[id]
		rate := m.ErrorRate
		if rate == 0 && m.Errors > 0 && m.Requests > 0 {
			rate = float64(m.Errors) / float64(m.Requests)
		}
		s.Models = append(s.Models, monitoring.ModelSummary{
			ID: id, Requests: m.Requests, Texts: m.Texts, Throughput: m.ThroughputRPS,
			Latency: monitoring.Percentiles{P50: m.LatencyP50MS, P90: m.LatencyP90MS, P99: m.LatencyP99MS},
			Errors:  m.ErrorsByKind, ErrorRate: rate,
			CacheHits: m.CacheHits, CacheMisses: m.CacheMisses, CacheHitRatio: m.CacheHitRatio,
			Predictions: m.Predictions, Drift: m.Drift, LiveAccuracy: m.LiveAccuracy,
		})
	}
	return s
}
