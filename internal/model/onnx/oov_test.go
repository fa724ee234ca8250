package onnx

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// oovRater is what the server's drift monitor looks for on a model.
type oovRater interface {
	OOVRate(text string) (float64, bool)
}

var _ oovRater = (*Model)(nil)

// TestOOVRate checks OOVRate, and the OOV that Predict measures on its
// encoded batch, on the sample models against the rates the training
// scripts' own functions give (testdata/oov.json, written by
// testdata/make_oov_fixture.py): train_torch.oov_rate for spam/v2,
// train_two_stage.unk_rate for sentiment/v3, on their parity texts and
// edge cases (empty, unknown words only beyond max_length, literal [UNK]).
func TestOOVRate(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "oov.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Extra     []string  `json:"extra_texts"`
		SpamV2    []float64 `json:"spam_v2"`
		Sentiment []float64 `json:"sentiment_v3"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	for _, c := range []struct {
		name, dir, fixture string
		want               []float64
	}{
		{"spam-v2", "models/spam/v2", "spam-v2-torch.json", fx.SpamV2},
		{"sentiment-v3", "models/sentiment/v3", "sentiment-v3-embeddings.json", fx.Sentiment},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, "python", "fixtures", "onnx", c.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var texts struct {
				Texts []string `json:"texts"`
			}
			if err := json.Unmarshal(b, &texts); err != nil {
				t.Fatal(err)
			}
			all := append(texts.Texts, fx.Extra...)
			if len(all) != len(c.want) {
				t.Fatalf("%d texts, %d expected rates: regenerate testdata/oov.json", len(all), len(c.want))
			}
			dir := filepath.Join(root, c.dir)
			if _, err := os.Stat(filepath.Join(dir, "encoder.onnx")); c.name == "sentiment-v3" && err != nil {
				t.Skipf("%s: run scripts/fetch-models.sh", err)
			}
			m, err := LoadDir(context.Background(), dir, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			nonzero := 0
			for i, text := range all {
				got, ok := m.OOVRate(text)
				if !ok {
					t.Fatal("OOVRate not available")
				}
				if math.Abs(got-c.want[i]) > 1e-12 {
					t.Errorf("text %d (%d bytes): OOVRate %v, Python %v", i, len(text), got, c.want[i])
				}
				if got > 0 {
					nonzero++
				}
			}
			if nonzero == 0 {
				t.Error("every rate is 0: the check proves nothing")
			}
			// Predict counts the same rate on the batch it runs, all texts
			// at once (padded, grouped by length).
			preds, err := m.Predict(context.Background(), all)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range preds {
				if !p.OOV.Measured {
					t.Fatalf("text %d: Predict did not measure the OOV rate", i)
				}
				if math.Abs(p.OOV.Rate-c.want[i]) > 1e-12 {
					t.Errorf("text %d (%d bytes): Predict's OOV %v, Python %v", i, len(all[i]), p.OOV.Rate, c.want[i])
				}
			}
			// The server reads the signal from the model behind the
			// registry's cleaning wrapper.
			cl, err := preprocess.NewCleaner([]preprocess.StepSpec{{Name: "lowercase"}})
			if err != nil {
				t.Fatal(err)
			}
			wrapped := model.WithCleaner(m, cl)
			if _, ok := wrapped.(oovRater); ok {
				t.Log("the registry's wrapper now forwards OOVRate itself")
			}
			clean, inner := model.Unwrap(wrapped)
			if clean == nil {
				t.Fatal("WithCleaner did not wrap the model")
			}
			if _, ok := inner.(oovRater); !ok {
				t.Errorf("model.Unwrap gives %T, which has no OOVRate", inner)
			}
		})
	}
}
