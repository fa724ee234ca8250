package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/cache"
	rediscache "github.com/mlserve/mlserve/internal/cache/redis"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/traffic"
	"github.com/mlserve/mlserve/internal/ui"
)

// Parts are what the serve command builds before Run: the backends and the
// monitoring it configured.
type Parts struct {
	// Loaders are the model backends by framework name.
	Loaders map[string]model.Loader
	// Prometheus is what the metrics listener serves; nil with monitoring off.
	Prometheus *prometheus.Registry
	// Monitor books requests, drift and feedback; nil with monitoring off.
	Monitor *monitoring.Monitor
	// Observe is the engine's per-batch hook (nil: none).
	Observe func(inference.BatchInfo)
	// Log is the process's logger.
	Log *slog.Logger
	// Version is reported in the OpenAPI document.
	Version string
	// Ready, when not nil, receives the API's and the metrics listener's
	// bound addresses (metrics nil when off) once they listen.
	Ready func(api, metrics net.Addr)
}

// Run assembles the registry, engine, cache and server of c and serves them
// until ctx ends; then it drains requests, the engine and the registry
// within c.DrainTimeout. The repository loads while /health/live already
// answers; /health/ready answers 503 until the default model is loaded.
func Run(ctx context.Context, c *config.Config, p Parts) error {
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	obs, err := newObservability(ctx, c, p.Prometheus, log)
	if err != nil {
		return err
	}
	defer obs.close(log)
	log = obs.log
	repo, syncRepo, err := openRepository(ctx, c, log)
	if err != nil {
		return err
	}
	eng, err := inference.New(inference.Config{
		Tracer:       obs.tracer,
		MaxQueue:     c.Queue.MaxSize,
		MaxBatchSize: c.MaxBatchSize,
		BatchTimeout: time.Duration(c.BatchTimeoutMS) * time.Millisecond,
		Logger:       log,
		Observe:      p.Observe,
	})
	if err != nil {
		return err
	}
	drain := time.Duration(c.DrainTimeout)
	if drain <= 0 {
		drain = 30 * time.Second
	}
	var promReg prometheus.Registerer
	if p.Prometheus != nil {
		promReg = p.Prometheus
	}
	tm, err := traffic.New(traffic.Options{QueueSize: c.Traffic.QueueSize, Workers: c.Traffic.Workers,
		Timeout: time.Duration(c.Traffic.Timeout), Logger: log, Metrics: promReg, Busy: eng})
	if err != nil {
		return err
	}
	defer tm.Close()
	pc, rstore, err := newCache(c.Cache, p.Monitor.Metrics(), log)
	if err != nil {
		return err
	}
	nudger, err := newNudger(c, repo, log)
	if err != nil {
		if rstore != nil {
			_ = rstore.Close()
		}
		return err
	}
	fleet, err := newFleet(c, p.Monitor, log)
	if err != nil {
		if nudger != nil {
			nudger.Close()
		}
		if rstore != nil {
			_ = rstore.Close()
		}
		return err
	}
	// The registry does not poll by itself: the watcher polls it (after
	// syncing an s3:// mirror) every poll interval and when nudged.
	reg := model.NewRegistry(repo, p.Loaders, model.Options{
		DefaultModel: c.DefaultModelRef(),
		KeepLoaded:   c.Versions.KeepLoaded,
		DrainTimeout: time.Duration(c.DrainTimeout),
		LoadTimeout:  time.Duration(c.Limits.LoadTimeout),
		Subscribers:  append(Subscribers(eng, pc, p.Monitor, log), tm.OnEvent),
	}, log)
	w := &watcher{sync: syncRepo, poll: reg.Poll, interval: time.Duration(c.Repository.PollInterval),
		kick: make(chan struct{}, 1), log: log.With("component", "watcher")}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	stopBackground := func() { cancel(); bg.Wait() }
	defer stopBackground()
	if fleet != nil {
		// The monitor's last flush to Redis runs before the client closes.
		defer func() { stopBackground(); _ = fleet.Close() }()
		bg.Go(func() { p.Monitor.RunFleet(ctx) })
	}
	startErr := make(chan error, 1)
	bg.Go(func() {
		if err := reg.Start(ctx); err != nil {
			startErr <- fmt.Errorf("loading the model repository: %w", err)
			cancel()
			return
		}
		w.run(ctx)
	})
	if nudger != nil {
		defer nudger.Close()
		bg.Go(func() { nudger.Listen(ctx, w.nudge) })
	}
	l := Listeners{Addr: c.ListenAddr, Shutdown: drain, ShutdownDelay: time.Duration(c.ShutdownDelay),
		Metrics: p.Prometheus, HTTP: c.HTTP}
	if c.Monitoring.Enabled {
		l.MetricsAddr = c.MetricsAddr()
	}
	if c.GRPC.Enabled {
		l.GRPCAddr = c.GRPC.Addr
	}
	opts := server.Options{
		AdminToken:     c.AdminToken,
		MaxBodyBytes:   c.Limits.MaxBodyBytes,
		MaxTextChars:   c.Limits.MaxTextChars,
		MaxUploadBytes: c.Limits.MaxUploadBytes,
		RequestTimeout: time.Duration(c.RequestTimeoutMS) * time.Millisecond,
		UploadTimeout:  time.Duration(c.HTTP.UploadTimeout),
		Logger:         log,
		Engine:         eng,
		Cache:          pc,
		Version:        p.Version,
		Monitor:        p.Monitor,
		Traffic:        tm,
		Tracer:         obs.tracer,
		Payloads:       obs.payloads,
	}
	if c.UI.Enabled {
		if opts.UI, err = ui.New(ui.Options{Refresh: time.Duration(c.UI.Refresh), Resolution: time.Duration(c.UI.Resolution),
			Span: config.UIHistorySpan}); err != nil {
			return fmt.Errorf("ui: %w", err)
		}
	}
	err = Serve(ctx, l, reg, opts, p.Ready)
	select {
	case serr := <-startErr:
		err = errors.Join(serr, err)
	default:
	}
	stopBackground() // no poll may start once the registry closes
	sctx, stop := context.WithTimeout(context.Background(), drain)
	defer stop()
	tm.Close() // no comparison runs into a closing engine
	err = errors.Join(err, eng.Close(sctx), reg.Close(sctx))
	if rstore != nil {
		err = errors.Join(err, rstore.Close())
	}
	return err
}

