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
	var watch, fleet bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the server's statistics: latency, errors, cache, predictions, drift, live accuracy",
		Long: `Show GET /stats per model version: requests, throughput, latency p50/p90/p99,
errors by kind, cache hit ratio, drift status, live accuracy and the prediction
distribution as bars, drawn for an 80-column terminal; then the cache tiers and
each shadow/canary/mirror comparison (primary and candidate side by side).
With --watch it redraws every --interval until interrupted.

With --fleet it shows GET /stats?scope=fleet: requests, texts, errors and
predictions summed over every replica sharing the server's Redis
(monitoring.fleet), with the fleet's drift and live accuracy; latency stays
per replica, on /metrics. The first line says whether the figures are shared.`,
		Example: `  mlserve stats
  mlserve stats --watch --interval 5s
  mlserve stats --fleet --server http://mlserve.example:8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval must be positive, got %s", interval)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			get := c.Stats
			if fleet {
				get = c.FleetStats
			}
			return runStats(cmd.Context(), get, cmd.OutOrStdout(), watch, interval)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "redraw until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "redraw interval with --watch")
	cmd.Flags().BoolVar(&fleet, "fleet", false, "figures summed over the replicas sharing Redis")
	return cmd
}

// runStats prints the stats once, or with watch every interval (clearing
// the screen first) until ctx ends.
func runStats(ctx context.Context, get func(context.Context) (*api.Stats, error), out io.Writer, watch bool, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := get(ctx)
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
	out := fleetLine(st) + monitoring.Render(st, width)
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

// fleetLine says whose figures follow: the fleet's (with how many
// replicas report), or this replica's and why; "" from a server that does
// not say (monitoring off, or before scale-out).
func fleetLine(st *api.Stats) string {
	f := st.Fleet
	switch {
	case f == nil:
		return ""
	case st.Scope == monitoring.ScopeFleet:
		return fmt.Sprintf("fleet: %d replica%s sharing Redis\n", f.Replicas, map[bool]string{true: "", false: "s"}[f.Replicas == 1])
	case f.State == monitoring.FleetShared:
		return "replica: this replica's counters; drift and live accuracy shared by the fleet\n"
	}
	return fmt.Sprintf("replica: fleet %s (%s)\n", f.State, f.Detail)
}
