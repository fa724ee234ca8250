package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// oovRater is implemented by models that can tell a text's
// out-of-vocabulary rate (the scikit-learn backend), a drift signal.
type oovRater interface {
	OOVRate(text string) (float64, bool)
}

// track starts monitoring the lease's version the first time it serves.
// Concurrent first requests wait for the one that tracks it, so none of
// their predictions is dropped as untracked.
func (s *Server) track(l *Lease) {
	if s.mon == nil {
		return
	}
	v, ok := s.tracked.Load(l.ID)
	if !ok {
		v, _ = s.tracked.LoadOrStore(l.ID, new(sync.Once))
	}
	v.(*sync.Once).Do(func() {
		if err := s.mon.Track(l.ID, l.Model.Labels(), l.Manifest); err != nil {
			// A bad reference block: watch the version with a bootstrapped one.
			s.log.Warn("drift reference refused; bootstrapping one", "model", l.ID, "err", err)
			_ = s.mon.Track(l.ID, l.Model.Labels(), nil)
		}
	})
}

// untrack stops monitoring a version that left the registry.
func (s *Server) untrack(id string) {
	if s.mon == nil {
		return
	}
	s.tracked.Delete(id)
	s.mon.Untrack(id)
}

// record books each answered text with the monitor: the prediction
// distribution, the drift window and the prediction awaiting feedback.
// raw are the texts as sent (text length), seen as the model saw them.
// The out-of-vocabulary rate is the prediction's OOV where the model
// measured it while predicting, else the model's OOVRate(seen text).
func (s *Server) record(id string, m model.Model, rid string, batch bool, raw, seen []string, preds []model.Prediction) {
	if s.mon == nil {
		return
	}
	oov, _ := m.(oovRater)
	for i, p := range preds {
		o := monitoring.Observation{Label: p.Label, Confidence: p.Confidence, TextLength: utf8.RuneCountInString(raw[i]), OOVRate: -1}
		switch {
		case p.OOV.Measured:
			// Counted by the model while predicting (a memory-cache hit
			// keeps the count its first answer took).
			o.OOVRate = p.OOV.Rate
		case oov != nil:
			// Other backends, and answers that lost the count (a Redis hit).
			if r, ok := oov.OOVRate(seen[i]); ok {
				o.OOVRate = r
			}
		}
		reqID := rid
		if batch {
			reqID = rid + "/" + strconv.Itoa(i)
		}
		s.mon.Record(id, reqID, o)
	}
}

// remoteCount is how many of one request's cache lookups reached the second
// tier and were found there; CountRemote fills it.
type remoteCount struct{ hits, misses int }

type remoteCountKey struct{}

// CountRemote is called by a second cache tier (the serve command wraps
// Redis with it) with the outcome of one lookup call, so the server can
// tell memory hits from Redis hits per model. It does nothing unless the
// server asked for the count.
func CountRemote(ctx context.Context, hits, misses int) {
	if c, ok := ctx.Value(remoteCountKey{}).(*remoteCount); ok {
		c.hits += hits
		c.misses += misses
	}
}

// bookCache reports one request's cache lookups on id: memory hits are the
// texts found less those Redis found.
func (s *Server) bookCache(id string, found []bool, rc *remoteCount) {
	n := 0
	for _, f := range found {
		if f {
			n++
		}
	}
	memHits := n - rc.hits
	s.mon.CacheLookup(id, monitoring.TierMemory, memHits, len(found)-memHits)
	if rc.hits+rc.misses > 0 {
		s.mon.CacheLookup(id, monitoring.TierRedis, rc.hits, rc.misses)
	}
}

type feedbackInput struct{ Body api.FeedbackRequest }

type feedbackOutput struct{ Body *api.FeedbackResponse }

type driftOutput struct{ Body *api.DriftStatus }

func (s *Server) registerMonitoring() {
	huma.Register(s.api, huma.Operation{
		OperationID: "feedback", Method: http.MethodPost, Path: "/feedback",
		Summary:     "Report the true label of a prediction",
		Description: "Feeds live accuracy: request_id is the prediction's (batch: request_id/index); each prediction takes one feedback within monitoring.pending_ttl.",
		Tags:        []string{"monitoring"},
		Errors:      []int{400, 404, 413, 422},
	}, func(_ context.Context, in *feedbackInput) (*feedbackOutput, error) {
		res, err := s.mon.Feedback(in.Body.RequestID, in.Body.Label)
		if err != nil {
			return nil, toProblem(err, "body", nil)
		}
		return &feedbackOutput{Body: &res}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "drift", Method: http.MethodGet, Path: "/models/{id}/drift",
		Summary:     "Drift figures of a model version",
		Description: "PSI of predicted labels, confidence, text length and out-of-vocabulary rate against the reference, and live accuracy from feedback.",
		Tags:        []string{"monitoring"},
		Errors:      []int{404, 422},
	}, func(_ context.Context, in *idPath) (*driftOutput, error) {
		st, err := s.mon.Drift(in.ID)
		if err != nil {
			return nil, toProblem(err, "path.id", in.ID)
		}
		return &driftOutput{Body: &st}, nil
	})
}

// mergeSummary adds the monitor's per-model figures to st's; the server's
// own request, text and error counts stay.
func (s *Server) mergeSummary(st *api.Stats) {
	if s.mon == nil {
		return
	}
	for id, m := range s.mon.Summary().Models {
		own := st.Models[id]
		m.Requests, m.Texts, m.Errors = own.Requests, own.Texts, own.Errors
		if st.Models == nil {
			st.Models = map[string]api.ModelStats{}
		}
		st.Models[id] = m
	}
}
