package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// Forgetter is an engine that keeps per-version state (the inference
// engine's queues) to release when a version retires.
type Forgetter interface {
	Forget(id string)
}

// flushTimeout bounds flushing a retiring version's entries from the
// second cache tier (Redis), which runs inside the event's delivery.
const flushTimeout = 5 * time.Second

// Subscribers returns the registry subscribers that keep the serving parts
// in step with the versions: eng's queues, c's entries, mon's tracking and
// load metrics. Any part may be nil.
func Subscribers(eng Forgetter, c *cache.Cache, mon *monitoring.Monitor, log *slog.Logger) []model.Subscriber {
	if log == nil {
		log = slog.Default()
	}
	var subs []model.Subscriber
	if eng != nil {
		subs = append(subs, func(ev model.Event) {
			if ev.Kind == model.Retiring {
				eng.Forget(ev.ID)
			}
		})
	}
	if c != nil {
		subs = append(subs, func(ev model.Event) {
			if ev.Kind != model.Retiring {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			if err := c.FlushModel(ctx, ev.ID); err != nil {
				log.Warn("flushing a retiring version's cache", "model", ev.ID, "err", err)
			}
		})
	}
	if mon != nil {
		subs = append(subs, monitorEvents(mon, log), loadMetrics(mon.Metrics()))
	}
	return subs
}

// monitorEvents tracks a version with mon from its Loaded (with its
// manifest's drift reference, or a bootstrapped one when that is refused)
// to its Retired.
func monitorEvents(mon *monitoring.Monitor, log *slog.Logger) model.Subscriber {
	return func(ev model.Event) {
		switch ev.Kind {
		case model.Loaded:
			labels := ev.Model.Labels()
			if err := mon.Track(ev.ID, labels, ev.Manifest); err != nil {
				log.Warn("drift reference refused; bootstrapping one", "model", ev.ID, "err", err)
				_ = mon.Track(ev.ID, labels, nil)
			}
		case model.Retired:
			mon.Untrack(ev.ID)
		}
	}
}

// loadMetrics books loads and load failures, and keeps the models-loaded
// gauge at the number of versions loaded and not retiring.
func loadMetrics(met *monitoring.Metrics) model.Subscriber {
	var mu sync.Mutex
	loaded := map[string]bool{}
	return func(ev model.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case model.Loaded:
			met.ObserveModelLoad(ev.LoadDuration, true)
			loaded[ev.ID] = true
		case model.LoadFailed:
			met.ObserveModelLoad(0, false)
		case model.Retiring, model.Retired:
			delete(loaded, ev.ID)
		default:
			return
		}
		met.SetModelsLoaded(len(loaded))
	}
}
