package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/config"
)

func memProvider(t *testing.T, c config.Tracing) (*Provider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	c.Enabled, c.Synchronous = true, true
	p, err := NewWithExporter(context.Background(), c, exp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, exp
}

// TestNewOff: tracing off builds nothing.
func TestNewOff(t *testing.T) {
	p, err := New(context.Background(), config.Tracing{})
	if p != nil || err != nil {
		t.Errorf("off: %v %v", p, err)
	}
}

// TestNewProtocols: both OTLP protocols build an exporter (from the config
// or the environment); anything else is refused by name.
func TestNewProtocols(t *testing.T) {
	for _, tc := range []struct {
		cfg, env string
		ok       bool
	}{
		{"grpc", "", true}, {"http/protobuf", "", true}, {"", "grpc", true}, {"", "", true},
		{"", "http/json", false}, {"thrift", "", false},
	} {
		t.Run(tc.cfg+"|"+tc.env, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.env)
			p, err := New(context.Background(), config.Tracing{Enabled: true, Protocol: tc.cfg, SampleRatio: 1,
				Endpoint: "http://127.0.0.1:1"})
			if tc.ok != (err == nil) {
				t.Fatalf("err %v", err)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("err %v is not ErrConfig", err)
			}
			if p != nil {
				_ = p.Shutdown(context.Background())
			}
		})
	}
}

// TestServiceName: the config's name, else OTEL_SERVICE_NAME, else mlserve.
func TestServiceName(t *testing.T) {
	for _, tc := range []struct{ cfg, env, want string }{
		{"a", "b", "a"}, {"", "b", "b"}, {"", "", "mlserve"},
	} {
		t.Setenv("OTEL_SERVICE_NAME", tc.env)
		p, exp := memProvider(t, config.Tracing{ServiceName: tc.cfg, SampleRatio: 1})
		_, s := p.Tracer().Start(context.Background(), "x")
		s.End()
		got := ""
		for _, a := range exp.GetSpans()[0].Resource.Attributes() {
			if a.Key == "service.name" {
				got = a.Value.AsString()
			}
		}
		if got != tc.want {
			t.Errorf("config %q env %q: service.name %q, want %q", tc.cfg, tc.env, got, tc.want)
		}
	}
}

// TestSampler: parent-based ratio: a root is sampled at the ratio, a child
// follows its remote parent whatever the ratio.
func TestSampler(t *testing.T) {
	p, exp := memProvider(t, config.Tracing{SampleRatio: 0.25})
	tr := p.Tracer()
	const n = 4000
	for range n {
		_, s := tr.Start(context.Background(), "root")
		s.End()
	}
	// Binomial(4000, 0.25): sd 27; 6 sd either side.
	if k := len(exp.GetSpans()); k < 840 || k > 1160 {
		t.Errorf("ratio 0.25 sampled %d of %d roots", k, n)
	}
	exp.Reset()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	for _, sampled := range []bool{true, false} {
		flags := trace.TraceFlags(0)
		if sampled {
			flags = trace.FlagsSampled
		}
		parent := trace.ContextWithRemoteSpanContext(context.Background(),
			trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true}))
		got := 0
		for range 200 {
			_, s := tr.Start(parent, "child")
			if s.SpanContext().IsSampled() {
				got++
			}
			s.End()
		}
		if (sampled && got != 200) || (!sampled && got != 0) {
			t.Errorf("parent sampled %v: %d of 200 children sampled", sampled, got)
		}
	}
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	p2, exp2 := memProvider(t, config.Tracing{SampleRatio: 1})
	_, s := p2.Tracer().Start(context.Background(), "x")
	s.End()
	if len(exp2.GetSpans()) != 0 {
		t.Error("OTEL_TRACES_SAMPLER=always_off did not win over sample_ratio")
	}
}

// TestChild: under a recording span Child starts a child from the same
// provider; under none it returns the context as it was, allocating
// nothing.
func TestChild(t *testing.T) {
	p, exp := memProvider(t, config.Tracing{SampleRatio: 1})
	ctx, parent := p.Tracer().Start(context.Background(), "parent")
	_, c := Child(ctx, "child")
	Fail(c, errors.New("bad"))
	c.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "child" || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans %v", spans)
	}
	if spans[0].Status.Code != codes.Error || len(spans[0].Events) != 1 {
		t.Errorf("failed child: %v %v", spans[0].Status, spans[0].Events)
	}
	bg := context.WithValue(context.Background(), ctxKey(99), 1)
	if got, s := Child(bg, "x"); got != bg || s.IsRecording() {
		t.Error("Child without a recording parent changed the context or recorded")
	}
	if n := testing.AllocsPerRun(100, func() {
		_, s := Child(bg, "x")
		Fail(s, nil)
		s.End()
	}); n != 0 {
		t.Errorf("Child off allocates %v times", n)
	}
}

// TestLogHandler: a record logged under a span carries its trace and span
// ids; without one it carries neither; derived loggers keep the wrapper.
func TestLogHandler(t *testing.T) {
	p, _ := memProvider(t, config.Tracing{SampleRatio: 1})
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx, span := p.Tracer().Start(context.Background(), "op")
	defer span.End()
	log.InfoContext(ctx, "traced")
	log.InfoContext(context.Background(), "untraced")
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	sc := span.SpanContext()
	if lines[0]["trace_id"] != sc.TraceID().String() || lines[0]["span_id"] != sc.SpanID().String() || lines[0]["component"] != "test" {
		t.Errorf("traced line %v", lines[0])
	}
	if _, ok := lines[1]["trace_id"]; ok {
		t.Errorf("untraced line %v", lines[1])
	}
}

// BenchmarkChildOff is what a model's Predict pays for its span with
// tracing off: Child under a context as deep as a request's (deadline,
// values, cancel), with no span in it. Compare with BenchmarkChildOn.
func BenchmarkChildOff(b *testing.B) {
	ctx := requestLikeContext(b, context.Background())
	b.ReportAllocs()
	for b.Loop() {
		_, s := Child(ctx, "sklearn.predict")
		Fail(s, nil)
		s.End()
	}
}

// BenchmarkChildOn is the same call under a sampled span, exported to
// nowhere: the cost of one model span with tracing on.
func BenchmarkChildOn(b *testing.B) {
	exp := tracetest.NewNoopExporter()
	p, err := NewWithExporter(context.Background(), config.Tracing{Enabled: true, SampleRatio: 1}, exp)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, span := p.Tracer().Start(requestLikeContext(b, context.Background()), "request")
	defer span.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := Child(ctx, "sklearn.predict")
		Fail(s, nil)
		s.End()
	}
}

type ctxKey int

// requestLikeContext stacks what a request's context holds by the time it
// reaches the model: server values, a deadline, cancels.
func requestLikeContext(b *testing.B, ctx context.Context) context.Context {
	for i := range 4 {
		ctx = context.WithValue(ctx, ctxKey(i), i)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	b.Cleanup(cancel)
	ctx, cancel2 := context.WithCancel(ctx)
	b.Cleanup(cancel2)
	return ctx
}
