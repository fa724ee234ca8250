package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
)

type healthOutput struct{ Body *api.Health }

type statsOutput struct{ Body *api.Stats }

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
		if s.draining.Load() {
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
	}, func(context.Context, *struct{}) (*statsOutput, error) {
		st := s.stats.snapshot()
		st.Cache = s.cacheStats()
		st.Queues = s.queueStats()
		s.mergeSummary(st)
		st.Traffic = s.trafficViews()
		return &statsOutput{Body: st}, nil
	})
}
