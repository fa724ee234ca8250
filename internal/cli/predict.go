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
	var explain, showOOD bool
	var topK int
	cmd := &cobra.Command{
		Use:   "predict [--model ID] TEXT...",
		Short: "Classify texts, one output line per text",
		Example: `  mlserve predict "This product is amazing!"
  mlserve predict --model spam-v1 --probabilities "WIN A FREE PRIZE" "meeting at 3"
  mlserve predict --model spam-v1 --explain --top-k 5 "WIN A FREE PRIZE"
  mlserve predict --model spam-v1 --ood "Great blender, crushes ice"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for chunk := range slices.Chunk(args, api.MaxBatchTexts) {
				req := &api.BatchPredictRequest{Texts: chunk, ModelVersion: modelID, ReturnProbabilities: probs}
				if explain {
					req.Explain = api.Explain{Enabled: true, TopK: topK}
				}
				r, err := c.BatchPredict(cmd.Context(), req)
				if err != nil {
					return err
				}
				for i, p := range r.Predictions {
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
					if showOOD && p.OOD != nil {
						line += fmt.Sprintf("\tood=%.4f", p.OOD.Score)
						if p.OOD.Flag {
							line += "(flagged:" + p.OOD.Signal + ")"
						}
					}
					fmt.Fprintln(out, line)
					if p.Explanation != nil {
						renderExplanation(out, chunk[i], p.Explanation, colorOut(out))
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&modelID, "model", "", "model id, name or version (default: the server's default model)")
	cmd.Flags().BoolVar(&probs, "probabilities", false, "print every label's probability")
	cmd.Flags().BoolVar(&explain, "explain", false, "explain each prediction: the text with what pushed towards the label highlighted (colour on a terminal, unless NO_COLOR), then the top features")
	cmd.Flags().IntVar(&topK, "top-k", 0, "features per explanation (default: the server's, 10)")
	cmd.Flags().BoolVar(&showOOD, "ood", false, "add each answer's out-of-distribution score (and the deciding signal when flagged), for versions with a reference")
	return cmd
}
