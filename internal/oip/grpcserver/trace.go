package grpcserver

import (
	"context"
	"net"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/mlserve/mlserve/internal/tracing"
)

// The gRPC door's tracing (Options.Tracer): a server span per call, named
// by its full method ("inference.GRPCInferenceService/ModelInfer") with the
// RPC semantic conventions' attributes, continuing the caller's trace from
// the traceparent, tracestate and baggage metadata. The server's core adds
// the model's, the cache's and the engine's spans below it.

// mdCarrier reads and writes W3C propagation fields in gRPC metadata.
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// startSpan starts the server span of a call to fullMethod.
func startSpan(ctx context.Context, t trace.Tracer, fullMethod string) (context.Context, trace.Span) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = tracing.Propagator.Extract(ctx, mdCarrier(md))
	}
	method := strings.TrimPrefix(fullMethod, "/")
	attrs := []attribute.KeyValue{semconv.RPCSystemNameGRPC, semconv.RPCMethod(method)}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			attrs = append(attrs, semconv.ClientAddress(host))
		}
	}
	return t.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// endSpan ends a call's span with its gRPC status. As the conventions say
// of server spans, only the codes that are the server's fault mark it as an
// error; every error is recorded as an exception event.
func endSpan(span trace.Span, err error) {
	st, _ := status.FromError(err)
	span.SetAttributes(semconv.RPCResponseStatusCodeKey.String(codeName(st.Code())))
	if err != nil {
		span.RecordError(err)
		switch st.Code() {
		case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal,
			codes.Unavailable, codes.DataLoss:
			span.SetStatus(otelcodes.Error, st.Message())
		}
	}
	span.End()
}

// unaryTrace is the unary calls' tracing interceptor.
func unaryTrace(t trace.Tracer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, span := startSpan(ctx, t, info.FullMethod)
		// The response's header metadata carries the call's traceparent.
		md := metadata.MD{}
		tracing.Propagator.Inject(ctx, mdCarrier(md))
		_ = grpc.SetHeader(ctx, md)
		resp, err := handler(ctx, req)
		endSpan(span, err)
		return resp, err
	}
}

// streamTrace is the streaming calls' tracing interceptor (health watches,
// reflection): one span per stream.
func streamTrace(t trace.Tracer) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, span := startSpan(ss.Context(), t, info.FullMethod)
		err := handler(srv, tracedStream{ServerStream: ss, ctx: ctx})
		endSpan(span, err)
		return err
	}
}

type tracedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s tracedStream) Context() context.Context { return s.ctx }

// codeNames are the gRPC status codes as the RPC conventions spell them.
var codeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// codeName is c as the RPC conventions spell it ("NOT_FOUND").
func codeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return strconv.Itoa(int(c))
}
