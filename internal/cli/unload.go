package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newUnloadCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "unload <id>",
		Short:   "Unload a model version",
		Example: "  mlserve unload sentiment-v1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.UnloadModel(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unloaded %s\n", args[0])
			return nil
		},
	}
}
