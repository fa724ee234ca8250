package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/payloadlog"
	"github.com/mlserve/mlserve/internal/tracing"
)

// observability is what tracing: and logging.payloads: build: the tracer
// handed to the server, the engine and the gRPC door (nil when off), the
// payload logger (nil when off), and the process logger, stamped with
// trace and span ids when tracing is on.
type observability struct {
	tracer   trace.Tracer
	provider *tracing.Provider
	payloads *payloadlog.Logger
	log      *slog.Logger
}

// obsFlushTimeout bounds the export of buffered spans and payload events at
// shutdown.
const obsFlushTimeout = 5 * time.Second

// newObservability builds the tracing pipeline and the payload log of c;
// the payload log's counters go to reg (nil: unregistered).
func newObservability(ctx context.Context, c *config.Config, reg *prometheus.Registry, log *slog.Logger) (*observability, error) {
	o := &observability{log: log}
	p, err := tracing.New(ctx, c.Tracing)
	if err != nil {
		return nil, err
	}
	if p != nil {
		o.provider, o.tracer = p, p.Tracer()
		o.log = slog.New(tracing.LogHandler(log.Handler()))
		o.log.Info("tracing on", "service", c.Tracing.ServiceName, "sample_ratio", c.Tracing.SampleRatio)
	}
	if c.Logging.Payloads.Enabled {
		var r prometheus.Registerer
		if reg != nil {
			r = reg
		}
		if o.payloads, err = payloadlog.New(c.Logging.Payloads, nil, r, o.log); err != nil {
			o.close(log)
			return nil, err
		}
	}
	return o, nil
}

// close flushes and stops what newObservability started.
func (o *observability) close(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), obsFlushTimeout)
	defer cancel()
	var err error
	if o.payloads != nil {
		err = o.payloads.Close(ctx)
	}
	if o.provider != nil {
		err = errors.Join(err, o.provider.Shutdown(ctx))
	}
	if err != nil {
		log.Warn("flushing traces and payload events", "err", err)
	}
}
