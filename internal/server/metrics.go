package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// observe books one request with the monitor: predict calls with their
// model, texts and error kind (latency metric, errors, /stats), every other
// endpoint in the latency metric only, without a model.
func (s *Server) observe(endpoint string, ri *reqInfo, code int, d time.Duration) {
	if s.mon == nil {
		return
	}
	if code == 0 {
		code = http.StatusOK
	}
	switch endpoint {
	case "/predict", "/batch-predict", EndpointV2Infer, EndpointGRPCInfer, EndpointV1Predict:
		s.mon.Request(endpoint, ri.model, code, ri.texts, d, errorKind(code))
		return
	}
	s.mon.Metrics().ObserveRequest(endpoint, "", "", code, d)
}

// MetricsHandler serves g's metrics in the Prometheus exposition format, for
// the monitoring listener.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
