// Command compare is bench/'s one-run comparison: it starts mlserve, the
// FastAPI reference server (bench/reference) and the bare Go echo handler
// (bench/cmd/echo) side by side, drives each with the same load generator
// (internal/loadgen), the same model file and the same texts, and writes
// results.json and results.md into the output folder; bench/plot.py draws
// results.png from the JSON. bench/run.sh builds everything and runs both.
//
// Concurrency levels are interleaved (every server at level 1, then every
// server at level 8, ...) so background load on a shared machine falls on
// all of them alike. mlserve runs with its prediction cache off and every
// text is made unique, so no server answers from a cache.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mlserve/mlserve/internal/loadgen"
)

// opts are the command's flags.
type opts struct {
	duration, warmup time.Duration
	sweep            []int
	batch, batchC    int
	out              string
	mlserve, echo    string
	python           string
	config           string
	model, artifact  string
	workers          int
	h11              bool
	httpClient       loadgen.ClientKind
}

// server is one process under test.
type server struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	metrics string // Prometheus URL, mlserve only
	cmd     *exec.Cmd
	Ready   time.Duration `json:"-"`
}

// Report is results.json.
type Report struct {
	Date      string    `json:"date"`
	Host      string    `json:"host"`
	CPUs      int       `json:"cpus"`
	GoVersion string    `json:"go_version"`
	Model     string    `json:"model"`
	Duration  string    `json:"duration_per_point"`
	Warmup    string    `json:"warmup_per_point"`
	Workers   int       `json:"reference_workers"`
	Predict   []Point   `json:"predict"`
	Batch     []Point   `json:"batch"`
	MLServe   Footprint `json:"mlserve"`
	Command   string    `json:"command"`
	Targets   []Target  `json:"targets"`
}

// Point is one server at one concurrency level.
type Point struct {
	Server string `json:"server"`
	loadgen.Summary
	// QueueWaitMS, ModelMS and TextsPerBatch are mlserve's server-side split
	// (from its metrics) over the measured part of the point.
	QueueWaitMS   float64 `json:"queue_wait_ms_per_text,omitempty"`
	ModelMS       float64 `json:"model_ms_per_batch,omitempty"`
	TextsPerBatch float64 `json:"texts_per_batch,omitempty"`
}

// Footprint is mlserve's start-up time and memory.
type Footprint struct {
	ReadyMS     float64 `json:"ready_ms"`
	RSSIdleMB   float64 `json:"rss_idle_mb"`
	RSSPeakMB   float64 `json:"rss_peak_mb"`
	ModelsReady int     `json:"models_ready"`
}

// Target is one of issue 6's goals, with the measured ratio.
type Target struct {
	What     string  `json:"what"`
	Measured float64 `json:"measured"`
	Goal     string  `json:"goal"`
	Met      bool    `json:"met"`
}

