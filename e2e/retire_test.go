package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

// TestRetiredVersionsReleased: with versions.keep_loaded 2, loading
// sentiment v3 and v4 as defaults makes the registry retire v1 and v2 by its
// own policy (no unload call). Each version has served, so each had an engine
// queue and cache entries; the server must release the retired ones: /stats
// lists queues only for versions still ready.
func TestRetiredVersionsReleased(t *testing.T) {
	root := repoRoot(t)
	p := startServerWith(t, copyModels(t), "versions:\n  keep_loaded: 2\n")
	ctx := context.Background()
	predict := func(model string) {
		t.Helper()
		if _, err := p.client.Predict(ctx, &api.PredictRequest{Text: "great phone", ModelVersion: model}); err != nil {
			t.Fatalf("predict %s: %v", model, err)
		}
	}
	predict("sentiment-v1")
	predict("sentiment-v2")
	if st, err := p.client.Stats(ctx); err != nil || len(st.Queues) != 2 {
		t.Fatalf("queues before the loads: %v (%v), want sentiment-v1 and -v2", st, err)
	}
	for _, v := range []string{"v3", "v4"} {
		dir := filepath.Join(root, "models", "sentiment", "v2")
		if _, err := p.client.LoadModel(ctx, &api.LoadModelRequest{
			ArtifactPath: filepath.Join(dir, "model.joblib"), ManifestPath: filepath.Join(dir, "model.yaml"),
			Name: "sentiment", Version: v, MakeDefault: true,
		}); err != nil {
			t.Fatalf("loading %s: %v", v, err)
		}
		predict("sentiment-" + v)
	}
	ready := func() []string {
		l, err := p.client.ListModels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range l.Models {
			if m.Status == api.StatusReady {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := p.client.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := ready()
		var stale []string
		for id := range st.Queues {
			if !slices.Contains(r, id) {
				stale = append(stale, id)
			}
		}
		if len(stale) == 0 {
			if slices.Contains(r, "sentiment-v1") {
				t.Fatalf("keep_loaded 2 kept sentiment-v1 loaded: %v", r)
			}
			t.Logf("ready %v, queues for %d versions", r, len(st.Queues))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues of retired versions %v still held 10 s later (ready: %v)", stale, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
