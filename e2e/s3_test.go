package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/mirror"
	"github.com/mlserve/mlserve/internal/mirror/s3/s3test"
)

// putVersion copies a version folder of the sample repository into the
// bucket under key prefix to (as `aws s3 cp --recursive` would).
func putVersion(t *testing.T, c *s3.Client, from, to string) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "models", filepath.FromSlash(from))
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("models"),
			Key: aws.String("repo/" + to + "/" + e.Name()), Body: f})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond every 50 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func ready(p *proc, id string) func() bool {
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m, err := p.client.GetModel(ctx, id)
		return err == nil && m.Status == api.StatusReady
	}
}

// TestServeFromS3: models_dir s3://models/repo/ on a real S3-compatible
// server (moto). The bucket's versions serve; a version put later serves
// within two poll intervals and a load; an upload lands in the bucket
// (files, then the marker) and a restart on an empty cache serves it; the
// store going away keeps every loaded version serving and is logged once.
func TestServeFromS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "models")
	c := srv.Client()
	for _, v := range []string{"sentiment/v1", "sentiment/v2", "spam/v1"} {
		putVersion(t, c, v, v)
	}
	t.Setenv("MLSERVE_MODELS_DIR", "s3://models/repo/")
	const poll = 300 * time.Millisecond
	config := func(cache string) string {
		return "repository:\n  poll_interval: 300ms\n  cache_dir: " + cache + "\n  s3:\n    endpoint: " + srv.Endpoint + "\n"
	}
	base := t.TempDir()
	for _, d := range []string{"one", "two"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := launch(t, filepath.Join(base, "one", "models"), config(filepath.Join(base, "cache1")))
	p.waitReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"sentiment-v2", "spam-v1"} {
		if _, err := p.client.Predict(ctx, &api.PredictRequest{Text: "a fine product, free money", ModelVersion: id}); err != nil {
			t.Fatalf("%s from the bucket: %v\n%s", id, err, p.log)
		}
	}

	putVersion(t, c, "sentiment/v1", "late/v1")
	took := waitFor(t, 15*time.Second, "late-v1 put in the bucket serves", ready(p, "late-v1"))
	t.Logf("a version put in the bucket served after %s (poll interval %s)", took.Round(10*time.Millisecond), poll)

	art := filepath.Join(repoRoot(t), "models", "sentiment", "v1", "model.joblib")
	info, err := p.client.LoadModel(ctx, &api.LoadModelRequest{ArtifactPath: art, Name: "uploaded"})
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, p.log)
	}
	if info.ID != "uploaded-v1" {
		t.Fatalf("uploaded as %s", info.ID)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("models"), Prefix: aws.String("repo/uploaded/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "repo/uploaded/v1/"+mirror.Marker+",repo/uploaded/v1/model.joblib" {
		t.Errorf("the upload's objects in the bucket: %v", keys)
	}
	p.stop(t)

	q := launch(t, filepath.Join(base, "two", "models"), config(filepath.Join(base, "cache2")))
	q.waitReady(t)
	waitFor(t, 15*time.Second, "the upload serves after a restart on an empty cache", ready(q, "uploaded-v1"))

	srv.Stop()
	time.Sleep(5 * poll)
	for _, id := range []string{"sentiment-v2", "uploaded-v1", "late-v1"} {
		if _, err := q.client.Predict(ctx, &api.PredictRequest{Text: "still here", ModelVersion: id}); err != nil {
			t.Errorf("%s with the store gone: %v", id, err)
		}
	}
	waitFor(t, 15*time.Second, "the outage is logged", func() bool { return strings.Contains(q.log.String(), "model store unreachable") })
	time.Sleep(3 * poll)
	if n := strings.Count(q.log.String(), "model store unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, q.log)
	}
}
