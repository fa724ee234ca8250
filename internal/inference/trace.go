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

// startBatchSpan records each request's wait in the queue (a span from its
// arrival to start, under the request's span) and starts the batch's
// model-call span under ctx (the first request's), linked to every request
// it serves.
func (q *queue) startBatchSpan(ctx context.Context, b *batch, start time.Time) (context.Context, trace.Span) {
	t := q.e.cfg.Tracer
	links := make([]trace.Link, 0, len(b.segs))
	var last *request
	for _, s := range b.segs {
		if s.r == last {
			continue
		}
		last = s.r
		links = append(links, trace.LinkFromContext(s.r.ctx))
		if trace.SpanContextFromContext(s.r.ctx).IsSampled() {
			_, w := t.Start(s.r.ctx, queueSpanName, trace.WithTimestamp(s.r.enqueued),
				trace.WithAttributes(tracing.BatchSizeKey.Int(s.to-s.from)))
			w.End(trace.WithTimestamp(start))
		}
	}
	return t.Start(ctx, batchSpanName, trace.WithTimestamp(start), trace.WithLinks(links...),
		trace.WithAttributes(q.modelAttrs(len(b.texts), len(links))...))
}

// endSpan ends a model-call span, failed when err is not nil.
func endSpan(span trace.Span, err error) {
	tracing.Fail(span, err)
	span.End()
}
