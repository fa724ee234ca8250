package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/loadgen"
	"github.com/mlserve/mlserve/internal/model"
)

// benchFlags are the benchmark command's options.
type benchFlags struct {
	concurrency int
	batch       int
	textsFile   string
	repeat      float64
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	httpClient  string
	sweep       string
	json        bool
	histRows    int
	metrics     string
	protocol    string
	grpcAddr    string
	grpcClient  string
}

// benchOutput is the --json document: one run per concurrency level.
type benchOutput struct {
	Server string     `json:"server"`
	Model  string     `json:"model"`
	Runs   []benchRun `json:"runs"`
}

// benchRun is one level's results with the server-side split, when the
// server's metrics were readable.
type benchRun struct {
	loadgen.Summary
	// Split is the server-side time split; nil when not available.
	Split *splitJSON `json:"server_split,omitempty"`
	// SplitError says why Split is missing.
	SplitError string `json:"server_split_error,omitempty"`
}

// splitJSON is loadgen.Split as the JSON output reports it.
type splitJSON struct {
	QueueWaitMS float64 `json:"queue_wait_ms_per_text"`
	InferenceMS float64 `json:"inference_ms_per_batch"`
	MeanBatch   float64 `json:"texts_per_batch"`
	// ServerCPUUS is the server process's CPU time per request in
	// microseconds (process_cpu_seconds_total), 0 when it does not export it.
	ServerCPUUS float64 `json:"server_cpu_us_per_request,omitempty"`
}

func newBenchmarkCmd(g *globals) *cobra.Command {
	cmd, _ := benchmarkCmd(g)
	return cmd
}

// benchmarkCmd returns the command and the flags it fills in.
func benchmarkCmd(g *globals) (*cobra.Command, *benchFlags) {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "benchmark <model> <n>",
		Short: "Load-test a model: throughput, latency percentiles, errors, cache hits",
		Long: `Send n requests to a model and report throughput, latency p50/p90/p95/p99/max
with a histogram, errors by status, the share of answers from the cache and the
server-reported latency.

Closed loop by default: -c clients each send the next request when the last
one answers. --rate RPS starts requests at a fixed rate instead (open loop;
latency counts from the scheduled start). --duration runs for a time instead of
n requests (n is then an upper bound; 0 for none). --batch K sends K texts per
/batch-predict request. Texts come from a built-in corpus of emails, made
unique so they miss the cache, except a --repeat-ratio share drawn from a small
set of exact repeats. --protocol sends the same load through another door: v2
(POST /v2/models/<model>/infer), v1 (POST /v1/models/<model>:predict) or grpc
(ModelInfer on --grpc-addr); --batch K then sends K texts per request.`,
		Example: `  mlserve benchmark spam-v1 10000 -c 32
  mlserve benchmark spam-v1 0 --duration 10s --concurrency-sweep 1,8,32,128 --json
  mlserve benchmark spam-v1 2000 --batch 100 -c 8 --repeat-ratio 0.5
  mlserve benchmark spam 10000 -c 32 --protocol v2     # or v1, grpc: the same model through another door`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			levels, cfg, err := f.config(args, g.server)
			if err != nil {
				return err
			}
			return runBenchmark(cmd.Context(), g, cfg, levels, &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.concurrency, "concurrency", "c", 8, "concurrent clients (connections)")
	fl.IntVar(&f.batch, "batch", 0, "texts per /batch-predict request (0: single-text /predict)")
	fl.StringVar(&f.textsFile, "texts", "", "texts file: one per line, or a JSON array (default: built-in corpus)")
	fl.Float64Var(&f.repeat, "repeat-ratio", 0, "share of texts repeated from a small hot set, to exercise the cache (0..1)")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: start this many requests per second (0: closed loop)")
	fl.DurationVar(&f.duration, "duration", 0, "run for this long (n then bounds the requests; 0 for no bound)")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "load sent first and not counted")
	fl.StringVar(&f.sweep, "concurrency-sweep", "", "comma-separated concurrency levels to run one after another, e.g. 1,8,32,128")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON")
	fl.IntVar(&f.histRows, "histogram-rows", 12, "rows of the latency histogram")
	fl.StringVar(&f.httpClient, "http-client", "auto", "client sending the load: lean (a minimal HTTP/1.1 client, least CPU), std (Go's net/http) or auto (lean for http://, std for https://)")
	fl.StringVar(&f.grpcClient, "grpc-client", "auto", "client of --protocol grpc: lean (a minimal HTTP/2 gRPC client, least CPU), std (grpc-go) or auto (lean)")
	fl.StringVar(&f.protocol, "protocol", "predict", "the door the load goes through: predict (/predict, /batch-predict), v2 (Open Inference Protocol REST), v1 (KServe V1) or grpc (Open Inference Protocol gRPC)")
	fl.StringVar(&f.grpcAddr, "grpc-addr", "127.0.0.1:8001", "the server's gRPC address, for --protocol grpc")
	fl.StringVar(&f.metrics, "metrics", "", "the server's Prometheus /metrics URL, for the queue vs inference split (default: --server's host, port 9090; \"off\" to skip)")
	return cmd, &f
}

