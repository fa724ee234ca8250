package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
)

// TestEncodableTransformer: a huma route whose body JSON cannot carry (a
// NaN figure) answers a 500 problem saying so, not a 200 without a body.
func TestEncodableTransformer(t *testing.T) {
	s, err := New(nil, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		Body struct {
			Score float64 `json:"score"`
		}
	}
	for name, v := range map[string]float64{"ok": 0.5, "nan": math.NaN(), "inf": math.Inf(-1)} {
		huma.Register(s.api, huma.Operation{OperationID: "score-" + name, Method: http.MethodGet, Path: "/test/" + name},
			func(context.Context, *struct{}) (*out, error) {
				o := &out{}
				o.Body.Score = v
				return o, nil
			})
	}
	for path, want := range map[string]int{"/test/ok": 200, "/test/nan": 500, "/test/inf": 500} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want || w.Body.Len() == 0 {
			t.Errorf("%s: %d %q, want %d with a body", path, w.Code, w.Body, want)
			continue
		}
		if want == 500 {
			var p api.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != 500 || !strings.Contains(p.Detail, "cannot be encoded") {
				t.Errorf("%s: %v %+v", path, err, p)
			}
			if ct := w.Header().Get("Content-Type"); ct != api.ProblemContentType {
				t.Errorf("%s: Content-Type %q", path, ct)
			}
		}
	}
}
