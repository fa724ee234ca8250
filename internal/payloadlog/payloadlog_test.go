package payloadlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/internal/config"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sink is an HTTP sink in the test: it keeps every event it receives, in
// either content mode, and can be slowed down or failed.
type sink struct {
	mu     sync.Mutex
	events []map[string]any
	posts  int
	delay  time.Duration
	status int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body) // first: a read body lets net/http see the client leave
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return
		}
	}
	body := b
	var got []map[string]any
	switch ct := r.Header.Get("Content-Type"); {
	case ct == "application/cloudevents-batch+json":
		if err := json.Unmarshal(body, &got); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
	case r.Header.Get("Ce-Specversion") != "":
		// Binary mode: the attributes are headers, the body is the data.
		var data any
		if err := json.Unmarshal(body, &data); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		e := map[string]any{"data": data, "datacontenttype": ct}
		for k, v := range r.Header {
			if name, ok := strings.CutPrefix(strings.ToLower(k), "ce-"); ok {
				e[name] = v[0]
			}
		}
		got = []map[string]any{e}
	default:
		http.Error(w, "not a CloudEvent: "+ct, http.StatusUnsupportedMediaType)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	s.events = append(s.events, got...)
	if s.status != 0 {
		w.WriteHeader(s.status)
	}
}

func (s *sink) got() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.events...)
}

func testConfig(url string) config.Payloads {
	c := config.Default().Logging.Payloads
	c.Enabled, c.SinkURL = true, url
	c.FlushInterval = config.Duration(10 * time.Millisecond)
	return c
}

func record(i int) Record {
	return Record{ID: "r" + strconv.Itoa(i), RequestID: "r" + strconv.Itoa(i), Model: "spam-v1", Text: "text " + strconv.Itoa(i),
		Label: "spam", Confidence: 0.9, Labels: []string{"ham", "spam"}, Probabilities: []float64{0.1, 0.9},
		Latency: 1500 * time.Microsecond, TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Time: time.Now()}
}

// validEvent checks the CloudEvents 1.0 required attributes and mlserve's
// types; it returns the event's type and id.
func validEvent(t *testing.T, e map[string]any) (string, string) {
	t.Helper()
	for _, k := range []string{"specversion", "id", "source", "type"} {
		if s, _ := e[k].(string); s == "" {
			t.Errorf("event without %s: %v", k, e)
		}
	}
	if e["specversion"] != "1.0" {
		t.Errorf("specversion %v", e["specversion"])
	}
	if ts, _ := e["time"].(string); ts != "" {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("time %q is not RFC 3339: %v", ts, err)
		}
	} else {
		t.Errorf("event without time: %v", e)
	}
	typ := e["type"].(string)
	if typ != TypeRequest && typ != TypeResponse {
		t.Errorf("type %q", typ)
	}
	if e["datacontenttype"] != "application/json" {
		t.Errorf("datacontenttype %v", e["datacontenttype"])
	}
	return typ, e["id"].(string)
}

