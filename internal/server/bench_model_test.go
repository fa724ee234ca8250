package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/server"
)

// oneModel serves a single loaded model under its id.
type oneModel struct {
	id  string
	m   model.Model
	man *model.Manifest
}

func (o *oneModel) Resolve(ref string) (*model.Handle, error) {
	if ref != o.id {
		return nil, model.ErrNotFound
	}
	return model.NewHandle(o.id, o.m, o.man, nil), nil
}
func (o *oneModel) List() []model.Status                 { return nil }
func (o *oneModel) Get(string) (model.Status, error)     { return model.Status{}, model.ErrNotFound }
func (o *oneModel) Unload(context.Context, string) error { return model.ErrNotFound }
func (o *oneModel) Install(context.Context, model.InstallRequest) (model.Status, error) {
	return model.Status{}, model.ErrInvalid
}
func (o *oneModel) SetDefault(context.Context, string, string) error { return model.ErrNotFound }
func (o *oneModel) Ready() bool                                      { return true }

// benchRegistry serves the sample spam-v1 model read by the sklearn backend.
func benchRegistry(b *testing.B) (server.Registry, string) {
	m, err := sklearn.Load(filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return &oneModel{id: "spam-v1", m: m}, "spam-v1"
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// spamWithManifest is benchRegistry's spam-v1 with its model.yaml's
// manifest attached (what monitoring needs: drift reference, OOV), and that
// manifest.
func spamWithManifest(b *testing.B) (*oneModel, *model.Manifest) {
	b.Helper()
	reg, _ := benchRegistry(b)
	mb, err := os.ReadFile(filepath.Join("..", "..", "models", "spam", "v1", "model.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	man, _, err := model.ParseManifest(mb)
	if err != nil {
		b.Fatal(err)
	}
	om := reg.(*oneModel)
	om.man = man
	return om, man
}

// onOff is what interleavedRounds measured: requests answered by each
// server and CPU (server and client, this process) per request.
type onOff struct {
	onN, offN   int
	onUS, offUS float64
}

// interleavedRounds loads the servers at on and off with the same spam
// request (b.N of them, at least 2,000, split evenly) in many short
// interleaved rounds, each on/off pair back to back with the order
// alternating, so that the median of the pairs' ratios resists the bursts
// of other work on a shared machine. It reports both throughputs, that
// median and the CPU per request, and returns the counts for the caller's
// own metrics.
func interleavedRounds(b *testing.B, on, off string) onOff {
	b.Helper()
	body := []byte(`{"text": "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now.", "model_version": "spam-v1"}`)
	n := max(b.N, 2000)
	load(b, on+"/predict", body, 200)
	load(b, off+"/predict", body, 200)
	b.ResetTimer()
	const rounds = 40
	var onN, offN int
	var onEl, offEl, onCPU, offCPU time.Duration
	ratios := make([]float64, 0, rounds)
	for r := range rounds {
		var onL, offL []time.Duration
		var onE, offE time.Duration
		runOn := func() {
			c0 := cpuTime()
			onL, onE = load(b, on+"/predict", body, n/rounds)
			onCPU += cpuTime() - c0
		}
		runOff := func() {
			c0 := cpuTime()
			offL, offE = load(b, off+"/predict", body, n/rounds)
			offCPU += cpuTime() - c0
		}
		if r%2 == 0 {
			runOn()
			runOff()
		} else {
			runOff()
			runOn()
		}
		onN, onEl, offN, offEl = onN+len(onL), onEl+onE, offN+len(offL), offEl+offE
		ratios = append(ratios, (float64(len(onL))/onE.Seconds())/(float64(len(offL))/offE.Seconds()))
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(onN)/onEl.Seconds(), "on_req/s")
	b.ReportMetric(float64(offN)/offEl.Seconds(), "off_req/s")
	b.ReportMetric(ratios[len(ratios)/2], "on/off_median")
	// CPU per request: what throughput is bound by on saturated cores, and
	// less swayed by other processes than wall time.
	r := onOff{onN: onN, offN: offN,
		onUS: float64(onCPU.Microseconds()) / float64(onN), offUS: float64(offCPU.Microseconds()) / float64(offN)}
	b.ReportMetric(r.onUS, "on_cpu_us/req")
	b.ReportMetric(r.offUS, "off_cpu_us/req")
	return r
}
