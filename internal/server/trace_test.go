package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/tracing"
)

// traceFixture is a server with the engine and a cache, traced into an
// in-memory exporter that receives each span as it ends.
type traceFixture struct {
	s   *server.Server
	exp *tracetest.InMemoryExporter
}

func newTraceFixture(t *testing.T, fast bool) *traceFixture {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(tracing.Sampler(1)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tp.Tracer(tracing.Scope)
	eng, err := inference.New(inference.Config{Logger: quietLogger(), Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	c, err := cache.New(cache.Config{MaxSize: 100, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, newFakeRegistry(), server.Options{Engine: eng, Cache: c, Tracer: tr})
	if !fast {
		server.DisableFastPath(s)
	}
	return &traceFixture{s: s, exp: exp}
}

// byName indexes the exported spans by name (the last of each name).
func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	m := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}

func attr(s tracetest.SpanStub, k attribute.Key) (attribute.Value, bool) {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func wantAttr(t *testing.T, s tracetest.SpanStub, k attribute.Key, want any) {
	t.Helper()
	v, ok := attr(s, k)
	if !ok {
		t.Errorf("span %s has no %s; attributes %v", s.Name, k, s.Attributes)
		return
	}
	if got := v.AsInterface(); got != want {
		t.Errorf("span %s: %s = %v (%T), want %v (%T)", s.Name, k, got, got, want, want)
	}
}

const parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
const parentSpan = "00f067aa0ba902b7"

// TestTraceSpanTree: each prediction door gives a server span continuing the
// caller's traceparent, with the HTTP conventions' and mlserve's attributes,
// the cache lookup and store, and the batch's model call below it; the
// response carries the server span's traceparent.
func TestTraceSpanTree(t *testing.T) {
	cases := []struct {
		name, path, body, route string
		fast                    bool
		texts                   int
	}{
		{"predict fast", "/predict", `{"text": "a good day", "model_version": "sentiment-v1"}`, "/predict", true, 1},
		{"predict huma", "/predict", `{"text": "a good day", "model_version": "sentiment-v1"}`, "/predict", false, 1},
		{"batch-predict", "/batch-predict", `{"texts": ["good", "bad", "fine"], "model_version": "sentiment-v1"}`, "/batch-predict", true, 3},
		{"oip rest", "/v2/models/sentiment/versions/1/infer",
			`{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["good", "bad"]}]}`, server.EndpointV2Infer, true, 2},
		{"kserve v1", "/v1/models/sentiment-v1:predict", `{"instances": ["good"]}`, server.EndpointV1Predict, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTraceFixture(t, tc.fast)
			w := do(t, f.s, call{method: "POST", path: tc.path, body: tc.body, header: map[string]string{
				"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01",
				"baggage":     "tenant=acme",
			}})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			spans := byName(f.exp.GetSpans())
			root, ok := spans["POST "+tc.route]
			if !ok {
				t.Fatalf("no server span POST %s; spans %v", tc.route, names(f.exp.GetSpans()))
			}
			if root.SpanKind != trace.SpanKindServer {
				t.Errorf("server span kind %v", root.SpanKind)
			}
			if got := root.SpanContext.TraceID().String(); got != parentTrace {
				t.Errorf("trace id %s, want the caller's %s", got, parentTrace)
			}
			if got := root.Parent.SpanID().String(); got != parentSpan || !root.Parent.IsRemote() {
				t.Errorf("parent %s (remote %v), want the caller's span %s", got, root.Parent.IsRemote(), parentSpan)
			}
			wantAttr(t, root, "http.request.method", "POST")
			wantAttr(t, root, "http.route", tc.route)
			wantAttr(t, root, "http.response.status_code", int64(200))
			wantAttr(t, root, tracing.ModelKey, "sentiment")
			wantAttr(t, root, tracing.VersionKey, "v1")
			wantAttr(t, root, tracing.BatchSizeKey, int64(tc.texts))
			wantAttr(t, root, tracing.CachedKey, false)
			tp := w.Header().Get("traceparent")
			if want := "00-" + parentTrace + "-" + root.SpanContext.SpanID().String() + "-01"; tp != want {
				t.Errorf("response traceparent %q, want %q", tp, want)
			}
			for _, name := range []string{"cache.lookup", "inference.batch", "cache.store"} {
				s, ok := spans[name]
				if !ok {
					t.Errorf("no %s span; spans %v", name, names(f.exp.GetSpans()))
					continue
				}
				if s.Parent.SpanID() != root.SpanContext.SpanID() || s.SpanContext.TraceID() != root.SpanContext.TraceID() {
					t.Errorf("%s is not the server span's child", name)
				}
			}
			b := spans["inference.batch"]
			wantAttr(t, b, tracing.ModelKey, "sentiment")
			wantAttr(t, b, tracing.BatchSizeKey, int64(tc.texts))
			if len(b.Links) != 1 || b.Links[0].SpanContext.SpanID() != root.SpanContext.SpanID() {
				t.Errorf("batch links %v, want the request's span", b.Links)
			}
		})
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// TestTraceCacheHit: a repeated text is answered by the cache: the lookup
// says so, and no model call is traced.
func TestTraceCacheHit(t *testing.T) {
	f := newTraceFixture(t, true)
	body := `{"text": "a good day", "model_version": "sentiment-v1"}`
	if w := do(t, f.s, call{method: "POST", path: "/predict", body: body}); w.Code != 200 {
		t.Fatal(w.Code, w.Body)
	}
	f.exp.Reset()
	if w := do(t, f.s, call{method: "POST", path: "/predict", body: body}); w.Code != 200 || !strings.Contains(w.Body.String(), `"cached":true`) {
		t.Fatal(w.Code, w.Body)
	}
	spans := byName(f.exp.GetSpans())
	if _, ok := spans["inference.batch"]; ok {
		t.Error("a cache hit traced a model call")
	}
	wantAttr(t, spans["cache.lookup"], tracing.CachedKey, true)
	wantAttr(t, spans["cache.lookup"], tracing.CacheHitsKey, int64(1))
	wantAttr(t, spans["POST /predict"], tracing.CachedKey, true)
	if root := spans["POST /predict"]; root.Parent.IsValid() {
		t.Errorf("a request without traceparent has parent %v", root.Parent)
	}
}

// TestTraceErrors: a model failure (500) marks the server span and the
// model call as errors with an exception event; an unknown model (404)
// records the exception but leaves the server span's status unset, as
// the conventions ask of a client's error.
func TestTraceErrors(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		spanStatus codes.Code
	}{
		{"model error", `{"text": "boom", "model_version": "sentiment-v1"}`, 500, codes.Error},
		{"unknown model", `{"text": "good", "model_version": "nope-v1"}`, 404, codes.Unset},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTraceFixture(t, true)
			w := do(t, f.s, call{method: "POST", path: "/predict", body: tc.body})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			spans := byName(f.exp.GetSpans())
			root := spans["POST /predict"]
			if root.Status.Code != tc.spanStatus {
				t.Errorf("server span status %v, want %v", root.Status, tc.spanStatus)
			}
			wantAttr(t, root, "http.response.status_code", int64(tc.status))
			if !hasException(root) {
				t.Errorf("server span has no exception event: %v", root.Events)
			}
			if tc.status == 500 {
				b := spans["inference.batch"]
				if b.Status.Code != codes.Error || !hasException(b) {
					t.Errorf("model call span %v %v, want an error with its exception", b.Status, b.Events)
				}
				wantAttr(t, root, "error.type", "500")
			}
		})
	}
}

func hasException(s tracetest.SpanStub) bool {
	for _, e := range s.Events {
		if e.Name == "exception" {
			return true
		}
	}
	return false
}

// TestTraceOffNoHeaders: with tracing off nothing traces and the response
// carries no traceparent, even when the request did.
func TestTraceOffNoHeaders(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	w := do(t, s, call{method: "POST", path: "/predict", body: `{"text": "good"}`,
		header: map[string]string{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01"}})
	if w.Code != 200 {
		t.Fatal(w.Code, w.Body)
	}
	if tp := w.Header().Get("traceparent"); tp != "" {
		t.Errorf("traceparent %q with tracing off", tp)
	}
}

// TestTraceSampledOut: a caller that did not sample its trace is followed
// (parent-based): nothing is exported, and the prediction is unchanged.
func TestTraceSampledOut(t *testing.T) {
	f := newTraceFixture(t, true)
	w := do(t, f.s, call{method: "POST", path: "/predict", body: `{"text": "good", "model_version": "sentiment-v1"}`,
		header: map[string]string{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-00"}})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"label":"positive"`) {
		t.Fatal(w.Code, w.Body)
	}
	if n := len(f.exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported for an unsampled trace: %v", n, names(f.exp.GetSpans()))
	}
	if tp := w.Header().Get("traceparent"); !strings.HasSuffix(tp, "-00") || !strings.Contains(tp, parentTrace) {
		t.Errorf("traceparent %q, want the caller's trace, unsampled", tp)
	}
}

var _ http.Handler = (*server.Server)(nil)
