package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/app"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

func newServer(t *testing.T, reg server.Registry, opts server.Options) *server.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := server.New(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Wired as the serve command wires them: the engine, cache and
	// monitor follow the registry's events.
	if sub, ok := reg.(interface{ subscribe(...model.Subscriber) }); ok {
		eng, _ := opts.Engine.(app.Forgetter)
		sub.subscribe(app.Subscribers(eng, opts.Cache, opts.Monitor, opts.Logger)...)
	}
	return s
}

type call struct {
	method, path, body string
	header             map[string]string
	remote             string
}

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	if c.remote != "" {
		req.RemoteAddr = c.remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) api.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != api.ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q; body %s", ct, api.ProblemContentType, w.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, w.Body)
	}
	if _, ok := raw["errors"]; !ok {
		t.Fatalf("problem has no errors list: %s", w.Body)
	}
	var p api.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != w.Code {
		t.Fatalf("problem status %d, response %d", p.Status, w.Code)
	}
	return p
}

func TestPredict(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	tests := []struct {
		name, body, wantLabel, wantModel string
		requestID                        string
		wantProbs                        bool
	}{
		{name: "default model", body: `{"text":"a good day"}`, wantLabel: "positive", wantModel: "sentiment-v2"},
		{name: "full id", body: `{"text":"bad","model_version":"sentiment-v1"}`, wantLabel: "negative", wantModel: "sentiment-v1"},
		{name: "bare name", body: `{"text":"good","model_version":"spam"}`, wantLabel: "positive", wantModel: "spam-v1"},
		{name: "bare version", body: `{"text":"good","model_version":"v1"}`, wantLabel: "positive", wantModel: "sentiment-v1"},
		{name: "probabilities and request id", body: `{"text":"good","return_probabilities":true}`, wantLabel: "positive", wantModel: "sentiment-v2", requestID: "abc-123", wantProbs: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := call{method: "POST", path: "/predict", body: tc.body}
			if tc.requestID != "" {
				c.header = map[string]string{"X-Request-ID": tc.requestID}
			}
			w := do(t, s, c)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var raw map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			// The seed's shape: these keys, with numbers where the seed has numbers.
			for _, k := range []string{"label", "confidence", "latency_ms", "model_version", "request_id", "cached"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("response lacks %q: %s", k, w.Body)
				}
			}
			if _, ok := raw["$schema"]; ok {
				t.Errorf("response carries $schema: %s", w.Body)
			}
			if _, ok := raw["latency_ms"].(float64); !ok {
				t.Errorf("latency_ms is not a number: %s", w.Body)
			}
			var r api.PredictResponse
			_ = json.Unmarshal(w.Body.Bytes(), &r)
			if r.Label != tc.wantLabel || r.ModelVersion != tc.wantModel {
				t.Errorf("got %s from %s, want %s from %s", r.Label, r.ModelVersion, tc.wantLabel, tc.wantModel)
			}
			if r.LatencyMS < 0 || r.Confidence <= 0.5 {
				t.Errorf("latency %v confidence %v", r.LatencyMS, r.Confidence)
			}
			if r.RequestID == "" || (tc.requestID != "" && r.RequestID != tc.requestID) || w.Header().Get("X-Request-ID") != r.RequestID {
				t.Errorf("request id %q, header %q, want %q", r.RequestID, w.Header().Get("X-Request-ID"), tc.requestID)
			}
			if tc.wantProbs != (r.Probabilities != nil) {
				t.Errorf("probabilities %v, want present=%v", r.Probabilities, tc.wantProbs)
			}
			if tc.wantProbs && (r.Probabilities["positive"] != 0.9 || len(r.Probabilities) != 2) {
				t.Errorf("probabilities %v", r.Probabilities)
			}
		})
	}
}

func TestBatchPredict(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	w := do(t, s, call{method: "POST", path: "/batch-predict", body: `{"texts":["good","bad","good too"],"model_version":"spam-v1","return_probabilities":true}`})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var r api.BatchPredictResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range r.Predictions {
		labels = append(labels, p.Label)
		if len(p.Probabilities) != 2 {
			t.Errorf("probabilities %v", p.Probabilities)
		}
	}
	if !slices.Equal(labels, []string{"positive", "negative", "positive"}) || r.ModelVersion != "spam-v1" || r.RequestID == "" {
		t.Errorf("got %+v", r)
	}
	if !bytes.Contains(w.Body.Bytes(), []byte(`"total_latency_ms":`)) {
		t.Errorf("no total_latency_ms: %s", w.Body)
	}
}

