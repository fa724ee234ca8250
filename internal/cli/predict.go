package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
)

func newPredictCmd(g *globals) *cobra.Command {
	var modelID string
	var probs bool
	cmd := &cobra.Command{
		Use:   "predict [--model ID] TEXT...",
		Short: "Classify texts, one output line per text",
		Example: `  mlserve predict "This product is amazing!"
  mlserve predict --model spam-v1 --probabilities "WIN A FREE PRIZE" "meeting at 3"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for chunk := range slices.Chunk(args, api.MaxBatchTexts) {
				r, err := c.BatchPredict(cmd.Context(), &api.BatchPredictRequest{Texts: chunk, ModelVersion: modelID, ReturnProbabilities: probs})
				if err != nil {
					return err
				}
				for _, p := range r.Predictions {
					line := fmt.Sprintf("%s\t%.4f\t%s", p.Label, p.Confidence, r.ModelVersion)
					if probs && p.Probabilities != nil {
						keys := make([]string, 0, len(p.Probabilities))
						for k := range p.Probabilities {
							keys = append(keys, k)
						}
						slices.Sort(keys)
						var b strings.Builder
						for _, k := range keys {
							fmt.Fprintf(&b, "\t%s=%.4f", k, p.Probabilities[k])
						}
						line += b.String()
					}
					fmt.Fprintln(out, line)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&modelID, "model", "", "model id, name or version (default: the server's default model)")
	cmd.Flags().BoolVar(&probs, "probabilities", false, "print every label's probability")
	return cmd
}
