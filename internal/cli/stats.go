package cli

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newStatsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show the server's request statistics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.Stats(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "uptime %s, %d requests, %d errors\n\n",
				(time.Duration(st.UptimeSeconds) * time.Second).String(), st.Requests, st.Errors)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "MODEL\tREQUESTS\tTEXTS\tERRORS\tP50 ms\tP99 ms\t")
			ids := make([]string, 0, len(st.Models))
			for id := range st.Models {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				m := st.Models[id]
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.2f\t%.2f\t\n", id, m.Requests, m.Texts, m.Errors, m.LatencyP50MS, m.LatencyP99MS)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if cs := st.Cache; cs != nil {
				fmt.Fprintf(out, "\ncache: memory %d hits, %d misses, %d entries", cs.Memory.Hits, cs.Memory.Misses, cs.Memory.Entries)
				if r := cs.Redis; r != nil {
					fmt.Fprintf(out, "; redis %d hits, %d misses, %d errors", r.Hits, r.Misses, r.Errors)
					if cs.RedisFallback {
						fmt.Fprint(out, " (down: in fallback)")
					}
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
}
