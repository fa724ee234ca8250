package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mlserve/mlserve/api"
)

func TestClientFeedbackAndDrift(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /feedback", func(w http.ResponseWriter, r *http.Request) {
		var req api.FeedbackRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		if req.RequestID != "r1/0" {
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"title":"Not Found","status":404,"detail":"unknown or expired request id"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(api.FeedbackResponse{ModelVersion: "spam-v1", Predicted: "spam", Correct: req.Label == "spam", LiveAccuracy: 0.5})
	})
	mux.HandleFunc("GET /models/{id}/drift", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.DriftStatus{Model: r.PathValue("id"), Status: "warn",
			Signals: []api.DriftSignal{{Signal: "oov_rate", PSI: 0.12, Status: "warn"}}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := api.NewClient(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fb, err := c.Feedback(ctx, "r1/0", "ham")
	if err != nil || fb.Correct || fb.Predicted != "spam" || fb.LiveAccuracy != 0.5 {
		t.Errorf("Feedback = %+v, %v", fb, err)
	}
	var ae *api.Error
	if _, err := c.Feedback(ctx, "gone", "ham"); !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("unknown request: %v", err)
	}
	d, err := c.Drift(ctx, "spam-v1")
	if err != nil || d.Model != "spam-v1" || d.Status != "warn" || len(d.Signals) != 1 || d.Signals[0].PSI != 0.12 {
		t.Errorf("Drift = %+v, %v", d, err)
	}
}
