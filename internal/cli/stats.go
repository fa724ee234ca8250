package cli

import (
	"context"
	"fmt"
	"io"
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
distribution as bars, drawn for an 80-column terminal; then the cache tiers and
each shadow/canary/mirror comparison (primary and candidate side by side).
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
	out := monitoring.Render(st, width)
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
	return out + renderTraffic(st.Traffic)
}
