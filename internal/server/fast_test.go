package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/server"
)

// latencyField matches the server-measured latencies, the one part of a
// prediction's answer that differs between two runs.
var latencyField = regexp.MustCompile(`"(total_)?latency_ms":[-+.0-9eE]+`)

// pathPair is a server with the fast path and one that sends every
// prediction through huma, over the same registry, plus how many requests
// the fast path served.
type pathPair struct {
	fast, huma *server.Server
	served     map[string]int
}

func newPathPair(t testing.TB, opts server.Options) *pathPair {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	p := &pathPair{served: map[string]int{}}
	var err error
	if p.fast, err = server.New(newFakeRegistry(), opts); err != nil {
		t.Fatal(err)
	}
	server.OnFast(p.fast, func(endpoint string) { p.served[endpoint]++ })
	if p.huma, err = server.New(newFakeRegistry(), opts); err != nil {
		t.Fatal(err)
	}
	server.DisableFastPath(p.huma)
	return p
}

// compare sends the same request to both servers and fails unless the
// status, the headers a client reads and the body (latencies aside) match.
func (p *pathPair) compare(t testing.TB, path, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	send := func(s *server.Server) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("X-Request-ID", "same-id")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	before := p.served[path]
	f, h := send(p.fast), send(p.huma)
	fast := p.served[path] != before
	if f.Code != h.Code {
		t.Fatalf("%s %q: fast path %d, huma %d\nfast: %s\nhuma: %s", path, body, f.Code, h.Code, f.Body, h.Body)
	}
	for _, k := range []string{"Content-Type", "X-Request-ID", "Retry-After", "Content-Length", "Connection"} {
		if f.Header().Get(k) != h.Header().Get(k) {
			t.Errorf("%s %q: %s is %q on the fast path, %q through huma", path, body, k, f.Header().Get(k), h.Header().Get(k))
		}
	}
	fb, hb := normalize(t, f), normalize(t, h)
	if !fast && f.Header().Get("Content-Type") == api.ProblemContentType {
		// Both answered by huma, whose lists of unexpected properties vary
		// from run to run (map order, and the locations it builds from it).
		fb, hb = problemGist(t, fb), problemGist(t, hb)
	}
	if !bytes.Equal(fb, hb) {
		t.Errorf("%s %q: bodies differ\nfast: %s\nhuma: %s", path, body, f.Body, h.Body)
	}
	return f
}

// normalize zeroes an answer's latencies and sorts a problem's errors: huma
// lists unexpected properties in map order.
func normalize(t testing.TB, w *httptest.ResponseRecorder) []byte {
	t.Helper()
	b := latencyField.ReplaceAll(w.Body.Bytes(), []byte(`"${1}latency_ms":0`))
	if w.Header().Get("Content-Type") != api.ProblemContentType {
		return b
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, b)
	}
	if errs, ok := p["errors"].([]any); ok {
		slices.SortFunc(errs, func(a, b any) int {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			return bytes.Compare(ja, jb)
		})
	}
	out, _ := json.Marshal(p)
	return out
}

// problemGist is a problem's title, detail and number of errors.
func problemGist(t testing.TB, b []byte) []byte {
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, "%s|%s|%d", p.Title, p.Detail, len(p.Errors))
}