func main() {
	var o opts
	var sweep string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per point")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up per point")
	flag.StringVar(&sweep, "sweep", "1,8,32,128", "/predict concurrency levels")
	flag.IntVar(&o.batch, "batch", 100, "texts per /batch-predict request")
	flag.IntVar(&o.batchC, "batch-concurrency", 8, "clients for the /batch-predict point")
	flag.StringVar(&o.out, "out", "bench/results", "output folder")
	flag.StringVar(&o.mlserve, "mlserve", "bin/mlserve", "mlserve binary")
	flag.StringVar(&o.echo, "echo", ".cache/bench/echo", "echo server binary (bench/cmd/echo)")
	flag.StringVar(&o.python, "python", ".cache/bench-venv/bin/python", "python of the reference server's venv")
	flag.StringVar(&o.config, "config", "config.yaml", "mlserve configuration (serves the sample models)")
	flag.StringVar(&o.model, "model", "spam-v1", "model id")
	flag.StringVar(&o.artifact, "artifact", "models/spam/v1/model.joblib", "the model's file, for the reference server")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "reference server's uvicorn workers")
	flag.BoolVar(&o.h11, "h11", true, "also run the reference on plain uvicorn (h11 + asyncio), as `pip install uvicorn` without extras serves it")
	flag.Func("http-client", "load generator's HTTP client: auto (lean for http://), lean or std (net/http)", func(v string) (err error) {
		o.httpClient, err = loadgen.ParseClientKind(v)
		return err
	})
	flag.Parse()
	for p := range strings.SplitSeq(sweep, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || c < 1 {
			log.Fatalf("-sweep: bad level %q", p)
		}
		o.sweep = append(o.sweep, c)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o opts) error {
	rep := &Report{
		Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Model: o.model, Duration: o.duration.String(), Warmup: o.warmup.String(), Workers: o.workers,
		Command: strings.TrimSpace("bench/run.sh " + strings.Join(userArgs(os.Args[1:]), " ")),
	}
	rep.Host, _ = os.Hostname()

	ml, err := startMLServe(ctx, o)
	if err != nil {
		return err
	}
	defer stopServer(ml)
	rep.MLServe.ReadyMS = ms(ml.Ready)
	rep.MLServe.RSSIdleMB = rssMB(ml.cmd.Process.Pid, "VmRSS")
	rep.MLServe.ModelsReady = countReady(ctx, ml.URL)
	log.Printf("mlserve ready in %.0f ms, %d models, RSS %.1f MB", rep.MLServe.ReadyMS, rep.MLServe.ModelsReady, rep.MLServe.RSSIdleMB)

	ref, err := startReference(ctx, o, false)
	if err != nil {
		return err
	}
	defer stopServer(ref)
	servers := []*server{ml, ref}
	if o.h11 {
		ref11, err := startReference(ctx, o, true)
		if err != nil {
			return err
		}
		defer stopServer(ref11)
		servers = append(servers, ref11)
	}
	echo, err := startEcho(ctx, o)
	if err != nil {
		return err
	}
	defer stopServer(echo)
	servers = append(servers, echo)

	for _, c := range o.sweep {
		for _, s := range servers {
			p, err := measure(ctx, o, s, c, 0)
			if err != nil {
				return err
			}
			rep.Predict = append(rep.Predict, p)
		}
	}
	for _, s := range servers {
		p, err := measure(ctx, o, s, o.batchC, o.batch)
		if err != nil {
			return err
		}
		rep.Batch = append(rep.Batch, p)
	}
	rep.MLServe.RSSPeakMB = rssMB(ml.cmd.Process.Pid, "VmHWM")
	rep.Targets = targets(rep)

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(o.out, "results.md"))
	if err != nil {
		return err
	}
	writeMarkdown(f, rep)
	if err := f.Close(); err != nil {
		return err
	}
	writeMarkdown(os.Stdout, rep)
	return nil
}

// measure runs one point and logs it.
func measure(ctx context.Context, o opts, s *server, c, batch int) (Point, error) {
	cfg := loadgen.Config{
		URL: s.URL, Model: o.model, Batch: batch, Concurrency: c,
		Duration: o.warmup, Client: loadgen.NewHTTPClient(c), HTTPClient: o.httpClient,
		Conns: new(loadgen.Conns), // the warm-up's connections go on into the run
	}
	defer cfg.Conns.Close()
	if _, err := loadgen.Run(ctx, cfg); err != nil { // warm-up
		return Point{}, fmt.Errorf("%s c=%d warm-up: %w", s.Name, c, err)
	}
	cfg.Duration = o.duration
	var before loadgen.Split
	var splitErr error = errors.New("no metrics")
	model, version := o.model, ""
	if i := strings.LastIndex(o.model, "-"); i > 0 {
		model, version = o.model[:i], o.model[i+1:]
	}
	if s.metrics != "" {
		before, splitErr = loadgen.ScrapeSplit(ctx, cfg.Client, s.metrics, model, version)
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return Point{}, fmt.Errorf("%s c=%d: %w", s.Name, c, err)
	}
	sum := res.Summary(10)
	sum.Histogram = nil
	p := Point{Server: s.Name, Summary: sum}
	if splitErr == nil {
		after, err := loadgen.ScrapeSplit(ctx, cfg.Client, s.metrics, model, version)
		if err == nil {
			d := after.Sub(before)
			p.QueueWaitMS, p.ModelMS, p.TextsPerBatch = ms(d.MeanQueueWait()), ms(d.MeanInference()), d.MeanBatch()
		}
	}
	log.Printf("%-9s batch=%-3d c=%-3d %9.1f req/s %9.0f texts/s  p50 %7.2f ms  p99 %7.2f ms  errors %d",
		s.Name, batch, c, sum.RequestsPerS, sum.TextsPerS, sum.P50MS, sum.P99MS, res.ErrorCount())
	if res.ErrorCount() > 0 {
		log.Printf("  first error: %s", res.FirstError)
	}
	return p, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startMLServe(ctx context.Context, o opts) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	maddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.mlserve, "serve", "--config", o.config, "--addr", addr, "--metrics-addr", maddr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "MLSERVE_CACHE_ENABLED=false")
	s, err := start(ctx, "mlserve", "http://"+addr, cmd)
	if s != nil {
		s.metrics = "http://" + maddr + "/metrics"
	}
	return s, err
}