// newCache builds the prediction cache of cache.*: nil when disabled; with
// cache.redis_url, Redis behind the memory tier. The Store is returned so
// shutdown can close it.
func newCache(c config.Cache, met *monitoring.Metrics, log *slog.Logger) (*cache.Cache, *rediscache.Store, error) {
	if !c.Enabled {
		return nil, nil, nil
	}
	cfg := cache.Config{MaxSize: c.MaxSize, TTL: time.Duration(c.TTLSeconds) * time.Second}
	if cfg.MaxSize <= 0 {
		// cache.max_size 0 with Redis is allowed by the config: keep a
		// one-entry memory tier in front, so every lookup goes to Redis.
		cfg.MaxSize = 1
	}
	var store *rediscache.Store
	if c.RedisURL != "" {
		var err error
		if store, err = rediscache.New(rediscache.Options{URL: c.RedisURL, Logger: log}); err != nil {
			return nil, nil, fmt.Errorf("cache.redis_url: %w", err)
		}
		cfg.Remote = store
		if met != nil {
			cfg.Remote = fallbackTier{Tier: store, met: met}
		}
	}
	pc, err := cache.New(cfg)
	if err != nil {
		if store != nil {
			_ = store.Close()
		}
		return nil, nil, err
	}
	return pc, store, nil
}

// fallbackTier is the Redis tier with the fallback gauge following Redis
// going down and coming back, checked on each lookup.
type fallbackTier struct {
	cache.Tier
	met *monitoring.Metrics
}

var (
	_ cache.Tier             = fallbackTier{}
	_ cache.FallbackReporter = fallbackTier{}
)

// GetMany looks keys up in the wrapped tier and sets the fallback gauge.
func (t fallbackTier) GetMany(ctx context.Context, keys []cache.Key) ([]model.Prediction, []bool, error) {
	preds, found, err := t.Tier.GetMany(ctx, keys)
	t.met.SetRedisFallback(t.InFallback())
	return preds, found, err
}

// InFallback reports the wrapped tier's fallback state.
func (t fallbackTier) InFallback() bool {
	fr, ok := t.Tier.(cache.FallbackReporter)
	return ok && fr.InFallback()
}