func TestErrors(t *testing.T) {
	notReady := newFakeRegistry()
	notReady.ready = false
	hundredOne := `{"texts":[` + strings.Repeat(`"x",`, 100) + `"x"]}`
	tests := []struct {
		name     string
		reg      *fakeRegistry
		opts     server.Options
		c        call
		want     int
		location string // an errors[].location that must be present
	}{
		{name: "malformed JSON", c: call{method: "POST", path: "/predict", body: `{"text": "abc"`}, want: 400},
		{name: "missing text", c: call{method: "POST", path: "/predict", body: `{}`}, want: 422, location: "body.text"},
		{name: "wrong type", c: call{method: "POST", path: "/predict", body: `{"text": 5}`}, want: 422, location: "body.text"},
		{name: "unknown field type in batch", c: call{method: "POST", path: "/batch-predict", body: `{"texts": "abc"}`}, want: 422, location: "body.texts"},
		{name: "empty batch", c: call{method: "POST", path: "/batch-predict", body: `{"texts": []}`}, want: 422, location: "body.texts"},
		{name: "101 texts", c: call{method: "POST", path: "/batch-predict", body: hundredOne}, want: 422, location: "body.texts"},
		{name: "invalid UTF-8", c: call{method: "POST", path: "/predict", body: "{\"text\": \"a\xff\xfeb\"}"}, want: 422, location: "body"},
		{name: "text too long", opts: server.Options{MaxTextChars: 10}, c: call{method: "POST", path: "/predict", body: `{"text": "0123456789ab"}`}, want: 422, location: "body.text"},
		{name: "multibyte text within limit", opts: server.Options{MaxTextChars: 4}, c: call{method: "POST", path: "/predict", body: `{"text": "ééé"}`, header: map[string]string{"X-Request-ID": "ok"}}, want: 0},
		{name: "batch text too long", opts: server.Options{MaxTextChars: 10}, c: call{method: "POST", path: "/batch-predict", body: `{"texts": ["ok", "0123456789ab"]}`}, want: 422, location: "body.texts[1]"},
		{name: "body over limit", opts: server.Options{MaxBodyBytes: 64}, c: call{method: "POST", path: "/predict", body: `{"text": "` + strings.Repeat("a", 100) + `"}`}, want: 413},
		{name: "unknown model", c: call{method: "POST", path: "/predict", body: `{"text": "x", "model_version": "nope-v9"}`}, want: 404, location: "body.model_version"},
		{name: "unknown model in batch", c: call{method: "POST", path: "/batch-predict", body: `{"texts": ["x"], "model_version": "v9"}`}, want: 404, location: "body.model_version"},
		{name: "timeout", c: call{method: "POST", path: "/predict", body: `{"text": "slow", "timeout_ms": 20}`}, want: 504},
		{name: "server timeout", opts: server.Options{RequestTimeout: 20e6}, c: call{method: "POST", path: "/predict", body: `{"text": "slow"}`}, want: 504},
		{name: "model error", c: call{method: "POST", path: "/predict", body: `{"text": "boom"}`}, want: 500},
		{name: "predict not ready", reg: notReady, c: call{method: "POST", path: "/predict", body: `{"text": "x"}`}, want: 503},
		{name: "ready not ready", reg: notReady, c: call{method: "GET", path: "/health/ready"}, want: 503},
		{name: "admin without token", opts: server.Options{AdminToken: "s3cret"}, c: call{method: "GET", path: "/models"}, want: 401},
		{name: "admin wrong token", opts: server.Options{AdminToken: "s3cret"}, c: call{method: "GET", path: "/models", header: map[string]string{"Authorization": "Bearer nope"}}, want: 403},
		{name: "admin remote without token config", c: call{method: "DELETE", path: "/models/spam-v1", remote: "203.0.113.9:5000"}, want: 403},
		{name: "get unknown model", c: call{method: "GET", path: "/models/nope-v1"}, want: 404, location: "path.id"},
		{name: "unload unknown model", c: call{method: "DELETE", path: "/models/nope-v1"}, want: 404, location: "path.id"},
		{name: "set default unknown version", c: call{method: "PUT", path: "/models/sentiment/default", body: `{"version": "v7"}`}, want: 404, location: "body.version"},
		{name: "set default missing version", c: call{method: "PUT", path: "/models/sentiment/default", body: `{}`}, want: 422, location: "body.version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := tc.reg
			if reg == nil {
				reg = newFakeRegistry()
			}
			s := newServer(t, reg, tc.opts)
			w := do(t, s, tc.c)
			if tc.want == 0 {
				if w.Code != 200 {
					t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			p := problemOf(t, w)
			if p.Title == "" || (p.Detail == "" && len(p.Errors) == 0) {
				t.Errorf("problem says nothing: %s", w.Body)
			}
			// A missing property is reported on its parent with the name in the message.
			parent, field, _ := strings.Cut(tc.location, ".")
			if tc.location != "" && !slices.ContainsFunc(p.Errors, func(e api.ErrorDetail) bool {
				return e.Location == tc.location || (e.Location == parent && strings.Contains(e.Message, "property "+field+" "))
			}) {
				t.Errorf("no error at %q: %s", tc.location, w.Body)
			}
			if tc.want == 500 && strings.Contains(w.Body.String(), "exploded") {
				t.Errorf("internal error leaks its cause: %s", w.Body)
			}
			reg.mu.Lock()
			defer reg.mu.Unlock()
			if reg.leases != 0 {
				t.Errorf("%d leases not released", reg.leases)
			}
		})
	}
}

func TestAdmin(t *testing.T) {
	reg := newFakeRegistry()
	s := newServer(t, reg, server.Options{AdminToken: "s3cret"})
	auth := map[string]string{"Authorization": "Bearer s3cret"}

	// A remote client with the right token is let in.
	w := do(t, s, call{method: "GET", path: "/models", header: auth, remote: "203.0.113.9:5000"})
	if w.Code != 200 {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	var l api.ModelList
	_ = json.Unmarshal(w.Body.Bytes(), &l)
	if len(l.Models) != 3 || l.DefaultModel != "sentiment-v2" {
		t.Errorf("list %+v", l)
	}

	// Requests show up in the per-model counters.
	do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good"}`})
	w = do(t, s, call{method: "GET", path: "/models/sentiment-v2", header: auth})
	var m api.ModelInfo
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	if w.Code != 200 || m.ID != "sentiment-v2" || !m.Default || m.Requests != 1 {
		t.Errorf("get: %d %s", w.Code, w.Body)
	}

	// Upload: artifact, manifest and fields reach the registry.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("name", "sentiment")
	_ = mw.WriteField("version", "v3")
	_ = mw.WriteField("make_default", "true")
	fw, _ := mw.CreateFormFile("file", "model.joblib")
	_, _ = fw.Write([]byte("artifact bytes"))
	fw, _ = mw.CreateFormFile("manifest", "model.yaml")
	_, _ = fw.Write([]byte("framework: sklearn\n"))
	_ = mw.Close()
	up := call{method: "POST", path: "/models", body: body.String(), header: map[string]string{"Authorization": "Bearer s3cret", "Content-Type": mw.FormDataContentType()}}
	w = do(t, s, up)
	if w.Code != 201 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	want := uploaded{"sentiment", "v3", "model.joblib", "artifact bytes", "framework: sklearn\n", true}
	if len(reg.uploads) != 1 || reg.uploads[0] != want {
		t.Errorf("uploads %+v, want %+v", reg.uploads, want)
	}
	w = do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good"}`})
	if !strings.Contains(w.Body.String(), `"model_version":"sentiment-v3"`) {
		t.Errorf("after upload with make_default: %s", w.Body)
	}
	// The same upload again conflicts.
	if w = do(t, s, up); w.Code != 409 {
		t.Errorf("second upload: %d %s", w.Code, w.Body)
	}

	// Set default back to v1, then unload v3.
	w = do(t, s, call{method: "PUT", path: "/models/sentiment/default", body: `{"version":"v1"}`, header: auth})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"id":"sentiment-v1"`) {
		t.Errorf("set default: %d %s", w.Code, w.Body)
	}
	if w = do(t, s, call{method: "DELETE", path: "/models/sentiment-v3", header: auth}); w.Code != 204 {
		t.Errorf("unload: %d %s", w.Code, w.Body)
	}
	if _, ok := reg.models["sentiment-v3"]; ok {
		t.Error("sentiment-v3 still loaded")
	}
}

func TestUploadErrors(t *testing.T) {
	form := func(name, content string) (string, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		if name != "" {
			_ = mw.WriteField("name", name)
		}
		_ = mw.WriteField("version", "v5")
		fw, _ := mw.CreateFormFile("file", "model.pkl")
		_, _ = fw.Write([]byte(content))
		_ = mw.Close()
		return body.String(), mw.FormDataContentType()
	}
	tests := []struct {
		name, field, content string
		opts                 server.Options
		want                 int
	}{
		{name: "ok", field: "spam", content: "bytes", want: 201},
		{name: "no name", field: "", content: "bytes", want: 422},
		{name: "invalid artifact", field: "spam", content: "garbage", want: 422},
		{name: "over limit", field: "spam", content: strings.Repeat("x", 4096), opts: server.Options{MaxUploadBytes: 1024}, want: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, newFakeRegistry(), tc.opts)
			b, ct := form(tc.field, tc.content)
			w := do(t, s, call{method: "POST", path: "/models", body: b, header: map[string]string{"Content-Type": ct}})
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want >= 400 {
				problemOf(t, w)
			}
		})
	}
}

func TestHealthAndStats(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	for _, p := range []string{"/health/live", "/health/ready"} {
		if w := do(t, s, call{method: "GET", path: p}); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	for range 3 {
		do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good","model_version":"spam-v1"}`})
	}
	do(t, s, call{method: "POST", path: "/predict", body: `{"text":"boom","model_version":"spam-v1"}`})
	w := do(t, s, call{method: "GET", path: "/stats"})
	var st api.Stats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	spam := st.Models["spam-v1"]
	if spam.Requests != 4 || spam.Errors != 1 || spam.Texts != 4 || spam.LatencyP99MS < spam.LatencyP50MS || spam.LatencyP50MS <= 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestOpenAPIAndDocs(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	w := do(t, s, call{method: "GET", path: "/openapi.json"})
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	routes := map[string][]string{
		"/predict": {"post"}, "/batch-predict": {"post"}, "/models": {"get", "post"},
		"/models/{id}": {"get", "delete"}, "/models/{name}/default": {"put"},
		"/health/live": {"get"}, "/health/ready": {"get"}, "/stats": {"get"},
	}
	for p, methods := range routes {
		for _, m := range methods {
			if _, ok := doc.Paths[p][m]; !ok {
				t.Errorf("openapi lacks %s %s", m, p)
			}
		}
	}

	w = do(t, s, call{method: "GET", path: "/docs"})
	page := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(page, "SwaggerUIBundle") {
		t.Fatalf("docs: %d %s", w.Code, page)
	}
	if u := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(page); u != "" {
		t.Errorf("docs page references external %q", u)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("docs page loads no assets: %s", page)
	}
	for _, r := range refs {
		a := do(t, s, call{method: "GET", path: r[1]})
		if a.Code != 200 || a.Body.Len() < 10000 {
			t.Errorf("asset %s: %d, %d bytes", r[1], a.Code, a.Body.Len())
		}
	}
}

