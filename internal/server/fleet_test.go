package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/monitoring"
	fleetredis "github.com/mlserve/mlserve/internal/monitoring/redis"
	"github.com/mlserve/mlserve/internal/server"
)

// newShared returns a monitored server whose monitor shares through the
// Redis at url, tracking spam-v1 as the Loaded event would.
func newShared(t *testing.T, url, replica string) (*server.Server, *monitoring.Monitor) {
	t.Helper()
	mon, err := monitoring.New(config.Monitoring{Drift: config.Drift{Window: 20, Bootstrap: 4, FeedbackWindow: 10, MinFeedback: 4}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fleetredis.New(fleetredis.Options{URL: url, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	mon.ShareWith(f, replica)
	if err := mon.Track("spam-v1", []string{"negative", "positive"}, nil); err != nil {
		t.Fatal(err)
	}
	return newServer(t, newFakeRegistry(), server.Options{Monitor: mon}), mon
}

// TestFleetEndpoints: through the HTTP handlers, feedback for a
// prediction answered by one server is taken by another sharing Redis;
// GET /stats says the figures are shared, ?scope=fleet sums both servers'
// requests; a bad scope is a 422; without monitoring scope=fleet answers
// this server's figures and says why.
func TestFleetEndpoints(t *testing.T) {
	rs := redistest.Start(t)
	a, monA := newShared(t, rs.URL(), "a")
	b, monB := newShared(t, rs.URL(), "b")
	w := do(t, a, call{method: "POST", path: "/predict", body: `{"text":"good news","model_version":"spam-v1"}`,
		header: map[string]string{"X-Request-ID": "fleet-1"}})
	var r api.PredictResponse
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &r) != nil || r.RequestID != "fleet-1" {
		t.Fatalf("predict: %d %s", w.Code, w.Body)
	}
	rid, label := r.RequestID, r.Label
	do(t, a, call{method: "POST", path: "/predict", body: `{"text":"bad news","model_version":"spam-v1"}`})
	do(t, b, call{method: "POST", path: "/predict", body: `{"text":"bad news","model_version":"spam-v1"}`})
	var fb api.FeedbackResponse
	w = do(t, b, call{method: "POST", path: "/feedback", body: `{"request_id":"` + rid + `","label":"` + label + `"}`})
	for end := time.Now().Add(5 * time.Second); w.Code == 404 && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		w = do(t, b, call{method: "POST", path: "/feedback", body: `{"request_id":"` + rid + `","label":"` + label + `"}`})
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &fb) != nil || !fb.Correct || fb.LiveAccuracy != 1 {
		t.Fatalf("feedback on B for A's prediction: %d %s", w.Code, w.Body)
	}
	if w := do(t, a, call{method: "POST", path: "/feedback", body: `{"request_id":"` + rid + `","label":"` + label + `"}`}); w.Code != 404 {
		t.Errorf("second feedback on A: %d %s, want 404", w.Code, w.Body)
	}

	stats := func(s *server.Server, path string) api.Stats {
		t.Helper()
		w := do(t, s, call{method: "GET", path: path})
		var st api.Stats
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &st) != nil {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return st
	}
	st := stats(a, "/stats")
	if st.Scope != "replica" || st.Fleet == nil || st.Fleet.State != "shared" || st.Models["spam-v1"].Requests != 2 {
		t.Errorf("A's /stats: scope %q fleet %+v spam-v1 %+v", st.Scope, st.Fleet, st.Models["spam-v1"])
	}
	if acc := st.Models["spam-v1"].LiveAccuracy; acc == nil || *acc != 1 {
		t.Errorf("A's /stats lacks the live accuracy of B's feedback: %v", acc)
	}
	// The counts reach Redis on the monitors' flush (RunFleet in the serve
	// command); flush by hand.
	monA.FlushFleet(context.Background())
	monB.FlushFleet(context.Background())
	fs := stats(b, "/stats?scope=fleet")
	if fs.Scope != "fleet" || fs.Fleet == nil || fs.Fleet.State != "shared" || fs.Fleet.Replicas != 2 ||
		fs.Models["spam-v1"].Requests != 3 || fs.Models["spam-v1"].Feedback != 1 {
		t.Errorf("fleet stats: scope %q fleet %+v spam-v1 %+v, want 2 replicas, 3 requests, 1 feedback", fs.Scope, fs.Fleet, fs.Models["spam-v1"])
	}
	if w := do(t, b, call{method: "GET", path: "/stats?scope=galaxy"}); w.Code != 422 || !strings.Contains(w.Body.String(), "scope") {
		t.Errorf("bad scope: %d %s, want 422 naming scope", w.Code, w.Body)
	}

	off := newServer(t, newFakeRegistry(), server.Options{})
	do(t, off, call{method: "POST", path: "/predict", body: `{"text":"good"}`})
	st = stats(off, "/stats?scope=fleet")
	if st.Scope != "replica" || st.Fleet == nil || st.Fleet.State != "off" || st.Models["sentiment-v2"].Requests != 1 {
		t.Errorf("scope=fleet with monitoring off: scope %q fleet %+v models %v", st.Scope, st.Fleet, st.Models)
	}
}
