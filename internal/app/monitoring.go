package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// NewMonitoring builds the Prometheus registry (Go and process collectors
// included) and, with monitoring.enabled, mlserve's metrics and the
// monitor on it. With monitoring off it returns nils: nothing is booked and
// no metrics listener is opened.
func NewMonitoring(c config.Monitoring, log *slog.Logger) (*prometheus.Registry, *monitoring.Monitor, error) {
	if !c.Enabled {
		return nil, nil, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	mon, err := monitoring.New(c, met, log.With("component", "monitoring"))
	if err != nil {
		return nil, nil, err
	}
	return reg, mon, nil
}

// ObserveBatches is the inference engine's per-batch hook: queue wait per
// request, batch size, model time and queue depth (nil when met is nil).
func ObserveBatches(met *monitoring.Metrics) func(inference.BatchInfo) {
	if met == nil {
		return nil
	}
	return func(b inference.BatchInfo) {
		name, version, _ := model.SplitID(b.ID)
		met.ObserveBatch(name, version, b.Size, b.Waits, b.Inference, b.Err == nil, b.Queued)
	}
}
