package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the server's model versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			l, err := c.ListModels(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSTATUS\tDEFAULT\tFRAMEWORK\tACCURACY\tLOADED")
			for _, m := range l.Models {
				def, acc, loaded := "", "-", "-"
				if m.Default {
					def = "*"
				}
				if m.Accuracy != nil {
					acc = fmt.Sprintf("%.3f", *m.Accuracy)
				}
				if m.LoadedAt != nil {
					loaded = m.LoadedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Status, def, m.Framework, acc, loaded)
			}
			return w.Flush()
		},
	}
}
