package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

type predictInput struct {
	RequestID string `header:"X-Request-ID" doc:"Request id to echo; generated when absent."`
	Body      api.PredictRequest
}

type predictOutput struct {
	RequestID string `header:"X-Request-ID"`
	Body      *api.PredictResponse
}

type batchInput struct {
	RequestID string `header:"X-Request-ID" doc:"Request id to echo; generated when absent."`
	Body      api.BatchPredictRequest
}

type batchOutput struct {
	RequestID string `header:"X-Request-ID"`
	Body      *api.BatchPredictResponse
}

func (s *Server) predict(ctx context.Context, in *predictInput) (*predictOutput, error) {
	return s.doPredict(ctx, infoFrom(ctx), in)
}

func (s *Server) batchPredict(ctx context.Context, in *batchInput) (*batchOutput, error) {
	return s.doBatchPredict(ctx, infoFrom(ctx), in)
}

// doPredict answers a /predict for huma and for the fast path; ri is the
// middleware's record of the request.
func (s *Server) doPredict(ctx context.Context, ri *reqInfo, in *predictInput) (*predictOutput, error) {
	if n := s.textLen(in.Body.Text); n > s.opts.MaxTextChars {
		return nil, s.textTooLong("body.text", n)
	}
	rid := s.requestID(in.RequestID)
	res, err := s.classify(ctx, ri, classifyRequest{ref: in.Body.ModelVersion, timeoutMS: in.Body.TimeoutMS,
		texts: []string{in.Body.Text}, requestID: rid, explain: in.Body.Explain})
	if err != nil {
		return nil, err
	}
	p := res.preds[0]
	resp := &api.PredictResponse{
		Label:        p.Label,
		Confidence:   p.Confidence,
		ModelVersion: res.id,
		RequestID:    rid,
		Cached:       res.cached[0],
	}
	if in.Body.ReturnProbabilities {
		resp.Probabilities = probabilities(res.labels, p.Probabilities)
	}
	resp.Labels = res.over(p)
	if res.explanations != nil {
		resp.Explanation = res.explanations[0]
	}
	if res.ood != nil {
		resp.OOD = &res.ood[0]
	}
	resp.LatencyMS = sinceMS(ri.start)
	return &predictOutput{RequestID: rid, Body: resp}, nil
}

// doBatchPredict answers a /batch-predict for huma and for the fast path.
func (s *Server) doBatchPredict(ctx context.Context, ri *reqInfo, in *batchInput) (*batchOutput, error) {
	for i, t := range in.Body.Texts {
		if n := s.textLen(t); n > s.opts.MaxTextChars {
			return nil, s.textTooLong(fmt.Sprintf("body.texts[%d]", i), n)
		}
	}
	rid := s.requestID(in.RequestID)
	res, err := s.classify(ctx, ri, classifyRequest{ref: in.Body.ModelVersion, timeoutMS: in.Body.TimeoutMS,
		texts: in.Body.Texts, requestID: rid, batch: true, explain: in.Body.Explain})
	if err != nil {
		return nil, err
	}
	resp := &api.BatchPredictResponse{
		Predictions:  make([]api.BatchPrediction, len(res.preds)),
		ModelVersion: res.id,
		RequestID:    rid,
	}
	for i, p := range res.preds {
		resp.Predictions[i] = api.BatchPrediction{Label: p.Label, Confidence: p.Confidence, Cached: res.cached[i]}
		if in.Body.ReturnProbabilities {
			resp.Predictions[i].Probabilities = probabilities(res.labels, p.Probabilities)
		}
		resp.Predictions[i].Labels = res.over(p)
		if res.explanations != nil {
			resp.Predictions[i].Explanation = res.explanations[i]
		}
		if res.ood != nil {
			resp.Predictions[i].OOD = &res.ood[i]
		}
	}
	resp.TotalLatencyMS = sinceMS(ri.start)
	return &batchOutput{RequestID: rid, Body: resp}, nil
}

// classifyRequest is what classify needs of one /predict or /batch-predict.
type classifyRequest struct {
	ref       string   // model_version as sent: id, bare name, bare version or ""
	timeoutMS int      // timeout_ms as sent; 0 is the server's request timeout
	texts     []string // the texts as sent, before the model's cleaning
	requestID string   // the id predictions await feedback under
	batch     bool     // feedback ids are requestID/index
	explain   api.Explain
}

// classifyResult is classify's answer.
type classifyResult struct {
	id     string             // the model version that answered
	preds  []model.Prediction // one per text, in order
	cached []bool             // cached[i]: text i was answered from the cache
	labels []string           // the model's labels, for probabilities
	// multi says the model is multi-label: over lists the labels of a
	// prediction that are over threshold.
	multi     bool
	threshold float64
	// explanations has one per text when explain was asked for, else nil.
	explanations []*api.Explanation
	// ood has one verdict per text when the version has a reference.
	ood []api.OOD
}

// over returns the labels of p over the model's threshold for a
// multi-label model; nil for a single-label one.
func (r classifyResult) over(p model.Prediction) []string {
	if !r.multi {
		return nil
	}
	return model.LabelsOver(r.labels, p, r.threshold)
}

