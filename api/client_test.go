package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
)

func TestClient(t *testing.T) {
	var got struct {
		auth, name, version, makeDefault, file, manifest, filename string
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /predict", func(w http.ResponseWriter, r *http.Request) {
		var req api.PredictRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.ModelVersion == "nope" {
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"title":"Not Found","status":404,"detail":"model not found: \"nope\"","errors":[{"location":"body.model_version","message":"no such model","value":"nope"}]}`)
			return
		}
		_ = json.NewEncoder(w).Encode(api.PredictResponse{Label: "positive:" + req.Text, Confidence: 0.9, ModelVersion: "sentiment-v2", LatencyMS: 1.5})
	})
	mux.HandleFunc("POST /models", func(w http.ResponseWriter, r *http.Request) {
		got.auth = r.Header.Get("Authorization")
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			t.Error(err)
		}
		got.name, got.version, got.makeDefault = r.FormValue("name"), r.FormValue("version"), r.FormValue("make_default")
		f, h, _ := r.FormFile("file")
		b, _ := io.ReadAll(f)
		got.file, got.filename = string(b), h.Filename
		if f, _, err := r.FormFile("manifest"); err == nil {
			b, _ := io.ReadAll(f)
			got.manifest = string(b)
		}
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(api.ModelInfo{ID: got.name + "-" + got.version})
	})
	mux.HandleFunc("DELETE /models/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "spam-v1" {
			w.WriteHeader(500) // not a problem document: the client still reports it
			_, _ = io.WriteString(w, "plain failure")
			return
		}
		w.WriteHeader(204)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx := context.Background()
	c, err := api.NewClient(ts.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("predict", func(t *testing.T) {
		r, err := c.Predict(ctx, &api.PredictRequest{Text: "hi"})
		if err != nil || r.Label != "positive:hi" || r.ModelVersion != "sentiment-v2" || r.LatencyMS != 1.5 {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("problem", func(t *testing.T) {
		_, err := c.Predict(ctx, &api.PredictRequest{Text: "hi", ModelVersion: "nope"})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Problem.Errors[0].Location != "body.model_version" {
			t.Fatalf("%#v", err)
		}
		if !strings.Contains(err.Error(), `model not found: "nope"`) {
			t.Errorf("message %q", err)
		}
	})
	t.Run("plain error", func(t *testing.T) {
		err := c.UnloadModel(ctx, "other-v1")
		var ae *api.Error
		if !errors.As(err, &ae) || ae.StatusCode != 500 || !strings.Contains(err.Error(), "plain failure") {
			t.Fatalf("%v", err)
		}
		if err := c.UnloadModel(ctx, "spam-v1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("load", func(t *testing.T) {
		dir := t.TempDir()
		art, man := filepath.Join(dir, "model.joblib"), filepath.Join(dir, "model.yaml")
		_ = os.WriteFile(art, []byte("ARTIFACT"), 0o644)
		_ = os.WriteFile(man, []byte("labels: [a, b]\n"), 0o644)
		m, err := c.LoadModel(ctx, &api.LoadModelRequest{ArtifactPath: art, ManifestPath: man, Name: "spam", Version: "v7", MakeDefault: true})
		if err != nil || m.ID != "spam-v7" {
			t.Fatalf("%+v %v", m, err)
		}
		if got.auth != "Bearer tok" || got.file != "ARTIFACT" || got.filename != "model.joblib" || got.manifest != "labels: [a, b]\n" || got.makeDefault != "true" {
			t.Errorf("server got %+v", got)
		}
		if _, err := c.LoadModel(ctx, &api.LoadModelRequest{ArtifactPath: filepath.Join(dir, "missing"), Name: "x"}); err == nil {
			t.Error("missing artifact uploaded")
		}
	})
}

func TestClientNoServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := api.NewClient(addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListModels(context.Background())
	if !errors.Is(err, api.ErrNoServer) || !strings.Contains(err.Error(), "mlserve serve") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("%v", err)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", api.DefaultServer},
		{"localhost:9000", "http://localhost:9000"},
		{"https://example.test/base/", "https://example.test/base"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := api.NewClient(tc.in, "", nil)
			if err != nil || c.BaseURL() != tc.want {
				t.Fatalf("%v %v", c, err)
			}
		})
	}
	if _, err := api.NewClient("ftp://x", "", nil); err == nil {
		t.Error("ftp accepted")
	}
}

// TestProblemErrorText: a field error that repeats the detail is not printed
// twice; one that adds something is.
func TestProblemErrorText(t *testing.T) {
	p := &api.Problem{Title: "Not Found", Status: 404, Detail: "model not found: x",
		Errors: []api.ErrorDetail{{Location: "body.model_version", Message: "model not found: x"}}}
	if got, want := p.Error(), "Not Found: model not found: x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p.Errors = append(p.Errors, api.ErrorDetail{Location: "body.text", Message: "expected string"})
	if got := p.Error(); !strings.HasSuffix(got, "; body.text: expected string") {
		t.Errorf("got %q", got)
	}
}
