package model

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTraceAdmin: an install under an admin request's span traces the
// load and the warm-up, and a default change the swap, as its children;
// the repository's own loads (no request) trace nothing.
func TestTraceAdmin(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	root := t.TempDir()
	putVersion(t, root, "sentiment", "v1", "label=one", "")
	r := newReg(t, root, newFakeLoader(), Options{DefaultModel: "sentiment", KeepLoaded: 2})
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("start-up load traced %d spans", n)
	}
	ctx, req := tp.Tracer("t").Start(context.Background(), "POST /models")
	if _, err := r.Install(ctx, InstallRequest{Name: "sentiment", Filename: "model.joblib", Artifact: strings.NewReader("label=two")}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDefault(ctx, "sentiment", "v1"); err != nil {
		t.Fatal(err)
	}
	req.End()
	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	load, warm, swap := spans["model.load"], spans["model.warmup"], spans["model.swap"]
	if load.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Errorf("model.load is not under the request: %v", exp.GetSpans())
	}
	if warm.Parent.SpanID() != load.SpanContext.SpanID() {
		t.Errorf("model.warmup is not under model.load")
	}
	if swap.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Errorf("model.swap is not under the request")
	}
	attrs := map[string]string{}
	for _, a := range load.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["mlserve.model"] != "sentiment" || attrs["mlserve.version"] != "v2" {
		t.Errorf("model.load attributes %v", attrs)
	}
}
