package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/traffic"
)

// BenchmarkShadowOverhead measures what shadow traffic costs the primary
// at moderate load, over HTTP on loopback: the sample sentiment-v1 serves
// held-out texts at benchShadowRate requests per second (open loop, each
// request on its own goroutine at its scheduled time) in rounds of
// benchShadowRound requests: without traffic, without traffic again (the
// A/A control: p99-ratio-aa is the noise floor of p99-ratio on the
// machine), and with sentiment-v2 shadowing every request, in the same
// run (off, aa, shadow, off, aa, shadow...). It fails if any answer
// differs between rounds, and reports each side's p50 and p99, the ratios
// shadow/off and aa/off, and the share of requests compared. Sub-benchmarks:
// yield, the comparisons wait for the engine to be idle (the server's
// wiring), and eager, they do not (the behaviour before idle-time
// scheduling), each against its own off rounds.
//
//	go test -run '^$' -bench ShadowOverhead -benchtime 100x -count 3 ./internal/app/
func BenchmarkShadowOverhead(b *testing.B) {
	b.Run("yield", func(b *testing.B) { benchShadowOverhead(b, true) })
	b.Run("eager", func(b *testing.B) { benchShadowOverhead(b, false) })
}

func benchShadowOverhead(b *testing.B, yield bool) {
	texts, _ := heldOutSentiment(&testing.T{})
	if len(texts) == 0 {
		b.Fatal("no held-out texts")
	}
	root := b.TempDir()
	for _, v := range []string{"v1", "v2"} {
		copyFileB(b, "../../models/sentiment/"+v+"/model.joblib", filepath.Join(root, "sentiment", v, "model.joblib"))
	}
	c := config.Default()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	repo, err := model.OpenRepository(root)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := inference.New(inference.Config{MaxQueue: c.Queue.MaxSize, MaxBatchSize: c.MaxBatchSize,
		BatchTimeout: time.Duration(c.BatchTimeoutMS) * time.Millisecond, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(context.Background())
	topts := traffic.Options{Logger: log}
	if yield {
		topts.Busy = eng
	}
	tm, err := traffic.New(topts)
	if err != nil {
		b.Fatal(err)
	}
	defer tm.Close()
	reg := model.NewRegistry(repo, Loaders(c, log), model.Options{DefaultModel: "sentiment-v1",
		Subscribers: append(Subscribers(eng, nil, nil, log), tm.OnEvent)}, log)
	if err := reg.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer reg.Close(context.Background())
	s, err := server.New(reg, server.Options{Logger: log, Engine: eng, Traffic: tm})
	if err != nil {
		b.Fatal(err)
	}
	texts = texts[:benchShadowRound] // short rounds: off, aa and shadow alternate often and share the machine's noise
	ts := httptest.NewServer(s)
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	bodies := make([]string, len(texts))
	for i, t := range texts {
		q, _ := json.Marshal(api.PredictRequest{Text: t, ModelVersion: "sentiment"})
		bodies[i] = string(q)
	}
	// round serves every text once at the rate and returns the latencies
	// and the answers (label and confidence).
	round := func() ([]float64, []string) {
		lat := make([]float64, len(bodies))
		ans := make([]string, len(bodies))
		var wg sync.WaitGroup
		start := time.Now()
		for i, body := range bodies {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / benchShadowRate)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				resp, err := hc.Post(ts.URL+"/predict", "application/json", strings.NewReader(body))
				if err != nil {
					ans[i] = err.Error()
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = float64(time.Since(t0).Microseconds()) / 1000
				var p api.PredictResponse
				if resp.StatusCode != 200 || json.Unmarshal(out, &p) != nil || p.ModelVersion != "sentiment-v1" {
					ans[i] = fmt.Sprintf("status %d: %s", resp.StatusCode, out)
					return
				}
				ans[i] = fmt.Sprintf("%s %.17g", p.Label, p.Confidence)
			}()
		}
		wg.Wait()
		return lat, ans
	}
	round() // warm up
	// Three rounds per iteration: off, A/A (off again: the noise floor of
	// the figures on this machine) and shadow. A shadow round ends when
	// every one of its comparisons ran (bounded), so that none spills
	// into the next round and the shadow figures include all the work.
	var off, aa, shadow []float64
	var want []string
	var compared, dropped int64
	var candP50 []float64 // the candidate's model latency, per shadow round
	for b.Loop() {
		for _, mode := range []string{api.TrafficOff, "aa", api.TrafficShadow} {
			if mode == api.TrafficShadow {
				if _, err := tm.Set("sentiment", api.TrafficPolicy{Candidate: "sentiment-v2", Mode: api.TrafficShadow}, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			lat, ans := round()
			switch mode {
			case api.TrafficShadow:
				v, _ := tm.View("sentiment")
				for deadline := time.Now().Add(2 * time.Second); v.Stats.Compared+v.Stats.Dropped+v.Stats.Errors < v.Stats.Requests && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
					v, _ = tm.View("sentiment")
				}
				if v.Stats.Requests != int64(len(bodies)) {
					b.Fatalf("shadow saw %d of %d requests", v.Stats.Requests, len(bodies))
				}
				compared, dropped = compared+v.Stats.Compared, dropped+v.Stats.Dropped
				candP50 = append(candP50, v.Stats.CandidateLatencyMS.P50)
				if _, err := tm.Set("sentiment", api.TrafficPolicy{Mode: api.TrafficOff}, "bench"); err != nil {
					b.Fatal(err)
				}
				shadow = append(shadow, lat...)
			case "aa":
				aa = append(aa, lat...)
			default:
				off = append(off, lat...)
			}
			if want == nil {
				want = ans
			} else if !slices.Equal(ans, want) {
				for i := range ans {
					if ans[i] != want[i] {
						b.Fatalf("text %d answered %q with %s traffic, %q before", i, ans[i], mode, want[i])
					}
				}
			}
		}
	}
	q := func(xs []float64, p float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[min(int(p*float64(len(s))), len(s)-1)]
	}
	b.ReportMetric(q(off, 0.5), "p50-off-ms")
	b.ReportMetric(q(shadow, 0.5), "p50-shadow-ms")
	b.ReportMetric(q(off, 0.99), "p99-off-ms")
	b.ReportMetric(q(shadow, 0.99), "p99-shadow-ms")
	b.ReportMetric(q(shadow, 0.5)/q(off, 0.5), "p50-ratio")
	b.ReportMetric(q(shadow, 0.99)/q(off, 0.99), "p99-ratio")
	b.ReportMetric(q(aa, 0.5)/q(off, 0.5), "p50-ratio-aa")
	b.ReportMetric(q(aa, 0.99)/q(off, 0.99), "p99-ratio-aa")
	b.ReportMetric(float64(compared)/float64(len(shadow)), "compared-share")
	b.ReportMetric(float64(dropped), "dropped")
	b.ReportMetric(q(candP50, 0.5), "p50-candidate-model-ms")
	b.ReportMetric(0, "ns/op")
}

// benchShadowRate is BenchmarkShadowOverhead's request rate: moderate for
// the sample model on two cores (well under a fifth of its capacity).
const benchShadowRate = 500

// benchShadowRound is how many requests one round (off or shadow) serves.
const benchShadowRound = 25

func copyFileB(b *testing.B, src, dst string) {
	b.Helper()
	t := &testing.T{}
	copyFile(t, src, dst)
	if t.Failed() {
		b.Fatalf("copy %s", src)
	}
}
