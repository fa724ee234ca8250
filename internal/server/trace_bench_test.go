package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/payloadlog"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/tracing"
)

// BenchmarkTracingOverhead compares, in one run with rounds interleaved,
// /predict in process with tracing and the payload log off, tracing on
// with the parent-based ratio sampler at 1.0 and at 0.01 (spans through
// the SDK's batch processor into a discarding exporter), the payload log
// on with a live HTTP sink, and the payload log on with a sink that
// hangs (every event dropped once the queue fills). Each configuration
// reports its time and its CPU time (this process, background goroutines
// included: the span exporter's, the payload log's) per request, its
// median ratios to off over the rounds, of wall time and of CPU time (ratio =
// off's time / its time: 1.0 is free, 0.9 is 10% slower).
func BenchmarkTracingOverhead(b *testing.B) {
	reg, _ := benchRegistry(b)
	newSrv := func(opts server.Options) http.Handler {
		eng, err := inference.New(inference.Config{Logger: quietLogger(), Tracer: opts.Tracer})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = eng.Close(context.Background()) })
		opts.Logger, opts.Engine = quietLogger(), eng
		s, err := server.New(reg, opts)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	tracer := func(ratio float64) server.Options {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
			sdktrace.WithSampler(tracing.Sampler(ratio)))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return server.Options{Tracer: tp.Tracer(tracing.Scope)}
	}
	payloads := func(delay time.Duration) server.Options {
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // read whole: net/http then sees the client leave
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
				}
			}
		}))
		b.Cleanup(sink.Close)
		c := config.Default().Logging.Payloads
		c.Enabled, c.SinkURL, c.Timeout = true, sink.URL, config.Duration(200*time.Millisecond)
		l, err := payloadlog.New(c, nil, nil, quietLogger())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_ = l.Close(ctx)
		})
		return server.Options{Payloads: l}
	}
	configs := []struct {
		name string
		h    http.Handler
	}{
		{"off", newSrv(server.Options{})},
		{"trace_1.0", newSrv(tracer(1))},
		{"trace_0.01", newSrv(tracer(0.01))},
		{"payloads", newSrv(payloads(0))},
		{"payloads_sink_hung", newSrv(payloads(time.Hour))},
	}
	for _, c := range configs {
		serveInProcess(b, c.h, 200)
	}
	const rounds = 40
	per := max(b.N/rounds, 200)
	total := make([]time.Duration, len(configs))
	cpu := make([]time.Duration, len(configs))
	ratios := make([][]float64, len(configs))
	cpuRatios := make([][]float64, len(configs))
	b.ResetTimer()
	for r := range rounds {
		took := make([]time.Duration, len(configs))
		used := make([]time.Duration, len(configs))
		for k := range configs {
			i := (k + r) % len(configs) // rotate the order round by round
			c0 := cpuTime()
			took[i] = serveInProcess(b, configs[i].h, per)
			used[i] = cpuTime() - c0
			cpu[i] += used[i]
			total[i] += took[i]
		}
		for i := range configs {
			ratios[i] = append(ratios[i], took[0].Seconds()/took[i].Seconds())
			cpuRatios[i] = append(cpuRatios[i], used[0].Seconds()/used[i].Seconds())
		}
	}
	b.StopTimer()
	for i, c := range configs {
		slices.Sort(ratios[i])
		slices.Sort(cpuRatios[i])
		b.ReportMetric(float64(total[i].Nanoseconds())/float64(rounds*per), c.name+"_ns/req")
		b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(rounds*per), c.name+"_cpu_ns/req")
		if i > 0 {
			b.ReportMetric(ratios[i][rounds/2], c.name+"/off")
			b.ReportMetric(cpuRatios[i][rounds/2], c.name+"/off_cpu")
		}
	}
}
