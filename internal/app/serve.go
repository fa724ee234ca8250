package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/oip/grpcserver"
	"github.com/mlserve/mlserve/internal/server"
)

// Listeners are the server's settings that are not the API's.
type Listeners struct {
	// Addr is the API's address; MetricsAddr the monitoring listener's
	// ("": none).
	Addr, MetricsAddr string
	// Shutdown bounds the drain of requests in flight.
	Shutdown time.Duration
	// ShutdownDelay is how long the API keeps serving once ctx ends, with
	// its readiness checks already failing, before the drain starts (config
	// shutdown_delay): a load balancer's time to notice.
	ShutdownDelay time.Duration
	// Metrics is what the metrics listener serves (nil: Go and process
	// collectors only).
	Metrics *prometheus.Registry
	// HTTP bounds the API listener's connections (zero fields: the
	// defaults of config.Default).
	HTTP config.HTTP
	// GRPCAddr is the Open Inference Protocol gRPC listener's address
	// ("": none); GRPCReady, when not nil, receives its bound address.
	GRPCAddr  string
	GRPCReady func(net.Addr)
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

// Serve serves reg on l.Addr and its metrics on l.MetricsAddr until ctx
// is cancelled, then drains in-flight requests for up to l.Shutdown.
// ready, when not nil, receives the bound addresses once both listen.
func Serve(ctx context.Context, l Listeners, reg server.Registry, opts server.Options, ready func(api, metrics net.Addr)) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	hc := apiTimeouts(l.HTTP)
	if opts.UploadTimeout <= 0 {
		opts.UploadTimeout = time.Duration(hc.UploadTimeout)
	}
	promReg := l.Metrics
	if promReg == nil {
		promReg = prometheus.NewRegistry()
		promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	opts.Logger = log
	s, err := server.New(reg, opts)
	if err != nil {
		return err
	}
	if opts.UI != nil {
		// The dashboard's history samples /stats until Serve returns.
		hctx, stopHistory := context.WithCancel(ctx)
		sampled := make(chan struct{})
		go func() { defer close(sampled); opts.UI.History().Run(hctx, func() *api.Stats { return s.Stats(hctx) }) }()
		defer func() { stopHistory(); <-sampled }()
	}
	apiLn, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", l.Addr, err)
	}
	defer apiLn.Close()
	if msg := adminExposure(apiLn.Addr(), opts.AdminToken); msg != "" {
		log.Warn(msg, "addr", apiLn.Addr().String())
	}
	apiLn = newLimitListener(apiLn, hc.MaxConnections)
	var metricsLn net.Listener
	if l.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", l.MetricsAddr); err != nil {
			return fmt.Errorf("metrics listener on %s: %w", l.MetricsAddr, err)
		}
		defer metricsLn.Close()
		metricsLn = newLimitListener(metricsLn, metricsMaxConnections)
	}
	var grpcLn net.Listener
	if l.GRPCAddr != "" {
		if grpcLn, err = net.Listen("tcp", l.GRPCAddr); err != nil {
			return fmt.Errorf("grpc listener on %s: %w", l.GRPCAddr, err)
		}
		defer grpcLn.Close()
		grpcLn = newLimitListener(grpcLn, hc.MaxConnections)
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
	errc := make(chan error, 3)
	go func() { errc <- apiSrv.Serve(apiLn) }()
	var grpcSrv *grpcserver.Server
	if grpcLn != nil {
		grpcSrv = grpcserver.New(s, grpcserver.Options{Logger: log, Tracer: opts.Tracer})
		go func() { errc <- grpcSrv.GRPC().Serve(grpcLn) }()
		log.Info("serving the Open Inference Protocol over gRPC", "addr", grpcLn.Addr().String())
		if l.GRPCReady != nil {
			l.GRPCReady(grpcLn.Addr())
		}
	}
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
	log.Info("serving", "addr", apiLn.Addr().String(), "metrics", fmt.Sprint(metricsAddr), "docs", "http://"+apiLn.Addr().String()+"/docs")
	if ready != nil {
		ready(apiLn.Addr(), metricsAddr)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if l.ShutdownDelay > 0 {
		// Not ready, still serving: what the balancer sends before it
		// notices is answered as usual, on its own connection.
		s.Leave()
		log.Info("leaving: not ready, serving until the shutdown delay ends", "shutdown_delay", l.ShutdownDelay)
		delay := time.NewTimer(l.ShutdownDelay)
		select {
		case <-delay.C:
		case err := <-errc:
			delay.Stop()
			return err
		}
	}
	log.Info("shutting down", "drain", l.Shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), l.Shutdown)
	defer cancel()
	// Stop accepting, and let keep-alive clients finish on their connections:
	// responses now say Connection: close, so each client leaves after the
	// answer it is waiting for. http.Server.Shutdown alone closes connections
	// it sees idle, and a request already sent on one (not yet read) would be
	// reset. Connections still open after the grace period are left to
	// Shutdown, which waits for their requests in flight.
	s.Drain()
	_ = apiLn.Close()
	// The gRPC door drains beside the API: health NOT_SERVING, no new
	// calls, the calls in flight finish within the same drain timeout.
	grpcDone := make(chan struct{})
	go func() {
		defer close(grpcDone)
		if grpcSrv != nil {
			grpcSrv.Stop(sctx)
		}
	}()
	grace := time.NewTimer(min(l.Shutdown, time.Second))
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
	<-grpcDone
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(sctx))
	}
	return err
}
