package server_test

import (
	"fmt"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// loadingRegistry is a fakeRegistry whose "sentiment-v3" is in the
// repository but still loading, as the model registry reports it.
type loadingRegistry struct{ *fakeRegistry }

func (r loadingRegistry) Resolve(ref string) (*model.Handle, error) {
	if ref == "sentiment-v3" || ref == "loading" {
		return nil, fmt.Errorf("%w: %s is loading", model.ErrNotReady, ref)
	}
	return r.fakeRegistry.Resolve(ref)
}

func (r loadingRegistry) Get(id string) (model.Status, error) {
	if id == "sentiment-v3" {
		return model.Status{}, fmt.Errorf("%w: the model repository is still being read", model.ErrNotReady)
	}
	return r.fakeRegistry.Get(id)
}

// TestNotReadyIs503: a version on its way (model.ErrNotReady) is a 503 with
// Retry-After on /predict, /batch-predict and model reads, so a load
// balancer retries it; only what the registry does not know is a 404.
func TestNotReadyIs503(t *testing.T) {
	s := newServer(t, loadingRegistry{newFakeRegistry()}, server.Options{})
	tests := []struct {
		name  string
		c     call
		want  int
		retry bool
	}{
		{"predict loading id", call{method: "POST", path: "/predict", body: `{"text": "x", "model_version": "sentiment-v3"}`}, 503, true},
		{"predict loading name", call{method: "POST", path: "/predict", body: `{"text": "x", "model_version": "loading"}`}, 503, true},
		{"batch loading id", call{method: "POST", path: "/batch-predict", body: `{"texts": ["x"], "model_version": "sentiment-v3"}`}, 503, true},
		{"model read loading", call{method: "GET", path: "/models/sentiment-v3"}, 503, true},
		{"predict unknown", call{method: "POST", path: "/predict", body: `{"text": "x", "model_version": "nope-v9"}`}, 404, false},
		{"model read unknown", call{method: "GET", path: "/models/nope-v9"}, 404, false},
		{"predict ready", call{method: "POST", path: "/predict", body: `{"text": "x", "model_version": "sentiment-v1"}`}, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, tt.c)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if got := w.Header().Get("Retry-After"); (got != "") != tt.retry || (tt.retry && got != "1") {
				t.Fatalf("Retry-After %q (want it: %v)", got, tt.retry)
			}
			if tt.want == 503 && problemOf(t, w).Status != 503 {
				t.Fatalf("problem %s", w.Body)
			}
		})
	}
}
