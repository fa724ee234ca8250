package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
)

// onnxLibrary is the ONNX Runtime library the ONNX tests serve with:
// MLSERVE_ONNX_LIBRARY_PATH, else where scripts/setup-onnxruntime.sh puts it.
// Without it (or without the fetched encoder of sentiment-v3) the tests are
// skipped, or fail when MLSERVE_REQUIRE_ONNX=1 (make test-go sets it).
func onnxLibrary(t *testing.T) string {
	t.Helper()
	lib := os.Getenv("MLSERVE_ONNX_LIBRARY_PATH")
	if lib == "" {
		lib = filepath.Join(repoRoot(t), ".cache", "onnxruntime", "libonnxruntime.so")
	}
	encoder := filepath.Join(repoRoot(t), "models", "sentiment", "v3", "encoder.onnx")
	for _, f := range []string{lib, encoder} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("MLSERVE_REQUIRE_ONNX") == "1" {
				t.Fatalf("%v (MLSERVE_REQUIRE_ONNX=1): run scripts/setup-onnxruntime.sh and scripts/fetch-models.sh", err)
			}
			t.Skipf("%v: run scripts/setup-onnxruntime.sh and scripts/fetch-models.sh", err)
		}
	}
	return lib
}

// recorded is a parity fixture written by the Python training scripts: texts
// and the probabilities PyTorch (spam-v2) or scikit-learn on onnxruntime's
// embeddings (sentiment-v3) gave them.
type recorded struct {
	Labels        []string    `json:"labels"`
	Texts         []string    `json:"texts"`
	Probabilities [][]float64 `json:"probabilities"`
}

func readRecorded(t *testing.T, name string, n int) recorded {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "python", "fixtures", "onnx", name))
	if err != nil {
		t.Fatal(err)
	}
	var r recorded
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Texts) < n || len(r.Probabilities) != len(r.Texts) {
		t.Fatalf("%s: %d texts, %d probability rows", name, len(r.Texts), len(r.Probabilities))
	}
	r.Texts, r.Probabilities = r.Texts[:n], r.Probabilities[:n]
	return r
}

// TestONNXModelsServe: the real binary serves the ONNX sample versions next to
// the scikit-learn ones, and its answers over HTTP are the recorded PyTorch
// (spam-v2) and scikit-learn-on-embeddings (sentiment-v3) probabilities.
func TestONNXModelsServe(t *testing.T) {
	lib := onnxLibrary(t)
	p := startServerWith(t, copyAllModels(t),
		"versions:\n  keep_loaded: 3\nonnx:\n  library_path: "+lib+"\n")
	ctx := context.Background()
	for _, tc := range []struct{ id, fixture string }{
		{"spam-v2", "spam-v2-torch.json"},
		{"sentiment-v3", "sentiment-v3-embeddings.json"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			info, err := p.client.GetModel(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if info.Status != api.StatusReady {
				t.Fatalf("%s is %s: %s", tc.id, info.Status, info.Error)
			}
			rec := readRecorded(t, tc.fixture, 40)
			resp, err := p.client.BatchPredict(ctx, &api.BatchPredictRequest{
				Texts: rec.Texts, ModelVersion: tc.id, ReturnProbabilities: true})
			if err != nil {
				t.Fatal(err)
			}
			if resp.ModelVersion != tc.id || len(resp.Predictions) != len(rec.Texts) {
				t.Fatalf("answered by %s with %d predictions", resp.ModelVersion, len(resp.Predictions))
			}
			worst := 0.0
			for i, pr := range resp.Predictions {
				best := 0
				for j, want := range rec.Probabilities[i] {
					got, ok := pr.Probabilities[rec.Labels[j]]
					if !ok {
						t.Fatalf("text %d: no probability for %q in %v", i, rec.Labels[j], pr.Probabilities)
					}
					worst = math.Max(worst, math.Abs(got-want))
					if want > rec.Probabilities[i][best] {
						best = j
					}
				}
				if pr.Label != rec.Labels[best] {
					t.Errorf("text %d: label %q, recorded %q", i, pr.Label, rec.Labels[best])
				}
			}
			if worst > 1e-5 {
				t.Errorf("probabilities differ from the recorded ones by up to %.3g (limit 1e-5)", worst)
			}
			t.Logf("%d texts, largest probability difference %.2g", len(rec.Texts), worst)
		})
	}
}

