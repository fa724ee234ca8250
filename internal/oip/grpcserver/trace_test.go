package grpcserver

import (
	"context"
	"regexp"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/tracing"
)

// tracedDoor is the gRPC door over the tests' real server (newCore: registry,
// engine, the spam model), everything traced into an in-memory exporter.
func tracedDoor(t *testing.T) (pb.GRPCInferenceServiceClient, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tp.Tracer(tracing.Scope)
	return serveDoor(t, newCore(t, nil, tr), tr).client, exp
}

// TestCodeNames: the status codes' names are the conventions' spelling of
// grpc's own (codes.Code's String is CamelCase).
func TestCodeNames(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		want := strings.ToUpper(regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(c.String(), "${1}_${2}"))
		if c == codes.Canceled {
			want = "CANCELLED"
		}
		if got := codeName(c); got != want {
			t.Errorf("%d: %s, want %s", c, got, want)
		}
	}
	if got := codeName(codes.Code(42)); got != "42" {
		t.Errorf("unknown code: %s", got)
	}
}

// TestTraceGRPC: a ModelInfer call with traceparent metadata gets a server
// span in the caller's trace with the RPC conventions' attributes, the
// model call and the scikit-learn model's own span below it, and its
// traceparent in the response header; a failed call records its status.
func TestTraceGRPC(t *testing.T) {
	client, exp := tracedDoor(t)
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "traceparent", "00-"+traceID+"-"+spanID+"-01")
	var header metadata.MD
	_, err := client.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "spam",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(2, "win a free prize now", "lunch at noon?")}},
		grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	root, ok := spans["inference.GRPCInferenceService/ModelInfer"]
	if !ok {
		t.Fatalf("no server span: %v", exp.GetSpans())
	}
	if root.SpanKind != trace.SpanKindServer || root.SpanContext.TraceID().String() != traceID || root.Parent.SpanID().String() != spanID {
		t.Errorf("server span %v in trace %s under %s, want a server span in %s under %s",
			root.SpanKind, root.SpanContext.TraceID(), root.Parent.SpanID(), traceID, spanID)
	}
	attrs := map[string]any{}
	for _, a := range root.Attributes {
		attrs[string(a.Key)] = a.Value.AsInterface()
	}
	for k, want := range map[string]any{"rpc.system.name": "grpc", "rpc.method": "inference.GRPCInferenceService/ModelInfer",
		"rpc.response.status_code": "OK", "mlserve.model": "spam", "mlserve.version": "v1", "mlserve.batch_size": int64(2)} {
		if attrs[k] != want {
			t.Errorf("%s = %v, want %v", k, attrs[k], want)
		}
	}
	batch, ok := spans["inference.batch"]
	if !ok || batch.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Fatalf("model call span %v is not under the server span", batch.Parent.SpanID())
	}
	if m, ok := spans["sklearn.predict"]; !ok || m.Parent.SpanID() != batch.SpanContext.SpanID() {
		t.Errorf("no scikit-learn span under the model call: %v", exp.GetSpans())
	}
	if tp := header.Get("traceparent"); len(tp) != 1 || tp[0] != "00-"+traceID+"-"+root.SpanContext.SpanID().String()+"-01" {
		t.Errorf("response traceparent %v", tp)
	}

	exp.Reset()
	_, err = client.ModelInfer(ctxT(t), &pb.ModelInferRequest{ModelName: "nope",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1, "hi")}})
	if err == nil {
		t.Fatal("an unknown model answered")
	}
	var failed tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "inference.GRPCInferenceService/ModelInfer" {
			failed = s
		}
	}
	var code any
	for _, a := range failed.Attributes {
		if a.Key == "rpc.response.status_code" {
			code = a.Value.AsInterface()
		}
	}
	if code != "NOT_FOUND" || len(failed.Events) == 0 || failed.Events[0].Name != "exception" {
		t.Errorf("failed call: status code %v, events %v", code, failed.Events)
	}
}
