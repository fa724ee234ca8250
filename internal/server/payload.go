package server

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/payloadlog"
)

// logPayloads hands each sampled prediction of a request to the payload log
// (Options.Payloads), which queues it without waiting. Texts are the ones
// the client sent, before the model's cleaning.
func (s *Server) logPayloads(ctx context.Context, ri *reqInfo, id string, req classifyRequest, preds []model.Prediction, cached []bool, labels []string) {
	name, _, _ := model.SplitID(id)
	now := time.Now()
	var traceID, parent string
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		traceID = sc.TraceID().String()
		flags := "00"
		if sc.IsSampled() {
			flags = "01"
		}
		parent = "00-" + traceID + "-" + sc.SpanID().String() + "-" + flags
	}
	for i, p := range preds {
		if !s.opts.Payloads.Sample(name) {
			continue
		}
		evID := req.requestID
		if req.batch {
			evID += "/" + strconv.Itoa(i)
		}
		s.opts.Payloads.Log(payloadlog.Record{
			ID: evID, RequestID: req.requestID, Model: id, Text: req.texts[i],
			Label: p.Label, Confidence: p.Confidence, Labels: labels, Probabilities: p.Probabilities,
			Cached: cached[i], Latency: now.Sub(ri.start), TraceParent: parent, TraceID: traceID, Time: now,
		})
	}
}
