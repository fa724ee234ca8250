package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/ui"
)

// TestUIMount: /ui answers only with a dashboard, tells the page what the
// admin API asks of its client, and the history samples GET /stats.
func TestUIMount(t *testing.T) {
	off := newServer(t, newFakeRegistry(), server.Options{})
	if w := do(t, off, call{method: "GET", path: "/ui"}); w.Code != http.StatusNotFound {
		t.Errorf("ui off: GET /ui answered %d", w.Code)
	}
	d, err := ui.New(ui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, remote, want string
	}{
		{"token configured", "s3cret", "", ui.AdminToken},
		{"no token, loopback", "", "", ui.AdminOpen},
		{"no token, remote", "", "192.0.2.7:5000", ui.AdminClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, newFakeRegistry(), server.Options{UI: d, AdminToken: c.token})
			w := do(t, s, call{method: "GET", path: "/ui", remote: c.remote})
			if w.Code != http.StatusOK {
				t.Fatalf("GET /ui: %d", w.Code)
			}
			if want := `<meta name="mlserve-admin" content="` + c.want + `">`; !strings.Contains(w.Body.String(), want) {
				t.Errorf("page lacks %s", want)
			}
		})
	}
	s := newServer(t, newFakeRegistry(), server.Options{UI: d})
	for range 3 {
		if w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"great stuff","model_version":"sentiment-v1"}`}); w.Code != 200 {
			t.Fatalf("predict: %d %s", w.Code, w.Body)
		}
	}
	st := s.Stats(context.Background())
	if st.Models["sentiment-v1"].Requests != 3 {
		t.Fatalf("Stats: %+v", st.Models)
	}
	h := st.Models["sentiment-v1"].LatencyHistogram
	if len(h) != len(api.LatencyBucketsMS)+1 || h[len(h)-1].LE != nil {
		t.Fatalf("latency histogram: %+v", h)
	}
	var n int64
	for _, b := range h {
		n += b.Count
	}
	if n != 3 {
		t.Errorf("latency histogram counts %d requests, want 3", n)
	}
	d.History().Sample(time.Now(), st)
	w := do(t, s, call{method: "GET", path: "/ui/history"})
	var snap struct {
		Models map[string]json.RawMessage `json:"models"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &snap); err != nil || snap.Models["sentiment-v1"] == nil {
		t.Errorf("history: %v %s", err, w.Body)
	}
}

// TestLatencyHistogramWithMonitoring: the monitor's figures replace the
// server's own in /stats, the histogram stays.
func TestLatencyHistogramWithMonitoring(t *testing.T) {
	s, _, _ := newMonitored(t, server.Options{})
	for range 2 {
		if w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"great stuff","model_version":"sentiment-v1"}`}); w.Code != 200 {
			t.Fatalf("predict: %d %s", w.Code, w.Body)
		}
	}
	m := s.Stats(context.Background()).Models["sentiment-v1"]
	var n int64
	for _, b := range m.LatencyHistogram {
		n += b.Count
	}
	if n != 2 || m.Drift == "" {
		t.Errorf("monitored stats: histogram counts %d (want 2), drift %q", n, m.Drift)
	}
}
