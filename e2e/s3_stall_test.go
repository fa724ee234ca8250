package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/mirror/s3/s3test"
)

// TestUploadToStalledStore: `mlserve load` (POST /models) into an s3://
// repository whose store takes the upload's body and never answers, having
// kept nothing, or having stored the file without saying so. The upload
// fails within about repository.s3.timeout (not the 10 minutes a publish
// may take) with an error saying the store stalled; the versions already
// loaded keep serving; the failed upload does not turn up as a version
// (what the store kept is removed again); and once the store answers the
// same upload goes through under the same version: the failed one
// reserved nothing.
func TestUploadToStalledStore(t *testing.T) {
	for _, keeps := range []bool{false, true} {
		name := "the store keeps nothing"
		if keeps {
			name = "the store keeps the file"
		}
		t.Run(name, func(t *testing.T) { uploadToStalledStore(t, keeps) })
	}
}

func uploadToStalledStore(t *testing.T, keeps bool) {
	srv := s3test.Start(t)
	srv.Bucket(t, "models")
	putVersion(t, srv.Client(), "sentiment/v2", "sentiment/v2")
	up, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// In front of moto: every request passes, except a PUT while stalling,
	// whose body is read (and passed on if the store keeps it) and never
	// answered.
	var stalling atomic.Bool
	release := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(up)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stalling.Load() && r.Method == http.MethodPut {
			if keeps {
				proxy.ServeHTTP(httptest.NewRecorder(), r) // stored; the answer is lost
			} else {
				_, _ = io.Copy(io.Discard, r.Body)
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	defer close(release)

	t.Setenv("MLSERVE_MODELS_DIR", "s3://models/repo/")
	const timeout = time.Second
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "one"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := launch(t, filepath.Join(base, "one", "models"), "repository:\n  poll_interval: 300ms\n  cache_dir: "+
		filepath.Join(base, "cache")+"\n  s3:\n    endpoint: "+front.URL+"\n    timeout: 1s\n")
	p.waitReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	art := filepath.Join(repoRoot(t), "models", "sentiment", "v1", "model.joblib")

	stalling.Store(true)
	start := time.Now()
	_, err = p.client.LoadModel(ctx, &api.LoadModelRequest{ArtifactPath: art, Name: "uploaded"})
	el := time.Since(start)
	t.Logf("upload into the stalled store failed after %s (store timeout %s): %v", el.Round(time.Millisecond), timeout, err)
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("upload into a stalled store: %v, want an error saying the store stalled\n%s", err, p.log)
	}
	if el < timeout || el > timeout+5*time.Second { // the clean-up goes through at once here
		t.Errorf("the upload failed after %s, want about the store's timeout %s", el, timeout)
	}
	if _, err := p.client.Predict(ctx, &api.PredictRequest{Text: "a fine product", ModelVersion: "sentiment-v2"}); err != nil {
		t.Errorf("sentiment-v2 after the stalled upload: %v", err)
	}

	stalling.Store(false)
	// A few poll intervals: a version the store kept would be mirrored and
	// loaded by now.
	time.Sleep(2 * time.Second)
	list, err := p.client.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Models {
		if m.Name == "uploaded" {
			t.Errorf("the failed upload serves as %s", m.ID)
		}
	}
	info, err := p.client.LoadModel(ctx, &api.LoadModelRequest{ArtifactPath: art, Name: "uploaded"})
	if err != nil {
		t.Fatalf("the same upload with the store answering again: %v\n%s", err, p.log)
	}
	if info.ID != "uploaded-v1" {
		t.Errorf("the retried upload is %s, want uploaded-v1 (the failed one must reserve nothing)", info.ID)
	}
	out, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("models"), Prefix: aws.String("repo/uploaded/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 2 {
		t.Errorf("%d objects under repo/uploaded/ after the retried upload, want the artifact and the marker", len(out.Contents))
	}
	if _, err := p.client.Predict(ctx, &api.PredictRequest{Text: "a fine product", ModelVersion: "uploaded-v1"}); err != nil {
		t.Errorf("uploaded-v1: %v", err)
	}
}