// startReference starts the FastAPI server with uvicorn's httptools parser
// and uvloop (uvicorn[standard]) or, with h11, as a bare `pip install
// uvicorn` runs it (h11 on asyncio).
func startReference(ctx context.Context, o opts, h11 bool) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(o.python, "-m", "uvicorn", "app:app", "--app-dir", "bench/reference",
		"--host", host, "--port", port, "--workers", strconv.Itoa(o.workers), "--http", "httptools", "--loop", "uvloop",
		"--log-level", "warning", "--no-access-log")
	name := "reference"
	if h11 {
		cmd.Args[slices.Index(cmd.Args, "httptools")] = "h11"
		cmd.Args[slices.Index(cmd.Args, "uvloop")] = "asyncio"
		name = "reference-h11"
	}
	// One BLAS thread per worker: workers = cores already.
	cmd.Env = append(os.Environ(), "MODEL_PATH="+o.artifact, "MODEL_ID="+o.model, "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
	return start(ctx, name, "http://"+addr, cmd)
}

func startEcho(ctx context.Context, o opts) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return start(ctx, "echo", "http://"+addr, exec.Command(o.echo, "-addr", addr))
}

// start runs cmd in its own process group and waits until url answers
// /health/ready, recording how long that took.
func start(ctx context.Context, name, url string, cmd *exec.Cmd) (*server, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(os.TempDir(), "mlserve-bench-"+name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{Name: name, URL: url, cmd: cmd}
	hc := &http.Client{Timeout: time.Second}
	for time.Since(t0) < 60*time.Second {
		if ctx.Err() != nil {
			stopServer(s)
			return nil, ctx.Err()
		}
		resp, err := hc.Get(url + "/health/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.Ready = time.Since(t0)
				return s, nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopServer(s)
	return nil, fmt.Errorf("%s not ready after 60 s; see %s", name, logPath)
}

// stopServer sends SIGTERM to the server's process group and waits.
func stopServer(s *server) {
	if s == nil || s.cmd.Process == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// countReady counts the models /models lists as ready.
func countReady(ctx context.Context, url string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/models", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var l struct {
		Models []struct {
			Status string `json:"status"`
		} `json:"models"`
	}
	if json.NewDecoder(resp.Body).Decode(&l) != nil {
		return 0
	}
	n := 0
	for _, m := range l.Models {
		if m.Status == "ready" {
			n++
		}
	}
	return n
}

// rssMB reads a memory field (VmRSS, VmHWM) of /proc/pid/status in MB.
func rssMB(pid int, field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// userArgs drops -out (run.sh sets it) from the command line.
func userArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == "out":
			i++
		case strings.HasPrefix(a, "out="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func find(ps []Point, server string, c int) (Point, error) {
	for _, p := range ps {
		if p.Server == server && p.Concurrency == c {
			return p, nil
		}
	}
	return Point{}, errors.New("missing point")
}

// targets computes issue 6's ratios from the report.
func targets(r *Report) []Target {
	var t []Target
	ml, err1 := find(r.Predict, "mlserve", 32)
	ref, err2 := find(r.Predict, "reference", 32)
	echo, err3 := find(r.Predict, "echo", 32)
	if err1 == nil && err2 == nil && err3 == nil {
		t = append(t,
			ratio("/predict c=32: mlserve ÷ reference throughput", ml.RequestsPerS, ref.RequestsPerS, 20, "≥ 20×"),
			ratio("/predict c=32: reference p99 ÷ mlserve p99", ref.P99MS, ml.P99MS, 10, "≥ 10× (mlserve p99 ≤ 1/10)"),
			ratio("/predict c=32: mlserve ÷ echo throughput", ml.RequestsPerS, echo.RequestsPerS, 0.6, "≥ 0.6×"),
		)
	}
	if ref11, err := find(r.Predict, "reference-h11", 32); err == nil && err1 == nil {
		t = append(t,
			ratio("/predict c=32: mlserve ÷ reference-h11 throughput", ml.RequestsPerS, ref11.RequestsPerS, 20, "≥ 20×"),
			ratio("/predict c=32: reference-h11 p99 ÷ mlserve p99", ref11.P99MS, ml.P99MS, 10, "≥ 10×"),
		)
	}
	if len(r.Batch) > 0 {
		mb, e1 := find(r.Batch, "mlserve", r.Batch[0].Concurrency)
		rb, e2 := find(r.Batch, "reference", r.Batch[0].Concurrency)
		if e1 == nil && e2 == nil {
			t = append(t, ratio(fmt.Sprintf("/batch-predict ×%d c=%d: mlserve ÷ reference texts/s", mb.Batch, mb.Concurrency), mb.TextsPerS, rb.TextsPerS, 5, "≥ 5×"))
		}
		if rb11, e3 := find(r.Batch, "reference-h11", r.Batch[0].Concurrency); e1 == nil && e3 == nil {
			t = append(t, ratio(fmt.Sprintf("/batch-predict ×%d c=%d: mlserve ÷ reference-h11 texts/s", mb.Batch, mb.Concurrency), mb.TextsPerS, rb11.TextsPerS, 5, "≥ 5×"))
		}
	}
	t = append(t,
		Target{What: "mlserve RSS, sample models, peak over the run (MB)", Measured: r.MLServe.RSSPeakMB, Goal: "≤ 100", Met: r.MLServe.RSSPeakMB > 0 && r.MLServe.RSSPeakMB <= 100},
		Target{What: "mlserve start to /health/ready (ms)", Measured: r.MLServe.ReadyMS, Goal: "≤ 1000", Met: r.MLServe.ReadyMS <= 1000},
	)
	return t
}

func ratio(what string, a, b, goal float64, g string) Target {
	v := 0.0
	if b > 0 {
		v = a / b
	}
	return Target{What: what, Measured: v, Goal: g, Met: v >= goal}
}

// writeMarkdown writes the report's tables.
func writeMarkdown(w io.Writer, r *Report) {
	fmt.Fprintf(w, "# mlserve vs the seed's stack vs a bare Go handler\n\n")
	fmt.Fprintf(w, "%s, %s, %d CPUs, %s. Model `%s`; %s per point after %s warm-up; closed loop; load generator on the same machine.\n",
		r.Date, r.Host, r.CPUs, r.GoVersion, r.Model, r.Duration, r.Warmup)
	fmt.Fprintf(w, "Reference: FastAPI + uvicorn (%d workers, httptools + uvloop) + scikit-learn, sync endpoints, same model file; ", r.Workers)
	fmt.Fprintf(w, "reference-h11 is the same app on plain uvicorn (h11 + asyncio, what `pip install uvicorn` gives), whose keep-alive responses wait ~40 ms on Nagle + delayed ACK. ")
	fmt.Fprintf(w, "Echo: net/http + encoding/json, same shapes, no model. mlserve's cache is off and every text is unique. ")
	fmt.Fprintf(w, "Levels are interleaved across servers; other work on the machine shares the CPUs.\n\n")
	fmt.Fprintf(w, "Command: `%s`\n\n", r.Command)
	fmt.Fprintf(w, "## Targets\n\n| target | measured | goal | met |\n|---|---:|---|---|\n")
	for _, t := range r.Targets {
		met := "yes"
		if !t.Met {
			met = "**no**"
		}
		fmt.Fprintf(w, "| %s | %.2f | %s | %s |\n", t.What, t.Measured, t.Goal, met)
	}
	fmt.Fprintf(w, "\n## /predict\n\n")
	table(w, r.Predict)
	fmt.Fprintf(w, "\n## /batch-predict\n\n")
	table(w, r.Batch)
	fmt.Fprintf(w, "\n## mlserve's server-side split (from its /metrics)\n\n")
	fmt.Fprintf(w, "| endpoint | clients | queue wait ms/text | model ms/batch | texts/batch | server latency ms/request (mean) |\n|---|---:|---:|---:|---:|---:|\n")
	for _, ps := range [][]Point{r.Predict, r.Batch} {
		for _, p := range ps {
			if p.Server == "mlserve" {
				ep := "/predict"
				if p.Batch > 0 {
					ep = fmt.Sprintf("/batch-predict ×%d", p.Batch)
				}
				fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.1f | %.3f |\n", ep, p.Concurrency, p.QueueWaitMS, p.ModelMS, p.TextsPerBatch, p.ServerMeanMS)
			}
		}
	}
	fmt.Fprintf(w, "\nmlserve serve with the sample models: %d models ready in %.0f ms, RSS %.1f MB idle, %.1f MB peak.\n",
		r.MLServe.ModelsReady, r.MLServe.ReadyMS, r.MLServe.RSSIdleMB, r.MLServe.RSSPeakMB)
}

func table(w io.Writer, ps []Point) {
	fmt.Fprintf(w, "| server | clients | texts/req | requests/s | texts/s | p50 ms | p90 ms | p99 ms | max ms | errors |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range ps {
		var errs int64
		for _, v := range p.Errors {
			errs += v
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %d |\n",
			p.Server, p.Concurrency, max(p.Batch, 1), p.RequestsPerS, p.TextsPerS, p.P50MS, p.P90MS, p.P99MS, p.MaxMS, errs)
	}
}
