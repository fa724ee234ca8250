package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/loadgen"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

// BenchmarkServe is the server's own cost per request, without the network:
// Server.ServeHTTP on recorded requests, as `mlserve serve` is assembled
// (engine, monitoring with the manifest's drift reference, no cache), for a
// /predict of one load-generator e-mail and a /batch-predict of 100, through
// the fast path and through huma. The model's share is in model_µs/op (the
// same texts straight to Model.Predict); allocations are reported.
//
//	go test -run '^$' -bench Serve -benchmem ./internal/server
func BenchmarkServe(b *testing.B) {
	texts := loadgen.Corpus()
	one, _ := json.Marshal(api.PredictRequest{Text: texts[1], ModelVersion: "spam-v1"})
	hundred, _ := json.Marshal(api.BatchPredictRequest{Texts: texts[:100], ModelVersion: "spam-v1"})
	for _, tc := range []struct {
		name, path string
		body       []byte
		texts      []string
	}{
		{"predict", "/predict", one, texts[1:2]},
		{"batch100", "/batch-predict", hundred, texts[:100]},
	} {
		for _, fast := range []bool{true, false} {
			name := tc.name + "/fast"
			if !fast {
				name = tc.name + "/huma"
			}
			b.Run(name, func(b *testing.B) {
				s, m := servedAsServe(b)
				if !fast {
					server.DisableFastPath(s)
				}
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(string(tc.body)))
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					s.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
				b.StopTimer()
				// The model alone on the same texts, for the share left to the server.
				const n = 200
				start := cpuTime()
				for range n {
					if _, err := m.Predict(context.Background(), tc.texts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-start).Microseconds())/n, "model_µs/op")
			})
		}
	}
}

// servedAsServe is a server over spam-v1 with an engine and monitoring, as
// the serve command assembles it, and the model.
func servedAsServe(b *testing.B) (*server.Server, model.Model) {
	b.Helper()
	om, man := spamWithManifest(b)
	reg := om
	met, err := monitoring.NewMetrics(prometheus.NewRegistry())
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
	eng, err := inference.New(inference.Config{Logger: quietLogger(), Observe: func(bi inference.BatchInfo) {
		name, version, _ := model.SplitID(bi.ID)
		met.ObserveBatch(name, version, bi.Size, bi.Waits, bi.Inference, bi.Err == nil, bi.Queued)
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(context.Background()) })
	s, err := server.New(reg, server.Options{Logger: quietLogger(), Engine: eng, Monitor: mon})
	if err != nil {
		b.Fatal(err)
	}
	return s, om.m
}
