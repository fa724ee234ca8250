package server

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/tracing"
)

// Tracing of the HTTP doors (Options.Tracer; nil is off and costs one nil
// check per step). Every request gets a server span named "METHOD route"
// with the HTTP semantic conventions' attributes, continuing the trace of
// an incoming traceparent (and its tracestate and baggage); the response
// carries the span's traceparent, so a client can find its trace. classify
// names the model on it and adds the cache's spans; the engine adds the
// queue's and the model call's.

// traced wraps next (the middleware) with the request's server span.
func (s *Server) traced(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		route := s.route(r)
		ctx, span := s.opts.Tracer.Start(ctx, "HTTP", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		recording := span.IsRecording()
		if recording {
			// Named and described only when sampled: an unsampled request
			// pays for neither.
			if route != "other" {
				span.SetName(r.Method + " " + route)
			} else {
				span.SetName(r.Method)
			}
			span.SetAttributes(requestAttrs(r, route)...)
		}
		tracing.Propagator.Inject(ctx, propagation.HeaderCarrier(w.Header()))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		if !recording {
			return
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			// Server spans: a 4xx is the client's error, not the span's.
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// requestAttrs are a request's attributes by the HTTP semantic
// conventions; route is the low-cardinality route ("other": none).
func requestAttrs(r *http.Request, route string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)), semconv.NetworkProtocolVersion(strconv.Itoa(r.ProtoMajor)+"."+strconv.Itoa(r.ProtoMinor)))
	if route != "other" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(r.Host))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddress(host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return attrs
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// traceModel names the version that answers on the request's span.
func (s *Server) traceModel(ctx context.Context, id string, texts int, rid string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	name, version, _ := model.SplitID(id)
	span.SetAttributes(tracing.ModelKey.String(name), tracing.VersionKey.String(version),
		tracing.BatchSizeKey.Int(texts), tracing.RequestIDKey.String(rid))
}

// traceFailure records a prediction's error on the request's span: an
// exception event always, the Error status when it is the server's fault
// (5xx), as the semantic conventions ask of server spans.
func (s *Server) traceFailure(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.RecordError(err)
	if code := StatusOf(err); code >= 500 {
		span.SetStatus(codes.Error, err.Error())
	}
}

// startCacheSpan starts a cache span (lookup or store) when tracing is on.
func (s *Server) startCacheSpan(ctx context.Context, name string, n int) (context.Context, trace.Span) {
	return s.opts.Tracer.Start(ctx, name, trace.WithAttributes(tracing.BatchSizeKey.Int(n)))
}

// endCacheLookup ends the lookup span with its hits, and tells the request
// span whether the cache answered it all.
func endCacheLookup(ctx context.Context, span trace.Span, hits, n int) {
	all := tracing.CachedKey.Bool(hits == n)
	span.SetAttributes(all, tracing.CacheHitsKey.Int(hits))
	span.End()
	trace.SpanFromContext(ctx).SetAttributes(all, tracing.CacheHitsKey.Int(hits))
}