// TestDelivery: in both content modes every logged prediction reaches the
// sink once as a request and a response event, valid CloudEvents, with
// the answer, the model, the ids and the trace.
func TestDelivery(t *testing.T) {
	for _, mode := range []string{"batched", "binary"} {
		t.Run(mode, func(t *testing.T) {
			sk := &sink{}
			srv := httptest.NewServer(sk)
			defer srv.Close()
			c := testConfig(srv.URL)
			c.Mode, c.BatchSize = mode, 7
			reg := prometheus.NewRegistry()
			l, err := New(c, nil, reg, quiet())
			if err != nil {
				t.Fatal(err)
			}
			const n = 40
			for i := range n {
				if !l.Log(record(i)) {
					t.Fatalf("record %d dropped", i)
				}
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, e := range sk.got() {
				typ, id := validEvent(t, e)
				seen[typ+" "+id]++
				if e["source"] != "mlserve/spam-v1" || e["traceparent"] != record(0).TraceParent {
					t.Errorf("source %v traceparent %v", e["source"], e["traceparent"])
				}
				data := e["data"].(map[string]any)
				if data["request_id"] != id || data["model"] != "spam-v1" || data["trace_id"] != record(0).TraceID {
					t.Errorf("data %v", data)
				}
				if typ == TypeResponse {
					p := data["probabilities"].(map[string]any)
					if data["label"] != "spam" || data["confidence"] != 0.9 || p["spam"] != 0.9 || p["ham"] != 0.1 || data["latency_ms"] != 1.5 {
						t.Errorf("response data %v", data)
					}
				} else if !strings.HasPrefix(data["text"].(string), "text ") {
					t.Errorf("request data %v", data)
				}
			}
			for i := range n {
				for _, typ := range []string{TypeRequest, TypeResponse} {
					if k := typ + " r" + strconv.Itoa(i); seen[k] != 1 {
						t.Errorf("%s arrived %d times", k, seen[k])
					}
				}
			}
			if len(seen) != 2*n {
				t.Errorf("%d distinct events, want %d", len(seen), 2*n)
			}
			if got := testutil.ToFloat64(l.sent); got != 2*n {
				t.Errorf("sent counter %v, want %d", got, 2*n)
			}
			if mode == "batched" && sk.posts > (2*n+6)/7+2 {
				t.Errorf("%d POSTs for %d events in batches of 7", sk.posts, 2*n)
			}
		})
	}
}

// TestText: the input is logged whole, cut to max_text_chars on a
// character boundary, hashed or left out.
func TestText(t *testing.T) {
	text := "héllo wörld, ünïcode"
	sum := sha256.Sum256([]byte(text))
	cases := []struct {
		mode      string
		max       int
		wantText  string
		wantHash  string
		truncated bool
	}{
		{"text", 1000, text, "", false},
		{"text", 4, "héll", "", true},
		{"hash", 4, "", hex.EncodeToString(sum[:]), false},
		{"none", 1000, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.mode+strconv.Itoa(tc.max), func(t *testing.T) {
			c := testConfig("http://127.0.0.1:1")
			c.Text, c.MaxTextChars = tc.mode, tc.max
			l := &Logger{cfg: c}
			rec := record(1)
			rec.Text = text
			req, _ := l.events(rec)
			d := req.Data.(RequestData)
			if d.Text != tc.wantText || d.TextSHA256 != tc.wantHash || d.Truncated != tc.truncated || d.TextChars != 20 {
				t.Errorf("got %+v", d)
			}
		})
	}
}

// TestSample: rate 0 logs nothing, 1 everything, 0.3 about 30%; a model
// list limits the log to its models, each at its own rate.
func TestSample(t *testing.T) {
	count := func(l *Logger, name string, n int) int {
		k := 0
		for range n {
			if l.Sample(name) {
				k++
			}
		}
		return k
	}
	mk := func(rate float64, models string) *Logger {
		c := testConfig("http://127.0.0.1:1")
		c.SampleRate, c.Models = rate, models
		r, err := c.ModelRates()
		if err != nil {
			t.Fatal(err)
		}
		return &Logger{cfg: c, rates: r}
	}
	const n = 20000
	if k := count(mk(0, ""), "spam", n); k != 0 {
		t.Errorf("rate 0 sampled %d", k)
	}
	if k := count(mk(1, ""), "spam", n); k != n {
		t.Errorf("rate 1 sampled %d of %d", k, n)
	}
	// Binomial(20000, 0.3): sd 65; 6 sd either side.
	if k := count(mk(0.3, ""), "spam", n); k < 5610 || k > 6390 {
		t.Errorf("rate 0.3 sampled %d of %d", k, n)
	}
	l := mk(1, "spam, topic=0.5")
	if k := count(l, "spam", n); k != n {
		t.Errorf("spam at the global rate sampled %d", k)
	}
	if k := count(l, "topic", n); k < 9580 || k > 10420 {
		t.Errorf("topic at 0.5 sampled %d", k)
	}
	if k := count(l, "other", n); k != 0 {
		t.Errorf("a model off the list sampled %d", k)
	}
}

// TestSlowSinkDrops: a sink that takes a second per POST never makes Log
// wait: the queue fills, the rest is dropped at once and counted, and
// what was queued still arrives.
func TestSlowSinkDrops(t *testing.T) {
	sk := &sink{delay: 300 * time.Millisecond}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	c := testConfig(srv.URL)
	c.QueueSize, c.BatchSize = 4, 2
	l, err := New(c, nil, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	queued := 0
	start := time.Now()
	for i := range n {
		if l.Log(record(i)) {
			queued++
		}
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("logging %d records took %s with a slow sink", n, el)
	}
	if queued >= n/2 {
		t.Errorf("%d of %d queued into a queue of 4 behind a slow sink", queued, n)
	}
	if got := testutil.ToFloat64(l.dropped); got != float64(2*(n-queued)) {
		t.Errorf("dropped counter %v, want %d", got, 2*(n-queued))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(sk.got()); got != 2*queued {
		t.Errorf("sink got %d events, want the %d queued", got, 2*queued)
	}
}

// TestSinkDown: a sink that refuses (500) or is not listening fails its
// batches, counted, without touching the caller.
func TestSinkDown(t *testing.T) {
	refusing := httptest.NewServer(&sink{status: 500})
	defer refusing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	down := closed.URL
	closed.Close()
	for name, url := range map[string]string{"refusing": refusing.URL, "down": down} {
		t.Run(name, func(t *testing.T) {
			c := testConfig(url)
			c.Timeout = config.Duration(time.Second)
			l, err := New(c, nil, nil, quiet())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				l.Log(record(i))
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := testutil.ToFloat64(l.failed); got != 10 {
				t.Errorf("failed counter %v, want 10", got)
			}
			if got := testutil.ToFloat64(l.sent); got != 0 {
				t.Errorf("sent counter %v", got)
			}
		})
	}
}

// TestFileSink: JSON lines, one event a line, rotated by size keeping
// max_files old files.
func TestFileSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payloads.jsonl")
	c := config.Default().Logging.Payloads
	c.Enabled, c.File, c.MaxFileBytes, c.MaxFiles, c.BatchSize = true, path, 2000, 2, 2
	c.FlushInterval = config.Duration(time.Millisecond)
	l, err := New(c, nil, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := range n {
		l.Log(record(i))
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var files []string
	lines := 0
	for _, p := range []string{path, path + ".1", path + ".2", path + ".3"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		if len(b) > 2000 {
			t.Errorf("%s holds %d bytes, over max_file_bytes", p, len(b))
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: %v: %q", p, err, line)
			}
			validEvent(t, e)
			lines++
		}
	}
	if len(files) != 3 {
		t.Errorf("files %v, want the current one and 2 rotated", files)
	}
	// The oldest rotated files were deleted: fewer lines than logged.
	if lines >= 2*n || lines == 0 {
		t.Errorf("%d lines kept of %d", lines, 2*n)
	}
}

// TestConfigErrors: bad payload-log settings are refused with the key named.
func TestConfigErrors(t *testing.T) {
	for name, mut := range map[string]func(*config.Payloads){
		"no sink":   func(c *config.Payloads) { c.SinkURL = "" },
		"two sinks": func(c *config.Payloads) { c.File = "/tmp/x" },
		"rate":      func(c *config.Payloads) { c.SampleRate = 2 },
		"models":    func(c *config.Payloads) { c.Models = "spam=abc" },
		"text":      func(c *config.Payloads) { c.Text = "all" },
		"mode":      func(c *config.Payloads) { c.Mode = "structured" },
		"url":       func(c *config.Payloads) { c.SinkURL = "ftp://x" },
		"queue":     func(c *config.Payloads) { c.QueueSize = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig("http://127.0.0.1:1")
			mut(&c)
			_, err := New(c, nil, nil, quiet())
			if err == nil || !strings.Contains(err.Error(), "logging.payloads.") {
				t.Errorf("err %v", err)
			}
		})
	}
}
