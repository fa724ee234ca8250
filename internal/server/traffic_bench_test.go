package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/traffic"
)

// BenchmarkPredictTrafficHook is /predict's cost with the traffic hook in
// the request path but no comparison for the request's model: no manager
// (the baseline), a manager with no policy, and one with a shadow policy
// on another name; run side by side, compare the ns/op.
//
//	go test -run '^$' -bench PredictTrafficHook -benchtime 1s -count 5 ./internal/server/
func BenchmarkPredictTrafficHook(b *testing.B) {
	reg, id := benchRegistry(b)
	body := `{"text": "Subject: meeting moved to 3pm\n\nSee you in room 4.", "model_version": "` + id + `"}`
	for _, c := range []struct {
		name    string
		manager bool
		policy  bool
	}{{"no-manager", false, false}, {"no-policy", true, false}, {"policy-on-another-name", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			opts := server.Options{Logger: quietLogger()}
			if c.manager {
				tm, err := traffic.New(traffic.Options{Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				defer tm.Close()
				if c.policy {
					if _, err := tm.Set("sentiment", api.TrafficPolicy{Candidate: "sentiment-v2", Mode: api.TrafficShadow}, "bench"); err != nil {
						b.Fatal(err)
					}
				}
				opts.Traffic = tm
			}
			s, err := server.New(reg, opts)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				s.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
