package server_test

import (
	"encoding/json"
	"testing"

	"github.com/mlserve/mlserve/internal/server"
)

// TestHealthBodiesTheKServeSDKReads: the OIP specification reads a health
// check's status alone, but the KServe SDK's InferenceRESTClient also reads
// {"live": true}, {"ready": true} (V2) and, for KServe V1, GET / answering
// {"status": "alive"} (python/interop/kserve_suite drives the SDK itself).
// "/" is that route only: every other unknown path stays a 404.
func TestHealthBodiesTheKServeSDKReads(t *testing.T) {
	reg := newFakeRegistry()
	s := newServer(t, reg, server.Options{})
	tests := []struct {
		name, method, path string
		want               int
		body               map[string]any // nil: not checked
	}{
		{name: "v2 live", method: "GET", path: "/v2/health/live", want: 200, body: map[string]any{"live": true}},
		{name: "v2 ready", method: "GET", path: "/v2/health/ready", want: 200, body: map[string]any{"ready": true}},
		{name: "v1 live", method: "GET", path: "/", want: 200, body: map[string]any{"status": "alive"}},
		{name: "root post", method: "POST", path: "/", want: 405},
		{name: "unknown path is not root", method: "GET", path: "/nope", want: 404},
		{name: "unknown nested path", method: "GET", path: "/nope/alive", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, call{method: tt.method, path: tt.path})
			if w.Code != tt.want {
				t.Fatalf("%s %s: status %d, want %d: %s", tt.method, tt.path, w.Code, tt.want, w.Body)
			}
			if tt.body == nil {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s: body %q: %v", tt.path, w.Body, err)
			}
			if len(got) != len(tt.body) {
				t.Fatalf("%s: body %v, want %v", tt.path, got, tt.body)
			}
			for k, v := range tt.body {
				if got[k] != v {
					t.Fatalf("%s: body %v, want %v", tt.path, got, tt.body)
				}
			}
		})
	}
	t.Run("v2 not ready stays a 400 error", func(t *testing.T) {
		reg.mu.Lock()
		reg.ready = false
		reg.mu.Unlock()
		defer func() { reg.mu.Lock(); reg.ready = true; reg.mu.Unlock() }()
		oipErr(t, do(t, s, call{method: "GET", path: "/v2/health/ready"}), 400)
	})
	t.Run("documented", func(t *testing.T) {
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(do(t, s, call{method: "GET", path: "/openapi.json"}).Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/", "/v2/health/live", "/v2/health/ready"} {
			if _, ok := doc.Paths[p]["get"]; !ok {
				t.Errorf("openapi lacks GET %s", p)
			}
		}
	})
}
