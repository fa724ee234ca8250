package inference

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/tracing"
)

// The spans of the engine (Config.Tracer); the package documentation of
// tracing draws their place in a request's tree.
const (
	batchSpanName = "inference.batch"
	queueSpanName = "inference.queue"
)

// modelAttrs names q's model version on a span.
func (q *queue) modelAttrs(n, requests int) []attribute.KeyValue {
	name, version, _ := model.SplitID(q.id)
	return []attribute.KeyValue{tracing.ModelKey.String(name), tracing.VersionKey.String(version),
		tracing.BatchSizeKey.Int(n), tracing.RequestsKey.Int(requests)}
}

// startInlineSpan starts the model-call span of a request that skipped the
// queue: a batch of one request, its child and linked to it.
func (q *queue) startInlineSpan(r *request) (context.Context, trace.Span) {
	return q.e.cfg.Tracer.Start(r.ctx, batchSpanName,
		trace.WithLinks(trace.LinkFromContext(r.ctx)),
		trace.WithAttributes(q.modelAttrs(len(r.texts), 1)...))
}

// startBatchSpan records each sampled request's wait in the queue (a span
// from its arrival to start, under the request's span) and starts the
// batch's model-call span, linked to every request it serves. Its parent
// is the first sampled request (a parent-based sampler would drop it under
// an unsampled one); the model runs under ctx, the batch's context, with
// that span in it. No request sampled: no span (nil) and ctx unchanged.
func (q *queue) startBatchSpan(ctx context.Context, b *batch, start time.Time) (context.Context, trace.Span) {
	t := q.e.cfg.Tracer
	var links []trace.Link
	var parent trace.SpanContext
	var last *request
	for _, s := range b.segs {
		if s.r == last {
			continue
		}
		last = s.r
		sc := trace.SpanContextFromContext(s.r.ctx)
		if !sc.IsValid() {
			continue
		}
		links = append(links, trace.Link{SpanContext: sc})
		if !sc.IsSampled() {
			continue
		}
		if !parent.IsValid() {
			parent = sc
		}
		_, w := t.Start(s.r.ctx, queueSpanName, trace.WithTimestamp(s.r.enqueued),
			trace.WithAttributes(tracing.BatchSizeKey.Int(s.to-s.from)))
		w.End(trace.WithTimestamp(start))
	}
	if !parent.IsValid() {
		return ctx, nil
	}
	return t.Start(trace.ContextWithSpanContext(ctx, parent), batchSpanName, trace.WithTimestamp(start),
		trace.WithLinks(links...), trace.WithAttributes(q.modelAttrs(len(b.texts), len(links))...))
}

// endSpan ends a model-call span, failed when err is not nil.
func endSpan(span trace.Span, err error) {
	tracing.Fail(span, err)
	span.End()
}
