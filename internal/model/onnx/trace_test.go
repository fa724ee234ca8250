package onnx

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTraceSpans: under a traced request an ONNX prediction shows its
// tokenization and each session run as child spans; without one it
// traces nothing and answers the same.
func TestTraceSpans(t *testing.T) {
	m := loadFixture(t, "bag")
	texts := []string{"a short one", "and a much longer text than the first, to be grouped apart perhaps"}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	ctx, parent := tp.Tracer("t").Start(context.Background(), "inference.batch")
	traced, err := m.Predict(ctx, texts)
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := m.Predict(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if traced[i].Label != plain[i].Label || traced[i].Confidence != plain[i].Confidence {
			t.Errorf("text %d: traced %+v, plain %+v", i, traced[i], plain[i])
		}
	}
	counts := map[string]int{}
	for _, s := range exp.GetSpans() {
		counts[s.Name]++
		if s.Name != "inference.batch" && s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not under the model call", s.Name)
		}
	}
	if counts["onnx.tokenize"] != 1 || counts["onnx.run"] < 1 || len(exp.GetSpans()) != 2+counts["onnx.run"] {
		t.Errorf("spans %v, want one onnx.tokenize and an onnx.run per group (and nothing from the untraced call)", counts)
	}
}
