package e2e

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
)

// hfRecorded is python/fixtures/onnx/hf-<name>.json (python/train_hf.py):
// PyTorch's probabilities of an optimum-exported sample classifier.
type hfRecorded struct {
	Activation    string      `json:"activation"`
	Labels        []string    `json:"labels"`
	Texts         []string    `json:"texts"`
	Probabilities [][]float64 `json:"probabilities"`
}

// TestHFFolderServe: `mlserve load <folder>` of each optimum-exported
// sample (model.onnx, config.json, tokenizer.json, tokenizer_config.json,
// special_tokens_map.json; no model.yaml) makes a version that serves, and
// its /batch-predict probabilities over HTTP are PyTorch's within 1e-5 on
// every recorded text. The multi-label sample answers with every label over
// 0.5 in labels, on /batch-predict and /predict; the others send no labels.
func TestHFFolderServe(t *testing.T) {
	lib := onnxLibrary(t)
	root := repoRoot(t)
	models := copyAllModels(t)
	// A folder dropped into the repository serves too, with no upload.
	if err := os.CopyFS(filepath.Join(models, "topics", "v1"), os.DirFS(filepath.Join(root, "internal", "model", "onnx", "testdata", "hf", "roberta-topics"))); err != nil {
		t.Fatal(err)
	}
	p := startServerWith(t, models, "versions:\n  keep_loaded: 5\ncache:\n  enabled: true\nonnx:\n  library_path: "+lib+"\n")
	ctx := context.Background()
	t.Run("repository folder", func(t *testing.T) {
		info, err := p.client.GetModel(ctx, "topics-v1")
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != api.StatusReady {
			t.Fatalf("topics-v1 is %s: %s", info.Status, info.Error)
		}
		// Twice: the second answer comes from the prediction cache and keeps its labels.
		var first []api.BatchPrediction
		for round := range 2 {
			resp, err := p.client.BatchPredict(ctx, &api.BatchPredictRequest{ModelVersion: "topics-v1",
				Texts: []string{"The blender arrived on Tuesday.", "I requested a refund on the website."}})
			if err != nil {
				t.Fatal(err)
			}
			for i, pr := range resp.Predictions {
				if len(pr.Labels) == 0 || pr.Cached != (round == 1) {
					t.Errorf("round %d text %d: labels %v, cached %v", round, i, pr.Labels, pr.Cached)
				}
				if round == 1 && !slices.Equal(pr.Labels, first[i].Labels) {
					t.Errorf("cached labels %v, first answer %v", pr.Labels, first[i].Labels)
				}
			}
			first = resp.Predictions
		}
	})
	for _, name := range []string{"roberta-sentiment", "xlmr-sentiment", "roberta-topics"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, "internal", "model", "onnx", "testdata", "hf", name)
			if out, err := p.cli(t, "load", dir, "--name", name, "--version", "v1"); err != nil {
				t.Fatalf("mlserve load %s: %v\n%s", dir, err, out)
			}
			b, err := os.ReadFile(filepath.Join(root, "python", "fixtures", "onnx", "hf-"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var rec hfRecorded
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			multi := rec.Activation == "sigmoid"
			id := name + "-v1"
			worst, withLabels := 0.0, 0
			for start := 0; start < len(rec.Texts); start += api.MaxBatchTexts {
				end := min(start+api.MaxBatchTexts, len(rec.Texts))
				resp, err := p.client.BatchPredict(ctx, &api.BatchPredictRequest{Texts: rec.Texts[start:end], ModelVersion: id, ReturnProbabilities: true})
				if err != nil {
					t.Fatal(err)
				}
				for k, pr := range resp.Predictions {
					i := start + k
					var over []string
					for j, want := range rec.Probabilities[i] {
						got, ok := pr.Probabilities[rec.Labels[j]]
						if !ok {
							t.Fatalf("text %d: no probability for %q", i, rec.Labels[j])
						}
						worst = math.Max(worst, math.Abs(got-want))
						if got > 0.5 {
							over = append(over, rec.Labels[j])
						}
						if multi && math.Abs(want-0.5) > 1e-5 && (want > 0.5) != slices.Contains(pr.Labels, rec.Labels[j]) {
							t.Errorf("text %d: PyTorch gives %s %.6f, labels %v", i, rec.Labels[j], want, pr.Labels)
						}
					}
					if !multi && pr.Labels != nil {
						t.Errorf("text %d: a single-label model answered labels %v", i, pr.Labels)
					}
					if multi && !slices.Equal(pr.Labels, over) {
						t.Errorf("text %d: labels %v, probabilities over 0.5 are %v", i, pr.Labels, over)
					}
					if len(pr.Labels) > 0 {
						withLabels++
					}
				}
			}
			if worst > 1e-5 {
				t.Errorf("probabilities differ from PyTorch's by up to %.3g (limit 1e-5)", worst)
			}
			if multi && withLabels == 0 {
				t.Error("no text had a label over the threshold")
			}
			t.Logf("%d texts over HTTP, largest difference from PyTorch %.2g; %d answers with labels", len(rec.Texts), worst, withLabels)
			one, err := p.client.Predict(ctx, &api.PredictRequest{Text: "The delivery was late and the price too high.", ModelVersion: id, ReturnProbabilities: true})
			if err != nil {
				t.Fatal(err)
			}
			var over []string
			for _, l := range rec.Labels {
				if one.Probabilities[l] > 0.5 {
					over = append(over, l)
				}
			}
			if !multi {
				over = nil
			}
			if !slices.Equal(one.Labels, over) {
				t.Errorf("/predict labels %v, want %v (probabilities %v)", one.Labels, over, one.Probabilities)
			}
			// The Open Inference Protocol: the labels output, one JSON array per text.
			body := `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["The delivery was late and the price too high."]}],"outputs":[{"name":"labels"}]}`
			hr, err := http.Post(p.url+"/v2/models/"+name+"/infer", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer hr.Body.Close()
			var oip struct {
				Outputs []struct {
					Name string
					Data []string
				}
			}
			if err := json.NewDecoder(hr.Body).Decode(&oip); err != nil {
				t.Fatal(err)
			}
			switch {
			case !multi && hr.StatusCode != http.StatusBadRequest:
				t.Errorf("OIP labels output of a single-label model: status %d", hr.StatusCode)
			case multi:
				var got []string
				if len(oip.Outputs) != 1 || len(oip.Outputs[0].Data) != 1 || json.Unmarshal([]byte(oip.Outputs[0].Data[0]), &got) != nil {
					t.Fatalf("OIP answer %+v (status %d)", oip, hr.StatusCode)
				}
				if !slices.Equal(got, over) {
					t.Errorf("OIP labels %v, /predict %v", got, over)
				}
			}
		})
	}
}
