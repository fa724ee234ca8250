package server_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	fleetredis "github.com/mlserve/mlserve/internal/monitoring/redis"
	"github.com/mlserve/mlserve/internal/server"
)

// BenchmarkFleetOverhead measures what sharing monitoring through Redis
// (monitoring.fleet) costs POST /predict: two servers on the real spam-v1
// model, both monitored, one sharing through a real redis-server (every
// answer queued for Redis, the writer pipelining, the monitor flushing
// drift bins and counters and reading live accuracy every second), one
// not; rounds interleaved in the same run, benchClients concurrent
// clients. "model": every request runs the model; "cached": every request
// is a memory-cache hit, where the fleet's share of the time is largest;
// "control": neither shares, the measurement's own bias. Reports both
// throughputs, the median on/off ratio of the rounds (target ≥ 0.9), CPU
// per request, and the predictions the fleet dropped (want 0).
func BenchmarkFleetOverhead(b *testing.B) {
	rs := redistest.Start(b)
	for _, tc := range []struct {
		name            string
		cached, control bool
	}{
		{"model", false, false},
		{"cached", true, false},
		{"control", false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			on, off, fleet := fleetPair(b, rs.URL(), tc.cached, tc.control)
			r := interleavedRounds(b, on, off)
			if fleet != nil {
				b.ReportMetric(float64(fleet.Dropped()), "dropped")
				b.ReportMetric(float64(r.onN+200)/float64(max(fleet.Writes(), 1)), "predictions/write")
				if up, detail := fleet.State(); !up {
					b.Errorf("the fleet went down during the run: %s", detail)
				}
			}
		})
	}
}

// fleetPair starts two monitored HTTP servers on the spam model, the first
// sharing through the Redis at url (unless control), and returns their
// URLs and the first one's Fleet.
func fleetPair(b *testing.B, url string, cached, control bool) (on, off string, fleet *fleetredis.Fleet) {
	b.Helper()
	om, man := spamWithManifest(b)
	reg := om
	for i := range 2 {
		met, err := monitoring.NewMetrics(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		mon, err := monitoring.New(config.Monitoring{}, met, quietLogger())
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 && !control {
			if fleet, err = fleetredis.New(fleetredis.Options{URL: url, Logger: quietLogger()}); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { fleet.Close() })
			mon.ShareWith(fleet, "bench")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); mon.RunFleet(ctx) }()
			b.Cleanup(func() { cancel(); <-done })
		}
		if err := mon.Track(om.id, om.m.Labels(), man); err != nil {
			b.Fatal(err)
		}
		eng, err := inference.New(inference.Config{Logger: quietLogger(), Observe: func(bi inference.BatchInfo) {
			name, version, _ := model.SplitID(bi.ID)
			met.ObserveBatch(name, version, bi.Size, bi.Waits, bi.Inference, bi.Err == nil, bi.Queued)
		}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { eng.Close(context.Background()) })
		opts := server.Options{Logger: quietLogger(), Engine: eng, Monitor: mon}
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
	return on, off, fleet
}
