package cli

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

// newMonitoring builds the Prometheus registry (Go and process collectors
// included) and, with monitoring.enabled, mlserve's metrics and the
// monitor on it. With monitoring off it returns nils: nothing is booked and
// no metrics listener is opened.
func newMonitoring(c config.Monitoring, log *slog.Logger) (*prometheus.Registry, *monitoring.Monitor, error) {
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

// observeBatches is the inference engine's per-batch hook: queue wait per
// request, batch size, model time and queue depth (nil when met is nil).
func observeBatches(met *monitoring.Metrics) func(inference.BatchInfo) {
	if met == nil {
		return nil
	}
	return func(b inference.BatchInfo) {
		name, version, _ := model.SplitID(b.ID)
		met.ObserveBatch(name, version, b.Size, b.Waits, b.Inference, b.Err == nil, b.Queued)
	}
}

// countedTier is the Redis tier as monitoring sees it: each lookup's hits
// and misses go to the request's count (server.CountRemote), and the
// fallback gauge follows Redis going down and coming back.
type countedTier struct {
	cache.Tier
	met *monitoring.Metrics
}

var (
	_ cache.Tier             = countedTier{}
	_ cache.FallbackReporter = countedTier{}
)

func (t countedTier) GetMany(ctx context.Context, keys []cache.Key) ([]model.Prediction, []bool, error) {
	preds, found, err := t.Tier.GetMany(ctx, keys)
	hits := 0
	if err == nil {
		for _, f := range found {
			if f {
				hits++
			}
		}
	}
	server.CountRemote(ctx, hits, len(keys)-hits)
	t.met.SetRedisFallback(t.InFallback())
	return preds, found, err
}

// InFallback reports the wrapped tier's fallback state.
func (t countedTier) InFallback() bool {
	fr, ok := t.Tier.(cache.FallbackReporter)
	return ok && fr.InFallback()
}

// loadWatcher books model loads the registry did (at start, on upload, on
// a repository poll) in the load metrics: the registry has no load
// callback, so its statuses are compared on each tick.
type loadWatcher struct {
	met  *monitoring.Metrics
	seen map[string]string // id → what was booked (load time or error)
}

func (w *loadWatcher) tick(statuses []model.Status) {
	if w.seen == nil {
		w.seen = map[string]string{}
	}
	for _, s := range statuses {
		var mark string
		switch s.State {
		case model.StateReady, model.StateDraining:
			mark = "ok " + s.LoadedAt.String()
		case model.StateFailed:
			mark = "failed " + s.Error
		default:
			continue
		}
		if w.seen[s.ID] == mark {
			continue
		}
		w.seen[s.ID] = mark
		if s.State == model.StateFailed {
			w.met.ObserveModelLoad(0, false)
		} else {
			w.met.ObserveModelLoad(s.LoadDuration, true)
		}
	}
}
