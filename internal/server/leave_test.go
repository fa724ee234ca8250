package server_test

import (
	"testing"

	"github.com/mlserve/mlserve/internal/server"
)

// TestLeave: once the server leaves (SIGTERM, during shutdown_delay) every
// readiness check fails while predictions are still answered on their
// keep-alive connection (no Connection: close: that is Drain's, later).
func TestLeave(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	before := []struct {
		path string
		want int
	}{{"/health/ready", 200}, {"/v2/health/ready", 200}, {"/v2/models/spam/ready", 200}}
	for _, c := range before {
		if w := do(t, s, call{method: "GET", path: c.path}); w.Code != c.want {
			t.Fatalf("before leaving: %s %d, want %d", c.path, w.Code, c.want)
		}
	}
	s.Leave()
	if s.ServerReady() {
		t.Error("ServerReady after Leave")
	}
	for _, path := range []string{"/health/ready", "/v2/health/ready", "/v2/models/spam/ready"} {
		if w := do(t, s, call{method: "GET", path: path}); w.Code == 200 {
			t.Errorf("after leaving: %s answers 200", path)
		}
	}
	for _, path := range []string{"/health/live", "/v2/health/live"} {
		if w := do(t, s, call{method: "GET", path: path}); w.Code != 200 {
			t.Errorf("after leaving: %s answers %d, want 200 (alive)", path, w.Code)
		}
	}
	w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"great stuff"}`})
	if w.Code != 200 {
		t.Fatalf("predict after leaving: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Connection") == "close" {
		t.Error("a response while leaving closes its connection")
	}
	s.Drain()
	if w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"great stuff"}`}); w.Code != 200 || w.Header().Get("Connection") != "close" {
		t.Errorf("predict while draining: %d, Connection %q (want 200, close)", w.Code, w.Header().Get("Connection"))
	}
}