// queueFullEngine refuses every request as an overloaded engine does.
type queueFullEngine struct{ calls int }

func (e *queueFullEngine) Predict(_ context.Context, id string, _ model.Model, _ []string) ([]model.Prediction, error) {
	e.calls++
	return nil, fmt.Errorf("predict: %w", &inference.QueueFullError{Model: id, RetryAfter: 1500 * time.Millisecond})
}

func TestOverloaded(t *testing.T) {
	eng := &queueFullEngine{}
	s := newServer(t, newFakeRegistry(), server.Options{Engine: eng})
	w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good"}`})
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" || eng.calls != 1 {
		t.Fatalf("%d Retry-After %q calls %d: %s", w.Code, w.Header().Get("Retry-After"), eng.calls, w.Body)
	}
	if p := problemOf(t, w); !strings.Contains(p.Detail, `queue full for model "sentiment-v2"`) {
		t.Errorf("detail %q", p.Detail)
	}
}

// TestWithEngine runs requests through the real inference engine.
func TestWithEngine(t *testing.T) {
	eng, err := inference.New(inference.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	s := newServer(t, newFakeRegistry(), server.Options{Engine: eng})
	tests := []struct {
		body string
		want int
	}{
		{`{"text":"good"}`, 200},
		{`{"text":"slow","timeout_ms":20}`, 504},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			w := do(t, s, call{method: "POST", path: "/predict", body: tc.body})
			if w.Code != tc.want {
				t.Fatalf("%d: %s", w.Code, w.Body)
			}
			if tc.want == 200 && !strings.Contains(w.Body.String(), `"label":"positive"`) {
				t.Errorf("%s", w.Body)
			}
		})
	}
}
