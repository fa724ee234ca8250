package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	latency *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "mlserve",
			Name:      "http_request_duration_seconds",
			Help:      "HTTP request latency by endpoint, model and status code.",
			Buckets:   []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint", "model", "code"}),
	}
	if err := reg.Register(m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(endpoint, model string, code int, d time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	m.latency.WithLabelValues(endpoint, model, strconv.Itoa(code)).Observe(d.Seconds())
}

// MetricsHandler serves g's metrics in the Prometheus exposition format, for
// the monitoring listener.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
