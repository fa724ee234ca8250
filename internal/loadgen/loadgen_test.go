package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

var update = flag.Bool("update", false, "rewrite golden files")

func ms2d(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", ms2d(7), 0.99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 0.50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 0.90, 90 * time.Millisecond},
		{"p95 of 1..100 (no float round-up)", hundred, 0.95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 0.99, 99 * time.Millisecond},
		{"max", hundred, 1, 100 * time.Millisecond},
		{"q 0 is the minimum", hundred, 0, time.Millisecond},
		{"p50 of four is the second", ms2d(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of four is the max", ms2d(1, 2, 3, 4), 0.99, 4 * time.Millisecond},
		{"p51 of four rounds up", ms2d(1, 2, 3, 4), 0.51, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestServerLatency(t *testing.T) {
	tests := []struct {
		body string
		want time.Duration
	}{
		{`{"label":"ham","latency_ms":1.25,"cached":false}`, 1250 * time.Microsecond},
		{`{"predictions":[],"total_latency_ms":12,"model_version":"x"}`, 12 * time.Millisecond},
		{`{"latency_ms": 0.5}`, 500 * time.Microsecond},
		{`{"latency_ms":2.5e-1}`, 250 * time.Microsecond},
		{`{"label":"ham"}`, 0},
		{`{"latency_ms":`, 0},
		{`{"latency_ms":1e}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := serverLatency([]byte(tt.body)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzServerLatency: any response bytes parse without panic, and a plain
// decimal agrees with strconv.
func FuzzServerLatency(f *testing.F) {
	f.Add([]byte(`{"latency_ms":1.25}`), 3.5)
	f.Add([]byte(`{"total_latency_ms":1e3`), 0.0)
	f.Add([]byte(`latency_ms":-`), 1.0)
	f.Fuzz(func(t *testing.T, body []byte, v float64) {
		serverLatency(body)
		if v < 0 || v > 1e6 || v != v {
			return
		}
		s := strconv.FormatFloat(v, 'f', 3, 64)
		want, _ := strconv.ParseFloat(s, 64)
		got := serverLatency([]byte(`{"latency_ms":` + s + `}`))
		if d := got - time.Duration(want*float64(time.Millisecond)); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: got %v, want %v ms", s, got, want)
		}
	})
}

func TestHistogramGolden(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	for range 2000 { // a body around 2 ms and a long tail
		lat = append(lat, time.Duration((1+rng.ExpFloat64())*float64(time.Millisecond)))
	}
	for range 20 {
		lat = append(lat, time.Duration(50+rng.IntN(100))*time.Millisecond)
	}
	sortDur(lat)
	var b bytes.Buffer
	b.WriteString("geometric, 12 rows\n")
	if err := WriteHistogram(&b, Buckets(lat, 12), 40); err != nil {
		t.Fatal(err)
	}
	b.WriteString("linear (spread under 2x), 4 rows\n")
	WriteHistogram(&b, Buckets(ms2d(10, 10.5, 11, 11, 12, 14, 19), 4), 20)
	b.WriteString("one value\n")
	WriteHistogram(&b, Buckets(ms2d(3, 3, 3), 5), 20)
	b.WriteString("none\n")
	WriteHistogram(&b, Buckets(nil, 5), 20)
	golden := filepath.Join("testdata", "histogram.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("histogram differs from %s (go test -update to accept):\n%s", golden, got)
	}
}

func sortDur(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

func TestBucketsCountEverything(t *testing.T) {
	for _, rows := range []int{1, 3, 10} {
		t.Run(strconv.Itoa(rows), func(t *testing.T) {
			lat := ms2d(0.1, 0.2, 0.2, 1, 5, 5, 5, 80, 100)
			bs := Buckets(lat, rows)
			n := 0
			for i, b := range bs {
				n += b.Count
				if i > 0 && b.LoMS != bs[i-1].HiMS {
					t.Errorf("bucket %d starts at %v, previous ends at %v", i, b.LoMS, bs[i-1].HiMS)
				}
			}
			if n != len(lat) || len(bs) != rows || bs[0].LoMS != 0.1 || bs[rows-1].HiMS != 100 {
				t.Errorf("buckets %+v", bs)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Config{URL: "http://x", Concurrency: 1, Requests: 1}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"ok", func(*Config) {}, true},
		{"duration only", func(c *Config) { c.Requests, c.Duration = 0, time.Second }, true},
		{"no url", func(c *Config) { c.URL = "" }, false},
		{"no clients", func(c *Config) { c.Concurrency = 0 }, false},
		{"batch too big", func(c *Config) { c.Batch = 101 }, false},
		{"batch 100", func(c *Config) { c.Batch = 100 }, true},
		{"repeat above 1", func(c *Config) { c.RepeatRatio = 1.5 }, false},
		{"negative rate", func(c *Config) { c.Rate = -1 }, false},
		{"no stop", func(c *Config) { c.Requests = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestAppendBody(t *testing.T) {
	texts := []string{`a "quoted" text`, "line\nbreak é", "third"}
	tests := []struct {
		name        string
		batch       int
		repeat      float64
		wantRepeats bool
	}{
		{"predict, unique", 0, 0, false},
		{"predict, all repeated", 0, 1, true},
		{"batch of 5, unique", 5, 0, false},
		{"batch of 5, all repeated", 5, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newGen(Config{URL: "http://x", Model: "spam-v1", Batch: tt.batch, Texts: texts, RepeatRatio: tt.repeat, Concurrency: 1, Requests: 1})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			seen := map[string]int{}
			for range 20 {
				b := g.appendBody(nil, rng)
				var got []string
				if tt.batch == 0 {
					var r api.PredictRequest
					if err := json.Unmarshal(b, &r); err != nil || r.ModelVersion != "spam-v1" {
						t.Fatalf("%s: %v %+v", b, err, r)
					}
					got = []string{r.Text}
				} else {
					var r api.BatchPredictRequest
					if err := json.Unmarshal(b, &r); err != nil || r.ModelVersion != "spam-v1" || len(r.Texts) != tt.batch {
						t.Fatalf("%s: %v %+v", b, err, r)
					}
					got = r.Texts
				}
				for _, s := range got {
					seen[s]++
					base, _, _ := strings.Cut(s, " #")
					if !tt.wantRepeats && !strings.HasPrefix(s, base+" #") {
						t.Errorf("unique text %q has no unique tail", s)
					}
					if !contains(texts, base) && !contains(texts, s) {
						t.Errorf("text %q is not from the corpus", s)
					}
				}
			}
			repeats := 0
			for _, n := range seen {
				repeats += n - 1
			}
			if tt.wantRepeats != (repeats > 0) {
				t.Errorf("repeats = %d, want repeats: %v", repeats, tt.wantRepeats)
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestCorpusIsVaried(t *testing.T) {
	c := Corpus()
	distinct := map[string]bool{}
	minLen, maxLen := 1<<30, 0
	for _, s := range c {
		distinct[s] = true
		minLen, maxLen = min(minLen, len(s)), max(maxLen, len(s))
	}
	if len(c) < 200 || len(distinct) < len(c)*9/10 || maxLen < 4*minLen {
		t.Errorf("corpus: %d texts, %d distinct, lengths %d..%d", len(c), len(distinct), minLen, maxLen)
	}
}

func TestReadTexts(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          []string
		err           error
	}{
		{"lines", "one\n\n  two  \nthree\n", []string{"one", "two", "three"}, nil},
		{"json array", `["a\nb", "c", " "]`, []string{"a\nb", "c"}, nil},
		{"empty", "\n \n", nil, ErrNoTexts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			os.WriteFile(p, []byte(tt.content), 0o644)
			got, err := ReadTexts(p)
			if !errors.Is(err, tt.err) || strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("ReadTexts = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// testServer answers /predict and /batch-predict like mlserve, with a real
// cache of the texts it has seen; every failEvery-th request gets a 503.
type testServer struct {
	mu        sync.Mutex
	seen      map[string]bool
	requests  atomic.Int64
	failEvery int64
}

func (s *testServer) cached(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[text] {
		return true
	}
	s.seen[text] = true
	return false
}

func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	if s.failEvery > 0 && n%s.failEvery == 0 {
		http.Error(w, "queue full", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/predict":
		var req api.PredictRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Text == "" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(api.PredictResponse{Label: "ham", Confidence: 0.9, LatencyMS: 0.5, ModelVersion: req.ModelVersion, Cached: s.cached(req.Text)})
	case "/batch-predict":
		var req api.BatchPredictRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Texts) == 0 {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		resp := api.BatchPredictResponse{TotalLatencyMS: 2, ModelVersion: req.ModelVersion}
		for _, t := range req.Texts {
			resp.Predictions = append(resp.Predictions, api.BatchPrediction{Label: "spam", Confidence: 0.7, Cached: s.cached(t)})
		}
		json.NewEncoder(w).Encode(resp)
	default:
		http.NotFound(w, r)
	}
}

func newTestServer(t *testing.T, failEvery int64) (*testServer, string) {
	s := &testServer{seen: map[string]bool{}, failEvery: failEvery}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func TestRun(t *testing.T) {
	tests := []struct {
		name                      string
		cfg                       Config
		failEvery                 int64
		wantOK                    int64
		wantTexts                 int64
		wantErrors                map[string]int64
		cacheAtLeast, cacheAtMost float64
		serverMean                time.Duration
	}{
		{"predict, unique texts miss", Config{Concurrency: 4, Requests: 200}, 0, 200, 200, map[string]int64{}, 0, 0, 500 * time.Microsecond},
		{"predict, all repeated hit", Config{Concurrency: 4, Requests: 400, RepeatRatio: 1}, 0, 400, 400, map[string]int64{}, 0.9, 1, 500 * time.Microsecond},
		{"batch of 10, half repeated", Config{Concurrency: 2, Requests: 100, Batch: 10, RepeatRatio: 0.5}, 0, 100, 1000, map[string]int64{}, 0.4, 0.55, 2 * time.Millisecond},
		{"errors by status", Config{Concurrency: 1, Requests: 100}, 10, 90, 90, map[string]int64{"503": 10}, 0, 0, 500 * time.Microsecond},
	}
	for _, kind := range []ClientKind{ClientLean, ClientStd} {
		for _, tt := range tests {
			t.Run(string(kind)+"/"+tt.name, func(t *testing.T) {
				srv, url := newTestServer(t, tt.failEvery)
				tt.cfg.URL, tt.cfg.Model, tt.cfg.HTTPClient = url, "m-v1", kind
				res, err := Run(context.Background(), tt.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if res.Requests != tt.wantOK || res.Texts != tt.wantTexts || len(res.Latencies) != int(tt.wantOK) {
					t.Errorf("requests %d texts %d latencies %d; want %d, %d", res.Requests, res.Texts, len(res.Latencies), tt.wantOK, tt.wantTexts)
				}
				if got := srv.requests.Load(); got != int64(tt.cfg.Requests) {
					t.Errorf("server saw %d requests, want %d", got, tt.cfg.Requests)
				}
				if len(res.Errors) != len(tt.wantErrors) || res.Errors["503"] != tt.wantErrors["503"] {
					t.Errorf("errors %v, want %v", res.Errors, tt.wantErrors)
				}
				if tt.failEvery > 0 && !strings.HasPrefix(res.FirstError, "503: queue full") {
					t.Errorf("first error %q", res.FirstError)
				}
				if h := res.CacheHitShare(); h < tt.cacheAtLeast || h > tt.cacheAtMost {
					t.Errorf("cache hit share %.3f, want %.2f..%.2f", h, tt.cacheAtLeast, tt.cacheAtMost)
				}
				if res.MeanServerLatency() != tt.serverMean {
					t.Errorf("server latency %v, want %v", res.MeanServerLatency(), tt.serverMean)
				}
				if res.Throughput() <= 0 || res.Percentile(0.5) <= 0 || res.Percentile(1) < res.Percentile(0.99) {
					t.Errorf("throughput %v, p50 %v, p99 %v, max %v", res.Throughput(), res.Percentile(0.5), res.Percentile(0.99), res.Percentile(1))
				}
			})
		}
	}
}

func TestRunDurationAndWarmup(t *testing.T) {
	srv, url := newTestServer(t, 0)
	var progress atomic.Int64
	res, err := Run(context.Background(), Config{URL: url, Concurrency: 2, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Progress: func(done int64) { progress.Store(done) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > 2*time.Second {
		t.Errorf("elapsed %v, want about 300ms", res.Elapsed)
	}
	if total := srv.requests.Load(); res.Requests == 0 || total <= res.Requests {
		t.Errorf("measured %d of %d requests: warm-up should add uncounted ones", res.Requests, total)
	}
	if progress.Load() != res.Requests {
		t.Errorf("last progress %d, want %d", progress.Load(), res.Requests)
	}
}

func TestRunOpenLoop(t *testing.T) {
	srv, url := newTestServer(t, 0)
	const rate = 200
	res, err := Run(context.Background(), Config{URL: url, Concurrency: 4, Rate: rate, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 100 requests are due in 500 ms; a closed loop would send thousands.
	if n := srv.requests.Load(); n < 80 || n > 102 {
		t.Errorf("open loop at %d/s for 500 ms sent %d requests", rate, n)
	}
	if res.Rate != rate {
		t.Errorf("Rate %v", res.Rate)
	}
}

func TestRunCanceled(t *testing.T) {
	_, url := newTestServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Config{URL: url, Concurrency: 2, Duration: time.Hour})
	if !errors.Is(err, context.DeadlineExceeded) || res == nil || res.Requests == 0 || res.ErrorCount() != 0 {
		t.Errorf("res %+v, err %v", res, err)
	}
}

func TestRunNoServer(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	for _, kind := range []ClientKind{ClientLean, ClientStd} {
		res, err := Run(context.Background(), Config{URL: url, Concurrency: 1, Requests: 3, HTTPClient: kind})
		if err != nil || res.Errors["transport"] != 3 || res.Requests != 0 {
			t.Errorf("%s: res %+v, err %v", kind, res, err)
		}
	}
}

// Two runs against the same server must not send the same "unique" texts,
// or a second run (or the next level of a sweep) would hit the cache.
func TestUniqueTextsDifferAcrossRuns(t *testing.T) {
	srv, url := newTestServer(t, 0)
	for i := range 2 {
		res, err := Run(context.Background(), Config{URL: url, Concurrency: 2, Requests: 50})
		if err != nil {
			t.Fatal(err)
		}
		if res.Cached != 0 {
			t.Errorf("run %d: %d cached texts, want 0", i, res.Cached)
		}
	}
	if len(srv.seen) != 100 {
		t.Errorf("server saw %d distinct texts, want 100", len(srv.seen))
	}
}

// A server may answer before it has read the body (net/http's client may
// then still be writing it after Do returns); the generator waits for the
// transport's WroteRequest before reusing the buffer and counts the answers
// by status. This exercises the path under -race; it did not reproduce a
// race without the wait in three runs, so it is not a regression test.
func TestRunEarlyAnswer(t *testing.T) {
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		var req api.BatchPredictRequest
		json.NewDecoder(r.Body).Decode(&req)
		resp := api.BatchPredictResponse{}
		for range req.Texts {
			resp.Predictions = append(resp.Predictions, api.BatchPrediction{Label: "ham"})
		}
		json.NewEncoder(w).Encode(resp)
	}))
	defer ts.Close()
	for _, kind := range []ClientKind{ClientLean, ClientStd} {
		res, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: 4, Requests: 200, Batch: 100, HTTPClient: kind})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests+res.Errors["413"]+res.Errors["transport"] != 200 || res.Errors["413"] == 0 || res.Requests == 0 {
			t.Errorf("%s: ok %d, errors %v (%s)", kind, res.Requests, res.Errors, res.FirstError)
		}
	}
}
