package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/traffic"
)

func newTrafficServer(t *testing.T, opts server.Options) (*server.Server, *traffic.Manager) {
	t.Helper()
	tm, err := traffic.New(traffic.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tm.Close)
	opts.Traffic = tm
	return newServer(t, newFakeRegistry(), opts), tm
}

// TestTrafficRoutes: the traffic routes are admin routes; a canary of 100%
// answers every request that names the model by name, through the fast
// path and through huma, and none that pins a version; /stats shows it.
func TestTrafficRoutes(t *testing.T) {
	t.Run("admin token", func(t *testing.T) {
		s, _ := newTrafficServer(t, server.Options{AdminToken: "s3cret"})
		for _, c := range []call{
			{method: "GET", path: "/models/sentiment/traffic"},
			{method: "PUT", path: "/models/sentiment/traffic", body: `{"candidate": "v1", "mode": "shadow"}`},
		} {
			if w := do(t, s, c); w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s without the token: %d, want 401", c.method, c.path, w.Code)
			}
		}
		w := do(t, s, call{method: "PUT", path: "/models/sentiment/traffic", body: `{"candidate": "v1", "mode": "shadow"}`,
			header: map[string]string{"Authorization": "Bearer s3cret"}})
		if w.Code != 200 {
			t.Fatalf("with the token: %d %s", w.Code, w.Body)
		}
	})
	t.Run("no manager", func(t *testing.T) {
		s := newServer(t, newFakeRegistry(), server.Options{})
		if w := do(t, s, call{method: "PUT", path: "/models/sentiment/traffic", body: `{"candidate": "v1", "mode": "shadow"}`}); w.Code != 404 {
			t.Errorf("PUT without a traffic manager: %d, want 404", w.Code)
		}
	})
	for _, path := range []string{"fast", "huma"} {
		t.Run("canary 100% through "+path, func(t *testing.T) {
			s, _ := newTrafficServer(t, server.Options{})
			if path == "huma" {
				server.DisableFastPath(s)
			}
			w := do(t, s, call{method: "PUT", path: "/models/sentiment/traffic", body: `{"candidate": "v1", "mode": "canary", "share": 1}`})
			if w.Code != 200 {
				t.Fatalf("PUT: %d %s", w.Code, w.Body)
			}
			for _, c := range []struct {
				name, path, body, want string
			}{
				{"by name", "/predict", `{"text": "good", "model_version": "sentiment"}`, "sentiment-v1"},
				{"default model", "/predict", `{"text": "good"}`, "sentiment-v1"},
				{"batch by name", "/batch-predict", `{"texts": ["good", "bad"], "model_version": "sentiment"}`, "sentiment-v1"},
				{"pinned id", "/predict", `{"text": "good", "model_version": "sentiment-v2"}`, "sentiment-v2"},
				{"pinned version", "/predict", `{"text": "good", "model_version": "v2"}`, "sentiment-v2"},
				{"other name", "/predict", `{"text": "good", "model_version": "spam"}`, "spam-v1"},
			} {
				w := do(t, s, call{method: "POST", path: c.path, body: c.body, header: map[string]string{api.TrafficKeyHeader: "u1"}})
				var resp struct {
					ModelVersion string `json:"model_version"`
				}
				if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &resp) != nil || resp.ModelVersion != c.want {
					t.Errorf("%s: %d %s, want an answer from %s", c.name, w.Code, w.Body, c.want)
				}
			}
			w = do(t, s, call{method: "GET", path: "/stats"})
			var st api.Stats
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			v := st.Traffic["sentiment"]
			if v.State != api.TrafficRunning || v.Stats.Requests != 3 || v.Stats.Canary != 3 {
				t.Errorf("/stats traffic %+v, want running with 3 requests, 3 answered by the candidate", v)
			}
		})
	}
}