// config checks the flags and arguments and returns the concurrency levels
// to run and the load configuration against server.
func (f *benchFlags) config(args []string, server string) ([]int, loadgen.Config, error) {
	var cfg loadgen.Config
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 || (n == 0 && f.duration <= 0) {
		return nil, cfg, fmt.Errorf("n must be a positive number of requests (or 0 with --duration), not %q", args[1])
	}
	if f.histRows < 1 || f.histRows > 100 {
		return nil, cfg, fmt.Errorf("--histogram-rows must be 1..100")
	}
	levels := []int{f.concurrency}
	if f.sweep != "" {
		levels, err = parseLevels(f.sweep)
		if err != nil {
			return nil, cfg, err
		}
	}
	kind, err := loadgen.ParseClientKind(f.httpClient)
	if err != nil {
		return nil, cfg, err
	}
	grpcKind, err := loadgen.ParseGRPCClientKind(f.grpcClient)
	if err != nil {
		return nil, cfg, err
	}
	protocol, err := loadgen.ParseProtocol(f.protocol)
	if err != nil {
		return nil, cfg, err
	}
	cfg = loadgen.Config{
		HTTPClient:  kind,
		URL:         server,
		Model:       args[0],
		Batch:       f.batch,
		RepeatRatio: f.repeat,
		Concurrency: levels[0],
		Requests:    n,
		Duration:    f.duration,
		Warmup:      f.warmup,
		Rate:        f.rate,
		Protocol:    protocol,
		GRPCAddr:    f.grpcAddr,
		GRPCClient:  grpcKind,
	}
	if f.textsFile != "" {
		if cfg.Texts, err = loadgen.ReadTexts(f.textsFile); err != nil {
			return nil, cfg, err
		}
	}
	for _, c := range levels {
		cfg.Concurrency = c
		if err := cfg.Validate(); err != nil {
			return nil, cfg, err
		}
	}
	return levels, cfg, nil
}

// parseLevels reads "1,8,32" into positive concurrency levels.
func parseLevels(s string) ([]int, error) {
	var out []int
	for p := range strings.SplitSeq(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("--concurrency-sweep: %q is not a positive number", p)
		}
		out = append(out, c)
	}
	return out, nil
}

func runBenchmark(ctx context.Context, g *globals, cfg loadgen.Config, levels []int, f *benchFlags, out, errOut io.Writer) error {
	// One request first, so a wrong model or no server fails fast with the
	// server's own message.
	c, err := g.client()
	if err != nil {
		return err
	}
	if _, err := c.Predict(ctx, &api.PredictRequest{Text: "Subject: hello", ModelVersion: cfg.Model}); err != nil {
		return err
	}
	metricsURL := f.metrics
	if metricsURL == "" {
		metricsURL = defaultMetricsURL(cfg.URL)
	}
	// A full id scopes the server split to that version; a bare name or
	// version (not a model id) leaves it over all models.
	name, version, _ := model.SplitID(cfg.Model)
	doc := benchOutput{Server: cfg.URL, Model: cfg.Model}
	tty := isTerminal(errOut)
	warmup := cfg.Warmup
	cfg.Warmup = 0
	for i, level := range levels {
		cfg.Concurrency = level
		cfg.Client = loadgen.NewHTTPClient(level)
		conns := new(loadgen.Conns) // the warm-up's connections go on into the run
		cfg.Conns = conns
		cfg.Progress = nil
		if warmup > 0 {
			w := cfg
			w.Requests, w.Duration = 0, warmup
			if _, err := loadgen.Run(ctx, w); err != nil {
				return err
			}
		}
		var before loadgen.Split
		var splitErr error = errors.New("turned off")
		if metricsURL != "off" {
			before, splitErr = loadgen.ScrapeSplit(ctx, cfg.Client, metricsURL, name, version)
		}
		if tty {
			cfg.Progress = progressBar(errOut, cfg)
		}
		res, err := loadgen.Run(ctx, cfg)
		conns.Close()
		if tty {
			fmt.Fprint(errOut, "\r\033[K")
		}
		if res == nil {
			return err
		}
		run := benchRun{Summary: res.Summary(f.histRows)}
		if splitErr == nil {
			var after loadgen.Split
			if after, splitErr = loadgen.ScrapeSplit(ctx, cfg.Client, metricsURL, name, version); splitErr == nil {
				d := after.Sub(before)
				run.Split = &splitJSON{QueueWaitMS: msf(d.MeanQueueWait()), InferenceMS: msf(d.MeanInference()), MeanBatch: d.MeanBatch(),
					ServerCPUUS: float64(d.CPUPerRequest(res.Requests)) / float64(time.Microsecond)}
			}
		}
		if splitErr != nil {
			run.SplitError = splitErr.Error()
		}
		doc.Runs = append(doc.Runs, run)
		if !f.json {
			if i > 0 {
				fmt.Fprintln(out)
			}
			writeReport(out, cfg, &run, metricsURL)
		}
		if err != nil {
			return err
		}
	}
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return nil
}

