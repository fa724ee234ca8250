package server

import (
	"context"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// oovRater is implemented by models that can tell a text's
// out-of-vocabulary rate (the scikit-learn backend), a drift signal.
type oovRater interface {
	OOVRate(text string) (float64, bool)
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

// bookCache reports one request's cache lookups on id, per tier: n keys,
// of which lookup says how many each tier found.
func (s *Server) bookCache(id string, n int, lookup cache.Lookup) {
	if s.mon == nil {
		return
	}
	s.mon.CacheLookup(id, monitoring.TierMemory, lookup.MemoryHits, n-lookup.MemoryHits)
	if lookup.RemoteHits+lookup.RemoteMisses > 0 {
		s.mon.CacheLookup(id, monitoring.TierRedis, lookup.RemoteHits, lookup.RemoteMisses)
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
	}, func(ctx context.Context, in *feedbackInput) (*feedbackOutput, error) {
		res, err := s.mon.FeedbackContext(ctx, in.Body.RequestID, in.Body.Label)
		if err != nil {
			return nil, toProblem(err, "body", nil)
		}
		s.opts.Traffic.Feedback(in.Body.RequestID, in.Body.Label)
		return &feedbackOutput{Body: &res}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "drift", Method: http.MethodGet, Path: "/models/{id}/drift",
		Summary:     "Drift figures of a model version",
		Description: "PSI of predicted labels, confidence, text length and out-of-vocabulary rate against the reference, and live accuracy from feedback.",
		Tags:        []string{"monitoring"},
		Errors:      []int{404, 422},
	}, func(ctx context.Context, in *idPath) (*driftOutput, error) {
		st, err := s.mon.DriftContext(ctx, in.ID)
		if err != nil {
			return nil, toProblem(err, "path.id", in.ID)
		}
		return &driftOutput{Body: &st}, nil
	})
}

// mergeSummary adds the monitor's per-model figures to st's (drift and
// live accuracy the fleet's while shared) and says whether the replica
// shares them; the server's own request, text and error counts stay.
func (s *Server) mergeSummary(ctx context.Context, st *api.Stats) {
	if s.mon == nil {
		return
	}
	sum := s.mon.SummaryContext(ctx, monitoring.ScopeReplica)
	st.Scope, st.Fleet = sum.Scope, sum.Fleet
	for id, m := range sum.Models {
		own := st.Models[id]
		m.Requests, m.Texts, m.Errors = own.Requests, own.Texts, own.Errors
		m.LatencyHistogram = own.LatencyHistogram
		if st.Models == nil {
			st.Models = map[string]api.ModelStats{}
		}
		st.Models[id] = m
	}
}

// fleetStats is GET /stats?scope=fleet: the monitor's fleet summary (no
// cache or queue figures: those are each replica's); when the fleet is
// not in use (no Redis, Redis down, monitoring off), GET /stats's answer,
// whose fleet block says why.
func (s *Server) fleetStats(ctx context.Context) *api.Stats {
	if s.mon == nil {
		st := s.stats.snapshot()
		st.Cache, st.Queues = s.cacheStats(), s.queueStats()
		fs := s.mon.FleetState()
		st.Scope, st.Fleet = monitoring.ScopeReplica, &fs
		return st
	}
	st := s.mon.SummaryContext(ctx, monitoring.ScopeFleet)
	if st.Scope != monitoring.ScopeFleet { // not shared: this replica's, as GET /stats
		own := s.stats.snapshot()
		own.Cache, own.Queues = s.cacheStats(), s.queueStats()
		s.mergeSummary(ctx, own)
		own.Fleet = st.Fleet
		return own
	}
	if st.Models == nil {
		st.Models = map[string]api.ModelStats{}
	}
	return &st
}
