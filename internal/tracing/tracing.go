package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/config"
)

// Scope is the instrumentation scope of mlserve's spans.
const Scope = "github.com/mlserve/mlserve"

// Attribute keys of mlserve's own spans, beside the semantic conventions'.
const (
	// ModelKey is the model name ("spam").
	ModelKey = attribute.Key("mlserve.model")
	// VersionKey is the version label ("v1").
	VersionKey = attribute.Key("mlserve.version")
	// BatchSizeKey is the number of texts in a model call (or a request).
	BatchSizeKey = attribute.Key("mlserve.batch_size")
	// CachedKey says every text of the request was answered from the cache.
	CachedKey = attribute.Key("mlserve.cached")
	// CacheHitsKey is how many of the request's texts the cache answered.
	CacheHitsKey = attribute.Key("mlserve.cache_hits")
	// RequestsKey is how many requests a batch served.
	RequestsKey = attribute.Key("mlserve.requests")
	// RequestIDKey is the request id (X-Request-ID).
	RequestIDKey = attribute.Key("mlserve.request_id")
)

// Propagator is the W3C trace context and baggage propagator that every
// door (HTTP, gRPC) reads incoming context with and writes outgoing context
// with. It is stateless, so one value serves all.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Provider is an enabled tracing pipeline: a tracer provider exporting over
// OTLP. Shutdown flushes what is buffered.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// ErrConfig: the tracing configuration or the OTEL_* environment names
// something the exporter cannot use (an unknown protocol).
var ErrConfig = errors.New("tracing: invalid configuration")

// New builds the pipeline of c, or returns nil, nil when c.Enabled is false.
// Unset fields defer to the standard environment variables: endpoint to
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, protocol to
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL (default http/protobuf), service name
// to OTEL_SERVICE_NAME (default "mlserve"); the sampler is
// parent-based(trace-id ratio c.SampleRatio) unless OTEL_TRACES_SAMPLER is
// set, which then wins. The exporter honours every other OTEL_EXPORTER_OTLP_*
// variable (headers, timeout, compression, certificates) itself.
func New(ctx context.Context, c config.Tracing, opts ...sdktrace.TracerProviderOption) (*Provider, error) {
	if !c.Enabled {
		return nil, nil
	}
	exp, err := newExporter(ctx, c)
	if err != nil {
		return nil, err
	}
	return NewWithExporter(ctx, c, exp, opts...)
}

// NewWithExporter builds the pipeline of c around exp (tests pass the SDK's
// in-memory exporter), batching spans before export unless c.Synchronous.
func NewWithExporter(ctx context.Context, c config.Tracing, exp sdktrace.SpanExporter, opts ...sdktrace.TracerProviderOption) (*Provider, error) {
	name := c.ServiceName
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "mlserve"
	}
	// The SDK's attributes, then OTEL_RESOURCE_ATTRIBUTES, then the
	// service name as chosen above (each later one wins a shared key).
	res := resource.Default()
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	if merged, err := resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(name))); err == nil {
		res = merged
	}
	base := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if c.Synchronous {
		base = append(base, sdktrace.WithSyncer(exp))
	} else {
		base = append(base, sdktrace.WithBatcher(exp))
	}
	if os.Getenv("OTEL_TRACES_SAMPLER") == "" {
		base = append(base, sdktrace.WithSampler(Sampler(c.SampleRatio)))
	}
	return &Provider{tp: sdktrace.NewTracerProvider(append(base, opts...)...)}, nil
}

// Sampler is the parent-based trace-id ratio sampler: a request whose
// caller sampled it (or not) follows its caller; a root is sampled with
// probability ratio.
func Sampler(ratio float64) sdktrace.Sampler {
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
}

// newExporter picks the OTLP exporter of c's protocol (or the environment's).
func newExporter(ctx context.Context, c config.Tracing) (sdktrace.SpanExporter, error) {
	proto := c.Protocol
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if proto == "" {
			proto = os.Getenv(k)
		}
	}
	if proto == "" {
		proto = "http/protobuf"
	}
	switch strings.ToLower(proto) {
	case "grpc":
		var o []otlptracegrpc.Option
		if c.Endpoint != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(c.Endpoint))
		}
		return otlptracegrpc.New(ctx, o...)
	case "http/protobuf":
		var o []otlptracehttp.Option
		if c.Endpoint != "" {
			o = append(o, otlptracehttp.WithEndpointURL(c.Endpoint))
		}
		return otlptracehttp.New(ctx, o...)
	}
	return nil, fmt.Errorf("%w: OTLP protocol %q (grpc or http/protobuf)", ErrConfig, proto)
}

// Tracer returns the tracer mlserve's spans are started with.
func (p *Provider) Tracer() trace.Tracer { return p.tp.Tracer(Scope) }

// TracerProvider returns the underlying provider.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Shutdown exports what is buffered and stops the exporter, within ctx.
func (p *Provider) Shutdown(ctx context.Context) error { return p.tp.Shutdown(ctx) }

// Child starts a span named name under the span in ctx when that span is
// recording, from the same provider; otherwise it returns ctx and the
// (non-recording) span in it, allocating nothing. Code with only a context
// in hand (a model's Predict) traces its steps with it.
func Child(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, opts...)
}

// Fail marks span as failed with err: status Error and an exception event.
func Fail(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// LogHandler wraps h so that a record logged with a context holding a valid
// span carries trace_id and span_id.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

// Handle adds the span's ids, then passes the record on.
func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}

// WithGroup keeps the wrapper around the derived handler.
func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
