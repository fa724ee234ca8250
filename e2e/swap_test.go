package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// swapTexts are what the load clients send.
var swapTexts = []string{
	"This product is amazing!",
	"Terrible service, I want my money back.",
	"The package arrived on Tuesday.",
	"not bad at all, I would buy it again",
	"worst purchase ever, completely useless",
	"It is a phone.",
	"absolutely love it, five stars",
	"meh",
}

type expected struct {
	label      string
	confidence float64
}

// expectations predicts swapTexts with the sample artifact of version v,
// loaded in this process by the same reader the server uses.
func expectations(t *testing.T, artifact string) map[string]expected {
	t.Helper()
	m, err := sklearn.Load(artifact)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	preds, err := m.Predict(context.Background(), swapTexts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]expected{}
	for i, p := range preds {
		out[swapTexts[i]] = expected{p.Label, p.Confidence}
	}
	return out
}

// TestHotSwapUnderLoad: 16 clients predict without pause while sentiment
// versions v3..v22 (alternating copies of v1 and v2) are loaded and made
// default one after another and superseded ones are unloaded. No request may
// fail, and every answer must be the prediction of the version it names.
func TestHotSwapUnderLoad(t *testing.T) {
	root := repoRoot(t)
	src := map[int]string{ // version number -> sample dir it copies
		1: filepath.Join(root, "models", "sentiment", "v1"),
		2: filepath.Join(root, "models", "sentiment", "v2"),
	}
	exp := map[int]map[string]expected{
		1: expectations(t, filepath.Join(src[1], "model.joblib")),
		2: expectations(t, filepath.Join(src[2], "model.joblib")),
	}
	differ := false
	for _, txt := range swapTexts {
		differ = differ || exp[1][txt] != exp[2][txt]
	}
	if !differ {
		t.Fatal("v1 and v2 agree on every text: the test could not tell them apart")
	}
	// origin says which sample a served version copies: odd from v1, even from v2.
	origin := func(v int) int { return 2 - v%2 }

	p := startServer(t, copyModels(t))
	duration, swaps := 10*time.Second, 20
	if testing.Short() {
		duration = 3 * time.Second
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var total, failed atomic.Int64
	var firstFail atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstFail.CompareAndSwap(nil, err)
	}
	seen := sync.Map{}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i++ {
				txt := swapTexts[i%len(swapTexts)]
				r, err := p.client.Predict(context.Background(), &api.PredictRequest{Text: txt})
				total.Add(1)
				if err != nil {
					fail(err)
					continue
				}
				var v int
				if _, err := fmt.Sscanf(r.ModelVersion, "sentiment-v%d", &v); err != nil || v < 1 || v > 2+swaps {
					fail(fmt.Errorf("answer names %q", r.ModelVersion))
					continue
				}
				seen.Store(v, true)
				want := exp[origin(v)][txt]
				if r.Label != want.label || math.Abs(r.Confidence-want.confidence) > 1e-9 {
					fail(fmt.Errorf("%s said %s %.12f for %q, its artifact says %s %.12f", r.ModelVersion, r.Label, r.Confidence, txt, want.label, want.confidence))
				}
			}
		})
	}
	start := time.Now()
	gap := duration / time.Duration(swaps+1)
	for v := 3; v < 3+swaps; v++ {
		time.Sleep(gap)
		dir := src[origin(v)]
		m, err := p.client.LoadModel(context.Background(), &api.LoadModelRequest{
			ArtifactPath: filepath.Join(dir, "model.joblib"), ManifestPath: filepath.Join(dir, "model.yaml"),
			Name: "sentiment", Version: fmt.Sprintf("v%d", v), MakeDefault: true,
		})
		if err != nil {
			t.Fatalf("loading v%d: %v", v, err)
		}
		if !m.Default {
			t.Errorf("v%d loaded with make_default is not the default", v)
		}
		old := fmt.Sprintf("sentiment-v%d", v-2)
		if err := p.client.UnloadModel(context.Background(), old); err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) || ae.StatusCode != 404 { // the version policy may have unloaded it already
				t.Errorf("unloading %s: %v", old, err)
			}
		}
	}
	time.Sleep(max(gap, duration-time.Since(start)))
	stop()
	wg.Wait()
	t.Logf("%d requests in %s, %d failed", total.Load(), time.Since(start).Round(time.Millisecond), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), total.Load(), firstFail.Load())
	}
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	if n < swaps/2 {
		t.Errorf("answers came from only %d versions", n)
	}
	if _, ok := seen.Load(2 + swaps); !ok {
		t.Errorf("the last version v%d never answered", 2+swaps)
	}
}

// TestRestart: a model loaded through the API and made default is back, and
// still the default, after the server restarts.
func TestRestart(t *testing.T) {
	models := copyModels(t)
	p := startServer(t, models)
	dir := filepath.Join(repoRoot(t), "models", "sentiment", "v1")
	if _, err := p.client.LoadModel(context.Background(), &api.LoadModelRequest{
		ArtifactPath: filepath.Join(dir, "model.joblib"), ManifestPath: filepath.Join(dir, "model.yaml"),
		Name: "sentiment", Version: "v5", MakeDefault: true,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(models, "sentiment", "v5", "model.joblib")); err != nil {
		t.Errorf("upload not in the repository: %v", err)
	}
	p.stop(t)

	p = startServer(t, models)
	r, err := p.client.Predict(context.Background(), &api.PredictRequest{Text: "This product is amazing!", ModelVersion: "sentiment"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ModelVersion != "sentiment-v5" {
		t.Errorf("after restart sentiment's default is %s, want sentiment-v5", r.ModelVersion)
	}
	m, err := p.client.GetModel(context.Background(), "sentiment-v5")
	if err != nil || !m.Default || m.Status != api.StatusReady {
		t.Errorf("after restart: %+v %v", m, err)
	}
}
