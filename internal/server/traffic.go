package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/traffic"
)

// ErrNotCandidate: a traffic policy names a candidate that cannot be one
// (it is the name's default, or not loaded) (409).
var ErrNotCandidate = errors.New("not a traffic candidate")

// trafficRoute applies the name's traffic policy to a resolved request:
// for a canary request it swaps *lease for the candidate's. The decision
// is handed back to trafficObserve once the request is answered.
func (s *Server) trafficRoute(ref string, lease **model.Handle, key string) traffic.Decision {
	d := s.opts.Traffic.Route(ref, (*lease).Name, (*lease).ID, key)
	if d.Answer == "" {
		return d
	}
	cl, err := s.reg.Resolve(d.Answer)
	if err != nil {
		return traffic.Decision{} // the candidate left: the primary answers, uncompared
	}
	(*lease).Release()
	*lease = cl
	return d
}

// trafficObserve hands an answered request to the comparison workers;
// began is when its prediction started (not a latency sample when
// anything came from the cache).
func (s *Server) trafficObserve(d traffic.Decision, id string, req classifyRequest, preds []model.Prediction, cached []bool, began time.Time) {
	if !d.Compare() {
		return
	}
	took := time.Since(began)
	if slices.Contains(cached, true) {
		took = 0
	}
	s.opts.Traffic.Observe(d, traffic.Sample{ID: id, Texts: slices.Clone(req.texts), Preds: preds, Latency: took,
		RequestID: req.requestID, Batch: req.batch})
}

// runOffPath predicts texts with version id for a comparison, on the
// traffic worker's own goroutine: not through the engine, so an off-path
// prediction never holds one of the engine's batch slots while a primary's
// batch waits for it (the traffic queue is its bound); without the cache;
// booked with monitoring (the version's drift window) under no request id.
func (s *Server) runOffPath(ctx context.Context, id string, texts []string) ([]model.Prediction, error) {
	lease, err := s.reg.Resolve(id)
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	clean, m := model.Unwrap(lease.Model)
	seen := texts
	if clean != nil {
		seen = make([]string, len(texts))
		for i, t := range texts {
			seen[i] = clean(t)
		}
	}
	preds, err := m.Predict(ctx, seen)
	if err == nil {
		err = finiteAnswers(lease.ID, preds)
	}
	if err == nil && len(preds) != len(texts) {
		err = fmt.Errorf("model %s returned %d predictions for %d texts", lease.ID, len(preds), len(texts))
	}
	if err != nil {
		return nil, err
	}
	s.record(lease.ID, m, "", false, texts, seen, preds)
	return preds, nil
}

type trafficNameInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"128" doc:"Model name, e.g. sentiment."`
}

type trafficPutInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"128" doc:"Model name, e.g. sentiment."`
	Body api.TrafficPolicy
}

type trafficOutput struct{ Body *api.TrafficView }

func (s *Server) registerTraffic() {
	huma.Register(s.api, huma.Operation{
		OperationID: "get-traffic", Method: http.MethodGet, Path: "/models/{name}/traffic",
		Summary:     "Shadow/canary/mirror comparison of a model's default and a candidate",
		Description: "Label agreement, confidence deltas, both latencies, live accuracy from feedback and drift side by side, the gates' verdict and the policy's events.",
		Tags:        []string{"admin"}, Security: adminSecurity,
		Errors: []int{401, 403, 404, 422},
	}, func(_ context.Context, in *trafficNameInput) (*trafficOutput, error) {
		v, err := s.opts.Traffic.View(in.Name)
		if err != nil {
			return nil, toProblem(err, "path.name", in.Name)
		}
		s.addDrift(&v)
		return &trafficOutput{Body: &v}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "set-traffic", Method: http.MethodPut, Path: "/models/{name}/traffic",
		Summary:     "Start (or stop, with mode off) shadow, canary or mirror traffic to a candidate version",
		Description: "The candidate must be loaded and not the name's default. Gates, when set, promote the candidate (make it the default) or roll it back automatically.",
		Tags:        []string{"admin"}, Security: adminSecurity,
		Errors: []int{400, 401, 403, 404, 409, 413, 422, 503},
	}, func(_ context.Context, in *trafficPutInput) (*trafficOutput, error) {
		if s.opts.Traffic == nil {
			return nil, huma.Error404NotFound("traffic is not enabled on this server")
		}
		pol := in.Body
		if pol.Mode != api.TrafficOff {
			if err := s.checkCandidate(in.Name, &pol); err != nil {
				return nil, toProblem(err, "body.candidate", in.Body.Candidate)
			}
		}
		v, err := s.opts.Traffic.Set(in.Name, pol, "the admin API")
		if err != nil {
			return nil, toProblem(err, "body", nil)
		}
		s.addDrift(&v)
		return &trafficOutput{Body: &v}, nil
	})
}

// checkCandidate completes pol's candidate to a full id of name and checks
// it can be compared: loaded and ready, and not the name's default.
func (s *Server) checkCandidate(name string, pol *api.TrafficPolicy) error {
	if pol.Candidate == "" {
		return fmt.Errorf("%w: candidate is required", traffic.ErrInvalidPolicy)
	}
	if n, _, err := model.SplitID(pol.Candidate); err != nil {
		pol.Candidate = model.ID(name, pol.Candidate)
	} else if n != name {
		return fmt.Errorf("%w: %s is not a version of %s", traffic.ErrInvalidPolicy, pol.Candidate, name)
	}
	st, err := s.reg.Get(pol.Candidate)
	if err != nil {
		return err
	}
	if st.State != model.StateReady {
		return fmt.Errorf("%w: %s is %s; load it first", ErrNotCandidate, pol.Candidate, st.State)
	}
	if st.Default {
		return fmt.Errorf("%w: %s is already the default of %s", ErrNotCandidate, pol.Candidate, name)
	}
	return nil
}

// addDrift fills a view's drift statuses from monitoring.
func (s *Server) addDrift(v *api.TrafficView) {
	if s.mon == nil {
		return
	}
	for _, id := range []string{v.Primary, v.Candidate} {
		if id == "" {
			continue
		}
		if d, err := s.mon.Drift(id); err == nil {
			if v.Stats.Drift == nil {
				v.Stats.Drift = map[string]string{}
			}
			v.Stats.Drift[id] = d.Status
		}
	}
}

// trafficViews are the views /stats shows.
func (s *Server) trafficViews() map[string]api.TrafficView {
	vs := s.opts.Traffic.Views()
	for k, v := range vs {
		s.addDrift(&v)
		vs[k] = v
	}
	return vs
}
