package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/cache"
	rediscache "github.com/mlserve/mlserve/internal/cache/redis"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

// serveFlags are `mlserve serve`'s flags; they override the config file.
type serveFlags struct {
	config      string
	addr        string
	metricsAddr string
	logLevel    string
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the mlserve HTTP server",
		Long: `Run the HTTP server: prediction and admin API, /docs, /openapi.json, and
Prometheus /metrics on the monitoring listener (with monitoring.enabled; when
it is off nothing is monitored and no metrics listener opens: POST /feedback
and GET /models/{id}/drift answer 404). Configuration comes from
--config (YAML), MLSERVE_... environment variables, then these flags.
SIGINT or SIGTERM shut it down gracefully.`,
		Example: `  mlserve serve
  mlserve serve --config config.yaml --addr 0.0.0.0:8000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&f.addr, "addr", "", "listen address HOST:PORT (default 127.0.0.1:8000)")
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", "", "monitoring listener HOST:PORT for /metrics (default 127.0.0.1:9090)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (default from the config: info)")
	return cmd
}

// loadConfig reads the configuration and applies the flags over it.
func loadConfig(f *serveFlags) (*config.Config, error) {
	c, err := config.Load(f.config)
	if err != nil {
		return nil, err
	}
	for key, v := range map[string]string{"listen_addr": f.addr, "monitoring.addr": f.metricsAddr, "log.level": f.logLevel} {
		if v == "" {
			continue
		}
		if err := c.Set(key, v); err != nil {
			return nil, err
		}
	}
	return c, c.Validate()
}

// serve assembles the server from the configuration.
func serve(ctx context.Context, f *serveFlags) error {
	c, err := loadConfig(f)
	if err != nil {
		return err
	}
	log, err := newLogger(c.Log.Level, c.Log.Format)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	repo, err := model.OpenRepository(c.ModelsDir)
	if err != nil {
		return fmt.Errorf("models_dir: %w", err)
	}
	reg := model.NewRegistry(repo, loaders(c, log), model.Options{
		DefaultModel: c.DefaultModel,
		KeepLoaded:   c.Versions.KeepLoaded,
		PollInterval: time.Duration(c.Repository.PollInterval),
		DrainTimeout: time.Duration(c.DrainTimeout),
		LoadTimeout:  time.Duration(c.Limits.LoadTimeout),
	}, log)
	promReg, mon, err := newMonitoring(c.Monitoring, log)
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	eng, err := inference.New(inference.Config{
		MaxQueue:     c.Queue.MaxSize,
		MaxBatchSize: c.MaxBatchSize,
		BatchTimeout: time.Duration(c.BatchTimeoutMS) * time.Millisecond,
		Logger:       log,
		Observe:      observeBatches(mon.Metrics()),
	})
	if err != nil {
		return err
	}
	drain := time.Duration(c.DrainTimeout)
	if drain <= 0 {
		drain = 30 * time.Second
	}
	pc, rstore, err := newCache(c.Cache, mon.Metrics(), log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Load the repository while already answering /health/live; /health/ready
	// says 503 until the default model is loaded.
	startErr := make(chan error, 1)
	go func() {
		if err := reg.Start(ctx); err != nil {
			startErr <- fmt.Errorf("loading the model repository: %w", err)
			cancel()
		}
	}()
	l := listeners{addr: c.ListenAddr, shutdown: drain, metrics: promReg, http: c.HTTP}
	if c.Monitoring.Enabled {
		l.metricsAddr = c.MetricsAddr()
		go watchLoads(ctx, reg, mon.Metrics())
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
		Version:        Version,
		Monitor:        mon,
	}
	// The server forgets unloaded versions' queues and cache entries itself.
	err = runServer(ctx, l, registry{r: reg}, opts, nil)
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
			cfg.Remote = countedTier{Tier: store, met: met}
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

// listeners are the server's settings that are not the API's.
type listeners struct {
	addr, metricsAddr string
	shutdown          time.Duration
	// metrics is what the metrics listener serves (nil: Go and process
	// collectors only).
	metrics *prometheus.Registry
	// http bounds the API listener's connections (zero fields: the
	// defaults of config.Default).
	http config.HTTP
}

// apiTimeouts fills the zero fields of h with config.Default's, so that a
// caller that sets none (tests, an old config) still gets bounded reads.
func apiTimeouts(h config.HTTP) config.HTTP {
	d := config.Default().HTTP
	if h.ReadHeaderTimeout <= 0 {
		h.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if h.ReadTimeout <= 0 {
		h.ReadTimeout = d.ReadTimeout
	}
	if h.UploadTimeout <= 0 {
		h.UploadTimeout = d.UploadTimeout
	}
	if h.IdleTimeout <= 0 {
		h.IdleTimeout = d.IdleTimeout
	}
	return h
}

// metricsMaxConnections caps the monitoring listener's open connections:
// it serves a scraper or two, never the public.
const metricsMaxConnections = 64

// adminExposure says why the admin API is exposed beyond this host, or ""
// when it is not: without an admin_token the admin API trusts loopback
// clients, and a listener on a non-loopback address (or on all addresses)
// can be reached from elsewhere. A reverse proxy on this host makes every
// client loopback, which only a token guards against.
func adminExposure(addr net.Addr, token string) string {
	if token != "" {
		return ""
	}
	host := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok {
		if ta.IP.IsLoopback() {
			return ""
		}
		host = ta.IP.String()
	}
	return "no admin_token is set and the API listens on " + host +
		", which is not loopback-only: the admin API (uploads, unloads) trusts any loopback client, " +
		"so a reverse proxy on this host exposes it to everyone; set admin_token"
}

// runServer serves reg on l.addr and its metrics on l.metricsAddr until ctx
// is cancelled, then drains in-flight requests for up to l.shutdown.
// ready, when not nil, receives the bound addresses once both listen.
func runServer(ctx context.Context, l listeners, reg server.Registry, opts server.Options, ready func(api, metrics net.Addr)) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	hc := apiTimeouts(l.http)
	if opts.UploadTimeout <= 0 {
		opts.UploadTimeout = time.Duration(hc.UploadTimeout)
	}
	promReg := l.metrics
	if promReg == nil {
		promReg = prometheus.NewRegistry()
		promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	opts.Logger = log
	s, err := server.New(reg, opts)
	if err != nil {
		return err
	}
	apiLn, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", l.addr, err)
	}
	defer apiLn.Close()
	if msg := adminExposure(apiLn.Addr(), opts.AdminToken); msg != "" {
		log.Warn(msg, "addr", apiLn.Addr().String())
	}
	apiLn = newLimitListener(apiLn, hc.MaxConnections)
	var metricsLn net.Listener
	if l.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", l.metricsAddr); err != nil {
			return fmt.Errorf("metrics listener on %s: %w", l.metricsAddr, err)
		}
		defer metricsLn.Close()
		metricsLn = newLimitListener(metricsLn, metricsMaxConnections)
	}
	var open atomic.Int64 // API connections not yet closed
	// ReadTimeout bounds every request's headers and body (a slow-body
	// client is cut off); the upload route extends its own deadline to
	// UploadTimeout (server.Options). No WriteTimeout: a prediction is
	// bounded by its own deadline, and an upload's load by the registry's.
	apiSrv := &http.Server{Handler: s, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: time.Duration(hc.ReadHeaderTimeout), ReadTimeout: time.Duration(hc.ReadTimeout),
		IdleTimeout: time.Duration(hc.IdleTimeout),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}}
	errc := make(chan error, 2)
	go func() { errc <- apiSrv.Serve(apiLn) }()
	var metricsSrv *http.Server
	var metricsAddr net.Addr
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", server.MetricsHandler(promReg))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		metricsAddr = metricsLn.Addr()
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
	}
	// The registry retires versions on its own (keep-N policy, repository
	// poll) without telling anyone: reconcile what the server and engine
	// keep for them on a timer as well as after each admin change.
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.Reconcile(ctx)
			}
		}
	}()
	log.Info("serving", "addr", apiLn.Addr().String(), "metrics", fmt.Sprint(metricsAddr), "docs", "http://"+apiLn.Addr().String()+"/docs")
	if ready != nil {
		ready(apiLn.Addr(), metricsAddr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain", l.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), l.shutdown)
	defer cancel()
	// Stop accepting, and let keep-alive clients finish on their connections:
	// responses now say Connection: close, so each client leaves after the
	// answer it is waiting for. http.Server.Shutdown alone closes connections
	// it sees idle, and a request already sent on one (not yet read) would be
	// reset. Connections still open after the grace period are left to
	// Shutdown, which waits for their requests in flight.
	s.Drain()
	_ = apiLn.Close()
	grace := time.NewTimer(min(l.shutdown, time.Second))
	defer grace.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
wait:
	for open.Load() > 0 {
		select {
		case <-grace.C:
			break wait
		case <-poll.C:
		}
	}
	err = apiSrv.Shutdown(sctx)
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(sctx))
	}
	return err
}

// watchLoads books the registry's loads in the load metrics every 2 s
// until ctx ends.
func watchLoads(ctx context.Context, reg *model.Registry, met *monitoring.Metrics) {
	w := &loadWatcher{met: met}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		w.tick(reg.List())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newLogger is the process's one slog configuration.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	o := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
}
