package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/mirror/s3/s3test"
)

// TestReplicasOnS3: two replicas mirror one bucket (each its own cache
// folder) and share a redis-server. What one changes, the other serves
// well under a second (the nudge, then its mirror's sync and a poll): an
// upload made the default, a default set back, an unload. With Redis
// killed, a default change still reaches the other within the poll
// interval.
func TestReplicasOnS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "models")
	c := srv.Client()
	for _, v := range []string{"sentiment/v1", "sentiment/v2", "spam/v1"} {
		putVersion(t, c, v, v)
	}
	rs := redistest.Start(t)
	t.Setenv("MLSERVE_MODELS_DIR", "s3://models/repo/")
	const poll = 2 * time.Second
	base := t.TempDir()
	start := func(name string) *proc {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return startServerWith(t, filepath.Join(dir, "models"), fmt.Sprintf(
			"repository:\n  poll_interval: %s\n  cache_dir: %s\n  s3:\n    endpoint: %s\n"+
				"cache:\n  enabled: true\n  redis_url: %s\n", poll, filepath.Join(dir, "cache"), srv.Endpoint, rs.URL()))
	}
	a, b := start("a"), start("b")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	answers := func(p *proc, ref string) (string, int) {
		r, err := p.client.Predict(ctx, &api.PredictRequest{Text: "a fine product", ModelVersion: ref})
		var ae *api.Error
		switch {
		case err == nil:
			return r.ModelVersion, 200
		case errors.As(err, &ae):
			return "", ae.StatusCode
		}
		t.Fatalf("predict %s: %v", ref, err)
		return "", 0
	}
	follows := func(p *proc, ref, want string, limit time.Duration) time.Duration {
		t.Helper()
		t0 := time.Now()
		for {
			got, code := answers(p, ref)
			if code == 200 && got == want {
				return time.Since(t0)
			}
			if code != 200 && code != http.StatusServiceUnavailable {
				t.Fatalf("%s answered %d while %s was on its way", ref, code, want)
			}
			if time.Since(t0) > limit {
				t.Fatalf("%s still answers %s (%d), want %s after %s:\n%s", ref, got, code, want, limit, p.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	art := filepath.Join(repoRoot(t), "models", "sentiment", "v1", "model.joblib")
	if _, err := a.client.LoadModel(ctx, &api.LoadModelRequest{ArtifactPath: art, Name: "sentiment", MakeDefault: true}); err != nil {
		t.Fatalf("upload through a: %v\n%s", err, a.log)
	}
	took := follows(b, "sentiment", "sentiment-v3", poll+loadAllowance)
	t.Logf("an upload through a, made the default, served by b after %s", took)
	if took >= time.Second {
		t.Errorf("the nudged replica took %s, not well under a second", took)
	}
	if _, err := b.client.SetDefault(ctx, "sentiment", "v1"); err != nil {
		t.Fatal(err)
	}
	took = follows(a, "sentiment", "sentiment-v1", poll+loadAllowance)
	t.Logf("a default set through b served by a after %s", took)
	if took >= time.Second {
		t.Errorf("the nudged replica took %s, not well under a second", took)
	}
	if err := a.client.UnloadModel(ctx, "sentiment-v3"); err != nil {
		t.Fatal(err)
	}
	for t0 := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, code := answers(b, "sentiment-v3"); code == http.StatusNotFound {
			break
		}
		if time.Since(t0) > poll+loadAllowance {
			t.Fatalf("b still serves sentiment-v3 unloaded through a:\n%s", b.log)
		}
	}

	rs.Kill()
	if _, err := a.client.SetDefault(ctx, "sentiment", "v2"); err != nil {
		t.Fatal(err)
	}
	took = follows(b, "sentiment", "sentiment-v2", poll+loadAllowance)
	t.Logf("with Redis down, a default set through a served by b after %s (poll interval %s)", took, poll)
}
