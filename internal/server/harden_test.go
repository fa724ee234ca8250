package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/mlserve/mlserve/internal/rawhttp"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// badNumberModel answers with a non-finite confidence ("nan" in the text),
// or a non-finite probability ("inf"), else a normal answer.
type badNumberModel struct{}

func (badNumberModel) Predict(_ context.Context, texts []string) ([]model.Prediction, error) {
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		out[i] = model.Prediction{Label: "a", Confidence: 0.7, Probabilities: []float64{0.7, 0.3}}
		if strings.Contains(t, "nan") {
			out[i].Confidence = math.NaN()
		}
		if strings.Contains(t, "inf") {
			out[i].Probabilities[1] = math.Inf(1)
		}
	}
	return out, nil
}
func (badNumberModel) Labels() []string { return []string{"a", "b"} }
func (badNumberModel) Info() model.Info { return model.Info{Framework: "fake", Probabilistic: true} }
func (badNumberModel) Close() error     { return nil }

// TestNonFiniteAnswerIs500: a model that answers NaN or infinity gets a
// 500 problem naming the model and the non-finite value, on both paths and
// both endpoints, never a 200 with an empty body.
func TestNonFiniteAnswerIs500(t *testing.T) {
	reg := &oneModel{id: "nan-v1", m: badNumberModel{}}
	fast := newServer(t, reg, server.Options{})
	slow := newServer(t, reg, server.Options{})
	server.DisableFastPath(slow)
	tests := []struct{ name, path, body, want string }{
		{"predict NaN confidence", "/predict", `{"text":"nan","model_version":"nan-v1"}`, "non-finite confidence"},
		{"predict infinite probability", "/predict", `{"text":"inf","model_version":"nan-v1","return_probabilities":true}`, "non-finite probability"},
		{"batch NaN confidence", "/batch-predict", `{"texts":["ok","nan"],"model_version":"nan-v1"}`, "non-finite confidence"},
		{"batch infinite probability, not asked for", "/batch-predict", `{"texts":["inf"],"model_version":"nan-v1"}`, "non-finite probability"},
	}
	for _, tt := range tests {
		for pathName, s := range map[string]*server.Server{"fast": fast, "huma": slow} {
			t.Run(tt.name+"/"+pathName, func(t *testing.T) {
				w := do(t, s, call{method: "POST", path: tt.path, body: tt.body})
				if w.Code != http.StatusInternalServerError {
					t.Fatalf("status %d: %q", w.Code, w.Body)
				}
				p := problemOf(t, w)
				if !strings.Contains(p.Detail, "nan-v1") || !strings.Contains(p.Detail, tt.want) {
					t.Errorf("detail %q does not name the model and %q", p.Detail, tt.want)
				}
			})
		}
	}
	// A finite answer from the same model is still a 200.
	if w := do(t, fast, call{method: "POST", path: "/predict", body: `{"text":"ok","model_version":"nan-v1"}`}); w.Code != 200 || w.Body.Len() == 0 {
		t.Errorf("finite answer: %d %q", w.Code, w.Body)
	}
}

// TestAdminCheckOnEncodedPaths: an encoded slash or dot segment that makes
// a path look like /models/{id}/drift to a reader of the decoded path is
// still admin API (the mux matches /models/{id} with id "x/drift"); only
// the real drift route is public.
func TestAdminCheckOnEncodedPaths(t *testing.T) {
	s, _, _ := newMonitored(t, server.Options{})
	remote := "203.0.113.9:5000" // not loopback, no admin token configured
	for _, path := range []string{
		"/models/x%2Fdrift",
		"/models/x%2fdrift",
		"/models/sentiment-v1%2Fdrift",
		"/models/%2E%2E/drift",
		"/models/%2e/drift",
		"/models/sentiment-v1%2F..%2Fdrift",
		"/models/a%2Fb/drift",
	} {
		t.Run(path, func(t *testing.T) {
			w := do(t, s, call{method: "GET", path: path, remote: remote})
			if w.Code != http.StatusForbidden {
				t.Errorf("GET %s from %s: %d %s, want 403", path, remote, w.Code, w.Body)
			}
		})
	}
	// The drift route itself stays public (200: tracked since it loaded,
	// no sample yet; 404 for a version the registry does not have).
	if w := do(t, s, call{method: "GET", path: "/models/sentiment-v1/drift", remote: remote}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"samples":0`) {
		t.Errorf("drift: %d %s", w.Code, w.Body)
	}
	if w := do(t, s, call{method: "GET", path: "/models/nope-v1/drift", remote: remote}); w.Code != http.StatusNotFound {
		t.Errorf("drift: %d %s", w.Code, w.Body)
	}
}

// TestFeedbackAcceptsCurlData: POST /feedback takes the content type curl -d
// sends, as /predict does.
func TestFeedbackAcceptsCurlData(t *testing.T) {
	s, _, _ := newMonitored(t, server.Options{})
	w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good"}`})
	var r api.PredictResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", ""} {
		body := fmt.Sprintf(`{"request_id":%q,"label":"positive"}`, r.RequestID)
		req := httptest.NewRequest("POST", "/feedback", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		// The first feedback is accepted; later ones find it taken (404),
		// which proves the body was read as JSON too.
		if rec.Code == http.StatusUnsupportedMediaType || (rec.Code != 200 && rec.Code != 404) {
			t.Errorf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
		if ct == "application/x-www-form-urlencoded" && rec.Code != 200 {
			t.Errorf("first feedback: %d %s", rec.Code, rec.Body)
		}
	}
}

