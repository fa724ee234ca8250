package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/monitoring"
)

type healthOutput struct{ Body *api.Health }

type statsOutput struct{ Body *api.Stats }

type statsInput struct {
	Scope string `query:"scope" enum:"replica,fleet" default:"replica" doc:"replica: this replica's figures; fleet: summed over the replicas sharing Redis."`
}

func (s *Server) registerHealth() {
	huma.Register(s.api, huma.Operation{
		OperationID: "health-live", Method: http.MethodGet, Path: "/health/live",
		Summary: "Liveness: the process answers", Tags: []string{"health"},
	}, func(context.Context, *struct{}) (*healthOutput, error) {
		return &healthOutput{Body: &api.Health{Status: "ok"}}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "health-ready", Method: http.MethodGet, Path: "/health/ready",
		Summary: "Readiness: the default model is loaded", Tags: []string{"health"},
		Errors: []int{503},
	}, func(context.Context, *struct{}) (*healthOutput, error) {
		if s.unready() {
			return nil, huma.Error503ServiceUnavailable("not ready: shutting down")
		}
		if !s.reg.Ready() {
			return nil, huma.Error503ServiceUnavailable("not ready: no default model is loaded yet")
		}
		return &healthOutput{Body: &api.Health{Status: "ok"}}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "stats", Method: http.MethodGet, Path: "/stats",
		Summary: "Per-model counters, latency percentiles, prediction distribution, drift and live accuracy", Tags: []string{"health"},
		Description: "scope=fleet: the figures summed over the replicas that share Redis (monitoring.fleet); " +
			"`fleet` says whether they do, and why not.",
	}, func(ctx context.Context, in *statsInput) (*statsOutput, error) {
		if in.Scope == monitoring.ScopeFleet {
			return &statsOutput{Body: s.fleetStats(ctx)}, nil
		}
		return &statsOutput{Body: s.Stats(ctx)}, nil
	})
}

// Stats returns what GET /stats answers (this replica's scope): a new
// value on each call.
func (s *Server) Stats(ctx context.Context) *api.Stats {
	st := s.stats.snapshot()
	st.Cache = s.cacheStats()
	st.Queues = s.queueStats()
	s.mergeSummary(ctx, st)
	st.Traffic = s.trafficViews()
	return st
}