func TestFastPathMatchesHuma(t *testing.T) {
	tests := []struct {
		name, path, body string
		header           map[string]string
		opts             server.Options
		fast             bool // the fast path must serve it
	}{
		{name: "plain", path: "/predict", body: `{"text":"a good day"}`, fast: true},
		{name: "every field", path: "/predict", body: ` { "text" : "good" , "model_version":"spam-v1", "return_probabilities": true, "timeout_ms": 600000 }` + "\n", fast: true},
		{name: "false and zero", path: "/predict", body: `{"return_probabilities":false,"timeout_ms":0,"text":"bad"}`, fast: true},
		{name: "escapes", path: "/predict", body: `{"text":"q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00 good"}`, fast: true},
		{name: "escaped key", path: "/predict", body: `{"t\u0065xt":"good"}`, fast: true},
		{name: "lone surrogate", path: "/predict", body: `{"text":"\ud800 x"}`, fast: true},
		{name: "multibyte", path: "/predict", body: `{"text":"été ☀ good"}`, fast: true},
		{name: "html characters", path: "/predict", body: `{"text":"<b>&good</b>","model_version":"<x>"}`, fast: true},
		{name: "charset parameter", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, fast: true},
		{name: "no content type", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"Content-Type": ""}, fast: true},
		{name: "accept any", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"Accept": "*/*"}, fast: true},
		{name: "accept json", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"Accept": "application/json"}, fast: true},
		{name: "accept other", path: "/predict", body: `{"text":"good"}`, header: map[string]string{"Accept": "application/cbor"}, fast: true}, // negotiates JSON
		{name: "batch", path: "/batch-predict", body: `{"texts":["good","bad",""],"return_probabilities":true}`, fast: true},
		{name: "batch of 100", path: "/batch-predict", body: `{"texts":[` + strings.Repeat(`"x",`, 99) + `"good"]}`, fast: true},
		{name: "batch empty array", path: "/batch-predict", body: `{"texts":[ ]}`},
		{name: "batch of 101", path: "/batch-predict", body: `{"texts":[` + strings.Repeat(`"x",`, 100) + `"x"]}`},
		{name: "batch not array", path: "/batch-predict", body: `{"texts":"good"}`},
		{name: "batch null text", path: "/batch-predict", body: `{"texts":["good",null]}`},
		{name: "batch number text", path: "/batch-predict", body: `{"texts":["good",1]}`},
		{name: "batch trailing comma", path: "/batch-predict", body: `{"texts":["good",]}`},
		{name: "batch text key", path: "/batch-predict", body: `{"text":"good"}`},
		{name: "batch unknown model", path: "/batch-predict", body: `{"texts":["good"],"model_version":"v9"}`, fast: true},
		{name: "batch text too long", path: "/batch-predict", body: `{"texts":["ok","0123456789ab"]}`, opts: server.Options{MaxTextChars: 10}, fast: true},
		{name: "empty text", path: "/predict", body: `{"text":""}`},
		{name: "missing text", path: "/predict", body: `{"model_version":"spam-v1"}`},
		{name: "empty object", path: "/predict", body: `{}`},
		{name: "null text", path: "/predict", body: `{"text":null}`},
		{name: "number text", path: "/predict", body: `{"text":5}`},
		{name: "duplicate key", path: "/predict", body: `{"text":"good","text":"bad"}`},
		{name: "duplicate model", path: "/predict", body: `{"text":"good","model_version":"x","model_version":"spam-v1"}`},
		{name: "unknown key", path: "/predict", body: `{"text":"good","extra":1}`},
		{name: "explain", path: "/predict", body: `{"text":"good day","explain":true}`},
		{name: "explain false", path: "/predict", body: `{"text":"good","explain":false}`},
		{name: "batch explain", path: "/batch-predict", body: `{"texts":["good day","bad"],"explain":{"top_k":1}}`},
		{name: "case-folded key", path: "/predict", body: `{"Text":"good"}`},
		{name: "negative timeout", path: "/predict", body: `{"text":"good","timeout_ms":-1}`},
		{name: "timeout too large", path: "/predict", body: `{"text":"good","timeout_ms":600001}`},
		{name: "timeout huge", path: "/predict", body: `{"text":"good","timeout_ms":99999999999999999999999}`},
		{name: "fractional timeout", path: "/predict", body: `{"text":"good","timeout_ms":1.5}`},
		{name: "whole fractional timeout", path: "/predict", body: `{"text":"good","timeout_ms":100.0}`},
		{name: "exponent timeout", path: "/predict", body: `{"text":"good","timeout_ms":1e3}`},
		{name: "leading zero timeout", path: "/predict", body: `{"text":"good","timeout_ms":0100}`},
		{name: "string timeout", path: "/predict", body: `{"text":"good","timeout_ms":"100"}`},
		{name: "string bool", path: "/predict", body: `{"text":"good","return_probabilities":"yes"}`},
		{name: "bool suffix", path: "/predict", body: `{"text":"good","return_probabilities":truex}`},
		{name: "trailing data", path: "/predict", body: `{"text":"good"} {}`},
		{name: "truncated", path: "/predict", body: `{"text":"good"`},
		{name: "raw control character", path: "/predict", body: "{\"text\":\"a\tgood\"}"},
		{name: "bad escape", path: "/predict", body: `{"text":"a\qgood"}`},
		{name: "short unicode escape", path: "/predict", body: `{"text":"\u12"}`},
		{name: "array body", path: "/predict", body: `["good"]`},
		{name: "null body", path: "/predict", body: `null`},
		{name: "empty body", path: "/predict", body: ``},
		{name: "unknown model", path: "/predict", body: `{"text":"good","model_version":"nope-v9"}`, fast: true},
		{name: "text too long", path: "/predict", body: `{"text":"0123456789ab"}`, opts: server.Options{MaxTextChars: 10}, fast: true},
		{name: "timeout", path: "/predict", body: `{"text":"slow","timeout_ms":20}`, fast: true},
		{name: "model error", path: "/predict", body: `{"text":"boom"}`, fast: true},
		{name: "body over limit", path: "/predict", body: `{"text":"` + strings.Repeat("a", 100) + `"}`, opts: server.Options{MaxBodyBytes: 64}},
		{name: "invalid UTF-8", path: "/predict", body: "{\"text\":\"a\xffgood\"}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPathPair(t, tc.opts)
			p.compare(t, tc.path, tc.body, tc.header)
			if got := p.served[tc.path] == 1; got != tc.fast {
				t.Errorf("served by the fast path: %v, want %v", got, tc.fast)
			}
		})
	}
}

// FuzzFastPath sends arbitrary bodies to a server with the fast path and to
// one without: status, headers and body (latencies aside) must match.
func FuzzFastPath(f *testing.F) {
	for _, seed := range []string{
		`{"text":"good"}`, `{"texts":["a","b"]}`, `{"text":"x","model_version":"spam-v1","return_probabilities":true,"timeout_ms":50}`,
		`{"text":"\u00e9\n"}`, `{"texts":[""]}`, `{"text":""}`, `{"text":"x","timeout_ms":1e2}`, `{"text":"x","x":1}`,
		`{"texts":["a"],"texts":["b"]}`, `{"text":"a"}  `, `{"text":"a\u"}`, `{"text":"x","model_version":"v9"}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	p := newPathPair(f, server.Options{MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		if bytes.Contains(body, []byte("slow")) || bytes.Contains(body, []byte("boom")) {
			return // the fake model's triggers for 504 and 500
		}
		path := "/predict"
		if batch {
			path = "/batch-predict"
		}
		p.compare(t, path, string(body), map[string]string{"Content-Type": "application/json"})
	})
}