// TestProblemEchoIsCapped: a problem document does not repeat a large
// request body or field in full.
func TestProblemEchoIsCapped(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	big := strings.Repeat("é", 100_000)
	tests := []struct{ name, body string }{
		{"malformed body", `{"text":"` + big + `",}`},
		{"unknown model reference", `{"text":"x","model_version":"` + big + `"}`},
		{"wrong type", `{"text":"x","timeout_ms":"` + big + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, call{method: "POST", path: "/predict", body: tt.body})
			if w.Code < 400 {
				t.Fatalf("status %d", w.Code)
			}
			if w.Body.Len() > 4096 {
				t.Errorf("problem is %d bytes", w.Body.Len())
			}
			p := problemOf(t, w)
			for _, e := range p.Errors {
				if v, ok := e.Value.(string); ok && (len(v) > 256+len("…") || !utf8.ValidString(v)) {
					t.Errorf("value of %d bytes echoed", len(v))
				}
			}
		})
	}
}

// TestTimeoutMSAsDocumented: the schema says integer (which includes 49.0)
// and nullable; the handler agrees, on both paths.
func TestTimeoutMSAsDocumented(t *testing.T) {
	fast := newServer(t, newFakeRegistry(), server.Options{})
	slow := newServer(t, newFakeRegistry(), server.Options{})
	server.DisableFastPath(slow)
	tests := []struct {
		value string
		want  int
	}{
		{"49", 200}, {"49.0", 200}, {"4.9e1", 200}, {"null", 200}, {"0", 200}, {"600000.0", 200},
		{"4.5", 422}, {"-1", 422}, {"600001", 422}, {"600000.5", 422}, {`"49"`, 422}, {"true", 422},
	}
	for _, tt := range tests {
		for name, s := range map[string]*server.Server{"fast": fast, "huma": slow} {
			for _, path := range []string{"/predict", "/batch-predict"} {
				body := `{"text":"good","timeout_ms":` + tt.value + `}`
				if path == "/batch-predict" {
					body = `{"texts":["good"],"timeout_ms":` + tt.value + `}`
				}
				if w := do(t, s, call{method: "POST", path: path, body: body}); w.Code != tt.want {
					t.Errorf("%s %s timeout_ms %s: %d %s, want %d", name, path, tt.value, w.Code, w.Body, tt.want)
				}
			}
		}
	}
}

// TestUploadRemovesMultipartTempFiles: an upload too large for memory is
// spooled to multipart-* temp files, which are gone after the answer,
// whether the upload loaded or failed.
func TestUploadRemovesMultipartTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	reg := newFakeRegistry()
	srv := httptest.NewServer(newServer(t, reg, server.Options{}))
	defer srv.Close()
	for i := range 4 {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("name", "big")
		_ = mw.WriteField("version", fmt.Sprintf("v%d", i+1))
		fw, _ := mw.CreateFormFile("file", "model.joblib")
		content := bytes.Repeat([]byte("artifact "), 20_000) // 180 KB: past huma's in-memory limit
		if i%2 == 1 {
			content = []byte("garbage") // a failed load
		}
		_, _ = fw.Write(content)
		fw, _ = mw.CreateFormFile("files", "vocab.txt")
		_, _ = fw.Write(bytes.Repeat([]byte("word\n"), 40_000))
		_ = mw.Close()
		resp, err := http.Post(srv.URL+"/models", mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := []int{201, 422}[i%2]; resp.StatusCode != want {
			t.Errorf("upload %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	left, err := filepath.Glob(filepath.Join(tmp, "multipart-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d multipart temp files left: %v", len(left), left)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temp dir not empty: %v", entries)
	}
}

// TestOversizedBodyAnsweredAfterDrain: a client that writes a whole body
// over the limit before it reads gets the 413 problem, not a reset, on
// every route with a body limit.
func TestOversizedBodyAnsweredAfterDrain(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{MaxBodyBytes: 1 << 20, MaxUploadBytes: 1 << 20})
	srv := httptest.NewServer(s)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct{ path, ct string }{
		{"/predict", "application/json"},
		{"/batch-predict", "application/json"},
		{"/models", "multipart/form-data; boundary=x"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			code, body, err := rawhttp.WriteWholeBody(addr, tt.path, tt.ct, 4<<20, 10*time.Second) // 4 × the limit
			if err != nil {
				t.Fatalf("client saw %v, want the 413", err)
			}
			if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "limit") {
				t.Errorf("%d %s", code, body)
			}
		})
	}
}
