package server_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/server"
)

// FuzzPredictBody sends arbitrary bytes as a /predict or /batch-predict body:
// the answer is 200 with a label or a 4xx problem document, never a 5xx.
func FuzzPredictBody(f *testing.F) {
	for _, seed := range []string{
		`{"text":"good"}`, `{"texts":["a","b"]}`, `{"text":`, `{"text":5}`, "{\"text\":\"\xff\"}",
		`{"text":"x","model_version":"nope"}`, `{"texts":[]}`, `[]`, `null`, `{"text":"x","timeout_ms":-1}`,
		`{"text":"\u0000"}`, `{"text":"a","return_probabilities":"yes"}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	s, err := server.New(newFakeRegistry(), server.Options{Logger: quietLogger(), MaxBodyBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		if bytes.Contains(body, []byte("slow")) || bytes.Contains(body, []byte("boom")) {
			return // the fake model's triggers for 504 and 500
		}
		path := "/predict"
		if batch {
			path = "/batch-predict"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch {
		case w.Code == 200:
			if !json.Valid(w.Body.Bytes()) || !bytes.Contains(w.Body.Bytes(), []byte(`"model_version"`)) {
				t.Fatalf("200 with %s", w.Body)
			}
		case w.Code >= 400 && w.Code < 500:
			var p api.Problem
			if w.Header().Get("Content-Type") != api.ProblemContentType || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code || p.Errors == nil {
				t.Fatalf("%d without a problem document: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
