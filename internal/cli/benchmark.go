package cli

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
)

// benchTexts are the texts benchmark requests cycle through.
var benchTexts = []string{
	"This product is amazing! Works exactly as described.",
	"Terrible service, I want my money back.",
	"The package arrived on Tuesday.",
	"Congratulations, you have won a free cruise, click here to claim your prize now",
	"Hi Bob, the meeting moved to 3pm, see the attached agenda.",
	"Not bad, but the battery life could be better.",
}

func newBenchmarkCmd(g *globals) *cobra.Command {
	var concurrency int
	cmd := &cobra.Command{
		Use:   "benchmark <model> <n>",
		Short: "Send n predict requests to a model and report throughput and latency",
		Long: `Send n /predict requests to the model from -c concurrent clients, each sending
its next request when the previous one answers (closed loop), and report
throughput, latency percentiles and errors.`,
		Example: "  mlserve benchmark spam-v1 10000 -c 32",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return fmt.Errorf("n must be a positive number of requests, not %q", args[1])
			}
			if concurrency < 1 {
				return fmt.Errorf("-c must be at least 1")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// One request first, so a wrong model or no server fails fast.
			if _, err := c.Predict(ctx, &api.PredictRequest{Text: benchTexts[0], ModelVersion: args[0]}); err != nil {
				return err
			}
			var next, errs atomic.Int64
			lat := make([][]time.Duration, concurrency)
			var firstErr atomic.Value
			var wg sync.WaitGroup
			start := time.Now()
			for w := range concurrency {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(n) || ctx.Err() != nil {
							return
						}
						t0 := time.Now()
						_, err := c.Predict(ctx, &api.PredictRequest{Text: benchTexts[i%int64(len(benchTexts))], ModelVersion: args[0]})
						if err != nil {
							errs.Add(1)
							firstErr.CompareAndSwap(nil, err)
							continue
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			all := slices.Concat(lat...)
			slices.Sort(all)
			pct := func(q float64) time.Duration {
				if len(all) == 0 {
					return 0
				}
				return all[min(len(all)-1, int(q*float64(len(all))))]
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "model %s: %d requests, concurrency %d, %s\n", args[0], n, concurrency, elapsed.Round(time.Millisecond))
			fmt.Fprintf(out, "throughput  %.1f requests/s\n", float64(len(all))/elapsed.Seconds())
			fmt.Fprintf(out, "latency     p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", ms(pct(0.50)), ms(pct(0.99)), ms(pct(1)))
			fmt.Fprintf(out, "errors      %d\n", errs.Load())
			if e := firstErr.Load(); e != nil {
				fmt.Fprintf(out, "first error %v\n", e)
			}
			return ctx.Err()
		},
	}
	cmd.Flags().IntVarP(&concurrency, "concurrency", "c", 8, "concurrent clients")
	return cmd
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
