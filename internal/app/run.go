package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/cache"
	rediscache "github.com/mlserve/mlserve/internal/cache/redis"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
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
	pc, rstore, err := newCache(c.Cache, p.Monitor.Metrics(), log)
	if err != nil {
		return err
	}
	reg := model.NewRegistry(repo, p.Loaders, model.Options{
		DefaultModel: c.DefaultModelRef(),
		KeepLoaded:   c.Versions.KeepLoaded,
		PollInterval: time.Duration(c.Repository.PollInterval),
		DrainTimeout: time.Duration(c.DrainTimeout),
		LoadTimeout:  time.Duration(c.Limits.LoadTimeout),
		Subscribers:  Subscribers(eng, pc, p.Monitor, log),
	}, log)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if syncRepo != nil {
		synced := make(chan struct{})
		go func() { defer close(synced); syncRepo(ctx) }()
		defer func() { cancel(); <-synced }()
	}
	startErr := make(chan error, 1)
	go func() {
		if err := reg.Start(ctx); err != nil {
			startErr <- fmt.Errorf("loading the model repository: %w", err)
			cancel()
		}
	}()
	l := Listeners{Addr: c.ListenAddr, Shutdown: drain, Metrics: p.Prometheus, HTTP: c.HTTP}
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
		Tracer:         obs.tracer,
		Payloads:       obs.payloads,
	}
	err = Serve(ctx, l, reg, opts, p.Ready)
	select {
	case serr := <-startErr:
		err = errors.Join(serr, err)
	default:
	}
	sctx, stop := context.WithTimeout(context.Background(), drain)
	defer stop()
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
