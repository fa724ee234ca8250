package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/loadgen"
	"github.com/mlserve/mlserve/internal/model"
)

func TestBenchmarkFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		levels  []int
		check   func(t *testing.T, f *benchFlags)
		wantErr string
		kind    loadgen.ClientKind
		grpc    loadgen.ClientKind
	}{
		{name: "defaults", args: []string{"spam-v1", "100"}, levels: []int{8}},
		{name: "short -c", args: []string{"spam-v1", "100", "-c", "32"}, levels: []int{32}},
		{name: "sweep", args: []string{"spam-v1", "100", "--concurrency-sweep", "1, 8,32,128"}, levels: []int{1, 8, 32, 128}},
		{name: "everything", args: []string{"m", "0", "--duration", "3s", "--warmup", "0s", "--batch", "100", "--repeat-ratio", "0.25", "--rate", "500", "--json"}, levels: []int{8},
			check: func(t *testing.T, f *benchFlags) {
				if f.duration != 3*time.Second || f.warmup != 0 || f.batch != 100 || f.repeat != 0.25 || f.rate != 500 || !f.json {
					t.Errorf("flags %+v", f)
				}
			}},
		{name: "net/http client", args: []string{"m", "10", "--http-client", "std"}, levels: []int{8}, kind: loadgen.ClientStd},
		{name: "lean client", args: []string{"m", "10", "--http-client", "lean"}, levels: []int{8}, kind: loadgen.ClientLean},
		{name: "unknown client", args: []string{"m", "10", "--http-client", "h2"}, wantErr: "HTTP client \"h2\""},
		{name: "n zero without duration", args: []string{"m", "0"}, wantErr: "n must be"},
		{name: "n not a number", args: []string{"m", "ten"}, wantErr: "n must be"},
		{name: "bad sweep", args: []string{"m", "10", "--concurrency-sweep", "1,x"}, wantErr: "--concurrency-sweep"},
		{name: "zero level", args: []string{"m", "10", "--concurrency-sweep", "0"}, wantErr: "--concurrency-sweep"},
		{name: "zero clients", args: []string{"m", "10", "-c", "0"}, wantErr: "concurrency 0"},
		{name: "batch over 100", args: []string{"m", "10", "--batch", "101"}, wantErr: "batch 101"},
		{name: "repeat ratio over 1", args: []string{"m", "10", "--repeat-ratio", "2"}, wantErr: "repeat ratio"},
		{name: "grpc protocol", args: []string{"spam", "10", "--protocol", "grpc", "--grpc-addr", "127.0.0.1:9001"}, levels: []int{8},
			check: func(t *testing.T, f *benchFlags) {
				if f.protocol != "grpc" || f.grpcAddr != "127.0.0.1:9001" {
					t.Errorf("flags %+v", f)
				}
			}},
		{name: "grpc-go client", args: []string{"spam", "10", "--protocol", "grpc", "--grpc-client", "std"}, levels: []int{8}, grpc: loadgen.ClientStd},
		{name: "unknown gRPC client", args: []string{"m", "10", "--protocol", "grpc", "--grpc-client", "h3"}, wantErr: "gRPC client \"h3\""},
		{name: "v2 protocol", args: []string{"spam", "10", "--protocol", "v2"}, levels: []int{8}},
		{name: "unknown protocol", args: []string{"m", "10", "--protocol", "v3"}, wantErr: `protocol "v3"`},
		{name: "missing texts file", args: []string{"m", "10", "--texts", "/nonexistent/texts.txt"}, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, f := benchmarkCmd(&globals{server: "http://127.0.0.1:1"})
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			levels, cfg, err := f.config(cmd.Flags().Args(), "http://127.0.0.1:1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(levels, tt.levels) || cfg.URL != "http://127.0.0.1:1" || cfg.Model != tt.args[0] || cfg.HTTPClient != tt.kind || cfg.GRPCClient != tt.grpc {
				t.Errorf("levels %v cfg %+v", levels, cfg)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// predictServer answers /predict and /batch-predict in mlserve's shapes,
// marking texts it has seen before as cached, and 404s unknown models.
func predictServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var n atomic.Int64
	// Real Prometheus histograms under mlserve's names: every text waits
	// 1 ms, every request is one model call of 2 ms.
	reg := prometheus.NewRegistry()
	hist := func(name string) prometheus.Observer {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "mlserve", Name: name}, []string{"model", "version"})
		reg.MustRegister(v)
		return v.WithLabelValues("spam", "v1")
	}
	queue, inf, batch := hist("queue_wait_seconds"), hist("inference_duration_seconds"), hist("batch_size")
	observe := func(texts int) {
		for range texts {
			queue.Observe(0.001)
		}
		inf.Observe(0.002)
		batch.Observe(float64(texts))
	}
	cached := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		c := seen[s]
		seen[s] = true
		return c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /predict", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var req api.PredictRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.ModelVersion != "spam-v1" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"title":"Not Found","status":404,"detail":"model \"` + req.ModelVersion + `\" not found"}`))
			return
		}
		observe(1)
		json.NewEncoder(w).Encode(api.PredictResponse{Label: "ham", Confidence: 0.9, LatencyMS: 0.25, ModelVersion: "spam-v1", Cached: cached(req.Text)})
	})
	mux.HandleFunc("POST /batch-predict", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var req api.BatchPredictRequest
		json.NewDecoder(r.Body).Decode(&req)
		observe(len(req.Texts))
		resp := api.BatchPredictResponse{TotalLatencyMS: 1, ModelVersion: "spam-v1"}
		for _, s := range req.Texts {
			resp.Predictions = append(resp.Predictions, api.BatchPrediction{Label: "spam", Confidence: 0.8, Cached: cached(s)})
		}
		json.NewEncoder(w).Encode(resp)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, &n
}

func TestBenchmarkCommand(t *testing.T) {
	ts, _ := predictServer(t)
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"--server", ts.URL, "benchmark"}, args...), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	t.Run("text report", func(t *testing.T) {
		out, errOut, code := run("spam-v1", "300", "-c", "4", "--warmup", "50ms", "--repeat-ratio", "1", "--metrics", ts.URL+"/metrics")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, re := range []string{
			`model spam-v1, /predict, concurrency 4, closed loop: 300 requests in [\d.]+ s \(lean HTTP/1.1 client\)`,
			`(?m)^throughput\s+\d+\.\d requests/s$`,
			`(?m)^latency\s+p50 [\d.]+\s+p90 [\d.]+\s+p95 [\d.]+\s+p99 [\d.]+\s+max [\d.]+ ms$`,
			`(?m)^server time\s+0\.250 ms per request`,
			`(?m)^server split queue wait 1\.000 ms per text, model 2\.000 ms per batch of 1\.0 texts`,
			`(?m)^cache hits\s+(8\d|9\d|100)\.\d% of texts$`,
			`(?m)^errors\s+none$`,
			`(?m)^latency histogram\n(\s+[\d.]+ – \s*[\d.]+ ms │.*\n){12}`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("output lacks %s:\n%s", re, out)
			}
		}
		if errOut != "" {
			t.Errorf("no progress bar off a terminal, got %q", errOut)
		}
	})
	t.Run("json sweep with batches", func(t *testing.T) {
		out, errOut, code := run("spam-v1", "40", "--concurrency-sweep", "1,3", "--batch", "10", "--warmup", "0s", "--json", "--metrics", ts.URL+"/metrics")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var doc benchOutput
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if len(doc.Runs) != 2 || doc.Model != "spam-v1" {
			t.Fatalf("doc %+v", doc)
		}
		for i, c := range []int{1, 3} {
			r := doc.Runs[i]
			if r.Concurrency != c || r.Requests != 40 || r.Texts != 400 || r.Batch != 10 || r.CacheHitShare != 0 || len(r.Errors) != 0 || r.ServerMeanMS != 1 || r.P99MS < r.P50MS || r.Client != "lean HTTP/1.1" {
				t.Errorf("run %d: %+v", i, r)
			}
			if r.Split == nil || math.Abs(r.Split.QueueWaitMS-1) > 1e-3 || math.Abs(r.Split.InferenceMS-2) > 1e-3 || r.Split.MeanBatch != 10 {
				t.Errorf("run %d: split %+v (%s)", i, r.Split, r.SplitError)
			}
		}
	})
	t.Run("split off", func(t *testing.T) {
		out, errOut, code := run("spam-v1", "5", "--warmup", "0s", "--metrics", "off")
		if code != 0 || !strings.Contains(out, "server split n/a (turned off)") {
			t.Errorf("exit %d: %s%s", code, out, errOut)
		}
	})
	t.Run("no metrics there", func(t *testing.T) {
		out, errOut, code := run("spam-v1", "5", "--warmup", "0s", "--metrics", ts.URL+"/nothing")
		if code != 0 || !regexp.MustCompile(`server split n/a \(.*status 40[45]\)`).MatchString(out) {
			t.Errorf("exit %d: %s%s", code, out, errOut)
		}
	})
	t.Run("unknown model fails fast", func(t *testing.T) {
		_, errOut, code := run("nope-v1", "1000", "--warmup", "0s")
		if code == 0 || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "not found") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

// TestSplitScope: the benchmark scopes the server split with model.SplitID,
// which gives a full id's name and version and nothing (all models) for a
// bare name or version.
func TestSplitScope(t *testing.T) {
	tests := []struct{ id, name, version string }{
		{"spam-v1", "spam", "v1"},
		{"my-model-v12", "my-model", "v12"},
		{"spam", "", ""},
		{"v2", "", ""},
		{"spam-vx", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if n, v, _ := model.SplitID(tt.id); n != tt.name || v != tt.version {
				t.Errorf("model.SplitID = %q, %q", n, v)
			}
		})
	}
	if got := defaultMetricsURL("http://10.0.0.5:8000"); got != "http://10.0.0.5:9090/metrics" {
		t.Errorf("defaultMetricsURL = %q", got)
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		name string
		cfg  loadgen.Config
		done int64
		want string
	}{
		{"half the requests", loadgen.Config{Requests: 100, Concurrency: 4}, 50, "[===============               ]  50%  50 requests  c=4"},
		{"all the requests", loadgen.Config{Requests: 10, Concurrency: 1}, 10, "[==============================] 100%  10 requests  c=1"},
		{"duration just started", loadgen.Config{Duration: time.Hour, Concurrency: 2}, 3, "[                              ]   0%  3 requests  c=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			progressBar(&b, tt.cfg)(tt.done)
			if got := b.String(); got != "\r\033[K"+tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
