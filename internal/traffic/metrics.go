package traffic

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/model"
)

// metrics are the traffic metrics; a nil *metrics books nothing.
type metrics struct {
	comparedTotal, agreeTotal *prometheus.CounterVec
	droppedTotal, errorsTotal *prometheus.CounterVec
	delta                     *prometheus.HistogramVec
	lat                       *prometheus.HistogramVec
	verdicts                  *prometheus.CounterVec
	yields                    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		comparedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlserve_traffic_compared_total",
			Help: "Texts predicted by both a primary and its candidate."}, []string{"model", "candidate"}),
		agreeTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlserve_traffic_agreements_total",
			Help: "Compared texts on which the candidate gave the primary's label."}, []string{"model", "candidate"}),
		droppedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlserve_traffic_dropped_total",
			Help: "Comparisons dropped because the off-path queue was full."}, []string{"model"}),
		errorsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlserve_traffic_errors_total",
			Help: "Off-path predictions that failed."}, []string{"model"}),
		delta: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlserve_traffic_confidence_delta",
			Help:    "Candidate confidence minus primary confidence per compared text.",
			Buckets: deltaEdges}, []string{"model", "candidate"}),
		lat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mlserve_traffic_latency_seconds",
			Help:    "Model latency per compared request, by version and role (primary, candidate).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}, []string{"model", "version", "role"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlserve_traffic_verdicts_total",
			Help: "Traffic policies ended, by outcome (promoted, rolled_back, stopped)."}, []string{"model", "outcome"}),
		yields: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mlserve_traffic_yields_total",
			Help: "Comparisons that waited for the primaries to go idle, by how the wait ended (idle, forced: the bounded wait ran out)."},
			[]string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.comparedTotal, m.agreeTotal, m.droppedTotal, m.errorsTotal, m.delta, m.lat, m.verdicts, m.yields} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) compared(name, candidate string, delta float64, same bool) {
	if m == nil {
		return
	}
	_, v, _ := model.SplitID(candidate)
	m.comparedTotal.WithLabelValues(name, v).Inc()
	if same {
		m.agreeTotal.WithLabelValues(name, v).Inc()
	}
	m.delta.WithLabelValues(name, v).Observe(delta)
}

func (m *metrics) latency(name, id, role string, d time.Duration) {
	if m == nil {
		return
	}
	_, v, _ := model.SplitID(id)
	m.lat.WithLabelValues(name, v, role).Observe(d.Seconds())
}

func (m *metrics) dropped(name string) {
	if m != nil {
		m.droppedTotal.WithLabelValues(name).Inc()
	}
}

func (m *metrics) error(name string) {
	if m != nil {
		m.errorsTotal.WithLabelValues(name).Inc()
	}
}

func (m *metrics) verdict(name, outcome string) {
	if m != nil {
		m.verdicts.WithLabelValues(name, outcome).Inc()
	}
}

func (m *metrics) yield(outcome string) {
	if m != nil {
		m.yields.WithLabelValues(outcome).Inc()
	}
}