// classify resolves the model, answers what it can from the cache, runs the
// rest under the request's deadline and books the outcome.
func (s *Server) classify(ctx context.Context, ri *reqInfo, req classifyRequest) (classifyResult, error) {
	ctx, cancel := s.deadline(ctx, req.timeoutMS)
	defer cancel()
	texts := req.texts
	lease, err := s.reg.Resolve(req.ref)
	if err != nil {
		if s.opts.Tracer != nil {
			s.traceFailure(ctx, err)
		}
		return classifyResult{}, toProblem(err, "body.model_version", req.ref)
	}
	td := s.trafficRoute(req.ref, &lease, ri.key) // a canary swaps the lease
	defer func() { lease.Release() }()
	ri.model, ri.texts = lease.ID, len(texts)
	if s.opts.Tracer != nil {
		s.traceModel(ctx, lease.ID, len(texts), req.requestID)
	}
	raw := texts
	// Clean once: the cache keys on the text the model really sees, and the
	// engine runs the model without cleaning again.
	clean, m := model.Unwrap(lease.Model)
	if clean != nil {
		cleanTexts := make([]string, len(texts))
		for i, t := range texts {
			cleanTexts[i] = clean(t)
		}
		texts = cleanTexts
	}
	run := func(ctx context.Context, texts []string) ([]model.Prediction, error) {
		var preds []model.Prediction
		var err error
		if s.opts.Engine != nil {
			preds, err = s.opts.Engine.Predict(ctx, lease.ID, m, texts)
		} else {
			preds, err = m.Predict(ctx, texts)
		}
		if err == nil {
			// Checked before the cache stores the answers.
			err = finiteAnswers(lease.ID, preds)
		}
		return preds, err
	}
	var began time.Time
	if td.Compare() { // timed only for a comparison: the hot path stays as it was
		began = time.Now()
	}
	preds, cached, err := s.predictCached(ctx, lease.ID, texts, run)
	if err == nil && len(preds) != len(texts) {
		err = fmt.Errorf("model %s returned %d predictions for %d texts", lease.ID, len(preds), len(texts))
	}
	if err == nil {
		// A model may finish after the deadline; the client asked for an
		// answer within it.
		err = ctx.Err()
	}
	s.stats.record(lease.ID, len(texts), ri.start, err)
	if err != nil {
		lease.Fail()
		if s.opts.Tracer != nil {
			s.traceFailure(ctx, err)
		}
		if StatusOf(err) == http.StatusInternalServerError {
			s.log.Error("predict failed", "model", lease.ID, "err", err)
		}
		return classifyResult{}, toProblem(err, "", nil)
	}
	oods, err := s.scoreOOD(lease, m, raw, texts, preds, req.batch)
	if err != nil {
		return classifyResult{}, err
	}
	s.record(lease.ID, m, req.requestID, req.batch, raw, texts, preds)
	res := classifyResult{id: lease.ID, preds: preds, cached: cached, labels: lease.Model.Labels(), ood: oods}
	res.threshold, res.multi = model.ThresholdOf(m)
	if req.explain.Enabled {
		if res.explanations, err = s.explainTexts(ctx, explainJob{id: lease.ID, m: m, clean: clean, raw: raw,
			texts: texts, preds: preds, opt: req.explain, labels: res.labels}); err != nil {
			return classifyResult{}, toProblem(err, "", nil)
		}
	}
	s.trafficObserve(td, lease.ID, req, preds, cached, began)
	if s.opts.Payloads != nil {
		s.logPayloads(ctx, ri, lease.ID, req, preds, cached, lease.Model.Labels())
	}
	return res, nil
}

// ErrModelOutput: a model answered with something that cannot be sent,
// such as a NaN or infinite confidence or probability (500, with the
// model named).
var ErrModelOutput = errors.New("model produced an invalid answer")

// finiteAnswers refuses predictions whose confidence or probabilities are
// NaN or infinite: JSON cannot carry them, and a client must get a problem
// naming the model, not a 200 without a body.
func finiteAnswers(id string, preds []model.Prediction) error {
	for i, p := range preds {
		if math.IsNaN(p.Confidence) || math.IsInf(p.Confidence, 0) {
			return fmt.Errorf("%w: model %s produced a non-finite confidence (%v) for text %d", ErrModelOutput, id, p.Confidence, i)
		}
		for j, v := range p.Probabilities {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: model %s produced a non-finite probability (%v) for text %d, class %d", ErrModelOutput, id, v, i, j)
			}
		}
	}
	return nil
}

// textLen counts t's code points, or returns len(t) when that is within the
// limit already (a code point is at least one byte).
func (s *Server) textLen(t string) int {
	if len(t) <= s.opts.MaxTextChars {
		return len(t)
	}
	return utf8.RuneCountInString(t)
}

func (s *Server) textTooLong(location string, n int) error {
	return huma.Error422UnprocessableEntity("text too long", &huma.ErrorDetail{
		Location: location,
		Message:  fmt.Sprintf("text is %d characters; the limit is %d", n, s.opts.MaxTextChars),
		Value:    n,
	})
}

func probabilities(labels []string, p []float64) map[string]float64 {
	if len(p) == 0 || len(p) != len(labels) {
		return nil
	}
	m := make(map[string]float64, len(p))
	for i, l := range labels {
		m[l] = p[i]
	}
	return m
}
