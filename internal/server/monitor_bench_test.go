package server_test

import (
	"context"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

// BenchmarkMonitoringOverhead measures POST /predict throughput through
// HTTP with monitoring on (metrics, drift with the manifest's reference,
// OOV rate, feedback ring, engine batch hook) and off, in the same run,
// rounds interleaved, benchClients concurrent clients, on the real spam-v1
// model as `mlserve serve` runs it. "model": no cache, every request runs
// the model; "cached": every request is a cache hit, where monitoring's
// share of the time is largest; "control": both servers off, the
// measurement's own bias. Reports both throughputs, the median on/off
// ratio of the interleaved rounds (target ≥ 0.9) and CPU per request.
func BenchmarkMonitoringOverhead(b *testing.B) {
	for _, tc := range []struct {
		name            string
		cached, control bool
	}{
		{"model", false, false},
		{"cached", true, false},
		{"control", false, true}, // both off: the measurement's own bias
	} {
		b.Run(tc.name, func(b *testing.B) {
			on, off := monitoredPair(b, tc.cached, tc.control)
			r := interleavedRounds(b, on, off)
			b.ReportMetric(r.offUS/r.onUS, "cpu_on/off")
		})
	}
}

// monitoredPair starts two HTTP servers on the spam model, one monitored
// (unless control) and one not, and returns their URLs.
func monitoredPair(b *testing.B, cached, control bool) (on, off string) {
	b.Helper()
	om, man := spamWithManifest(b)
	reg := om
	pr := prometheus.NewRegistry()
	met, err := monitoring.NewMetrics(pr)
	if err != nil {
		b.Fatal(err)
	}
	mon, err := monitoring.New(config.Monitoring{}, met, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	// As the registry's Loaded event has it tracked in the serve command.
	if err := mon.Track(om.id, om.m.Labels(), man); err != nil {
		b.Fatal(err)
	}
	if control {
		mon = nil
	}
	for i, m := range []*monitoring.Monitor{mon, nil} {
		cfg := inference.Config{Logger: quietLogger()}
		if m != nil {
			cfg.Observe = func(bi inference.BatchInfo) {
				name, version, _ := model.SplitID(bi.ID)
				met.ObserveBatch(name, version, bi.Size, bi.Waits, bi.Inference, bi.Err == nil, bi.Queued)
			}
		}
		eng, err := inference.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { eng.Close(context.Background()) })
		opts := server.Options{Logger: quietLogger(), Engine: eng, Monitor: m}
		if cached {
			if opts.Cache, err = cache.New(cache.Config{MaxSize: 1000}); err != nil {
				b.Fatal(err)
			}
		}
		s, err := server.New(reg, opts)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(s)
		b.Cleanup(srv.Close)
		if i == 0 {
			on = srv.URL
		} else {
			off = srv.URL
		}
	}
	return on, off
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