// defaultMetricsURL is the default monitoring listener (port 9090) on the
// server's host.
func defaultMetricsURL(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Hostname() == "" {
		return "off"
	}
	return "http://" + net.JoinHostPort(u.Hostname(), "9090") + "/metrics"
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeReport prints one run's results for a person to read.
func writeReport(w io.Writer, cfg loadgen.Config, run *benchRun, metricsURL string) {
	s := &run.Summary
	mode := "closed loop"
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("open loop at %g requests/s", cfg.Rate)
	}
	endpoint := "/predict"
	if cfg.Batch > 0 {
		endpoint = fmt.Sprintf("/batch-predict × %d texts", cfg.Batch)
	}
	fmt.Fprintf(w, "model %s, %s, concurrency %d, %s: %d requests in %.2f s (%s client)\n",
		cfg.Model, endpoint, s.Concurrency, mode, s.Requests, s.ElapsedS, s.Client)
	fmt.Fprintf(w, "throughput   %.1f requests/s", s.RequestsPerS)
	if cfg.Batch > 0 {
		fmt.Fprintf(w, ", %.0f texts/s", s.TextsPerS)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "latency      p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  max %.2f ms\n", s.P50MS, s.P90MS, s.P95MS, s.P99MS, s.MaxMS)
	fmt.Fprintf(w, "server time  %.3f ms per request (mean reported latency)\n", s.ServerMeanMS)
	if sp := run.Split; sp != nil {
		fmt.Fprintf(w, "server split queue wait %.3f ms per text, model %.3f ms per batch of %.1f texts (%s)\n", sp.QueueWaitMS, sp.InferenceMS, sp.MeanBatch, metricsURL)
		if sp.ServerCPUUS > 0 {
			fmt.Fprintf(w, "server CPU   %.1f µs per request (%.0f requests/s per core at most)\n", sp.ServerCPUUS, 1e6/sp.ServerCPUUS)
		}
	} else {
		fmt.Fprintf(w, "server split n/a (%s)\n", run.SplitError)
	}
	fmt.Fprintf(w, "cache hits   %.1f%% of texts\n", 100*s.CacheHitShare)
	if len(s.Errors) == 0 {
		fmt.Fprintln(w, "errors       none")
	} else {
		fmt.Fprint(w, "errors      ")
		for _, k := range loadgen.ErrorKeys(s.Errors) {
			fmt.Fprintf(w, " %s: %d", k, s.Errors[k])
		}
		fmt.Fprintf(w, "\nfirst error  %s\n", s.FirstError)
	}
	fmt.Fprintln(w, "latency histogram")
	loadgen.WriteHistogram(w, s.Histogram, 40)
}

// progressBar returns a Progress callback that redraws a bar on w.
func progressBar(w io.Writer, cfg loadgen.Config) func(int64) {
	start := time.Now()
	return func(done int64) {
		frac := 0.0
		if cfg.Duration > 0 {
			frac = time.Since(start).Seconds() / (cfg.Warmup + cfg.Duration).Seconds()
		}
		if cfg.Requests > 0 {
			frac = max(frac, float64(done)/float64(cfg.Requests))
		}
		frac = min(frac, 1)
		const width = 30
		fill := int(frac * width)
		fmt.Fprintf(w, "\r\033[K[%s%s] %3.0f%%  %d requests  c=%d", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*frac, done, cfg.Concurrency)
	}
}

// isTerminal says whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