// TestONNXUpload: `mlserve load` on an ONNX version folder uploads the
// artifact the manifest names with every other file the model needs (the
// vocabulary, tokenizer.json, the stage-2 classifier), and the new version
// answers as the folder's own does; an upload missing its vocabulary is
// refused with 422 naming the file, while the rest keeps serving.
func TestONNXUpload(t *testing.T) {
	lib := onnxLibrary(t)
	root := repoRoot(t)
	p := startServerWith(t, copyAllModels(t),
		"versions:\n  keep_loaded: 5\nonnx:\n  library_path: "+lib+"\n")
	ctx := context.Background()
	for _, tc := range []struct{ folder, name, version, text string }{
		{"spam/v2", "spam", "v7", "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now."},
		{"sentiment/v3", "sentiment", "v9", "It broke after two days and support never replied."},
	} {
		out, err := p.cli(t, "load", filepath.Join(root, "models", tc.folder), "--name", tc.name, "--version", tc.version)
		if err != nil {
			t.Fatalf("mlserve load %s: %v\n%s", tc.folder, err, out)
		}
		orig, err := p.client.Predict(ctx, &api.PredictRequest{Text: tc.text, ModelVersion: strings.Replace(tc.folder, "/", "-", 1), ReturnProbabilities: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.client.Predict(ctx, &api.PredictRequest{Text: tc.text, ModelVersion: tc.name + "-" + tc.version, ReturnProbabilities: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.Label != orig.Label || math.Abs(got.Confidence-orig.Confidence) > 1e-12 {
			t.Errorf("%s-%s answers %s %.6f, the folder it copies %s %.6f", tc.name, tc.version, got.Label, got.Confidence, orig.Label, orig.Confidence)
		}
	}
	dir := filepath.Join(root, "models", "spam", "v2")
	_, err := p.client.LoadModel(ctx, &api.LoadModelRequest{Name: "spam", Version: "v8",
		ArtifactPath: filepath.Join(dir, "model.onnx"), ManifestPath: filepath.Join(dir, "model.yaml")})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.StatusCode != 422 || !strings.Contains(err.Error(), "vocab.txt is not in the version folder") {
		t.Errorf("upload without vocab.txt: %v, want 422 naming vocab.txt", err)
	}
	if _, err := p.client.Predict(ctx, &api.PredictRequest{Text: "hello", ModelVersion: "spam-v7"}); err != nil {
		t.Errorf("spam-v7 after the refused upload: %v", err)
	}
}

// TestONNXRuntimeMissing: with no ONNX Runtime at the configured path the
// ONNX versions fail to load with a message that says how to install it, and
// every scikit-learn version serves, the spam name falling back to v1.
func TestONNXRuntimeMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so")
	p := startServerWith(t, copyAllModels(t),
		"versions:\n  keep_loaded: 3\nonnx:\n  library_path: "+missing+"\n")
	ctx := context.Background()
	for _, id := range []string{"spam-v2", "sentiment-v3"} {
		info, err := p.client.GetModel(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != api.StatusFailed || !strings.Contains(info.Error, missing) ||
			!strings.Contains(info.Error, "setup-onnxruntime.sh") {
			t.Errorf("%s: status %s, error %q; want failed, naming %s and the setup script", id, info.Status, info.Error, missing)
		}
	}
	for _, mv := range []string{"sentiment-v1", "sentiment-v2", "spam-v1", "spam", ""} {
		r, err := p.client.Predict(ctx, &api.PredictRequest{Text: "Subject: cheap meds, click now", ModelVersion: mv})
		if err != nil {
			t.Errorf("predict %q while the ONNX versions failed: %v", mv, err)
			continue
		}
		if strings.HasSuffix(r.ModelVersion, "-v2") && strings.HasPrefix(r.ModelVersion, "spam") ||
			r.ModelVersion == "sentiment-v3" {
			t.Errorf("predict %q answered by %s, a version that failed to load", mv, r.ModelVersion)
		}
	}
}
