package onnx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
)

// repoRoot is the module root (the folder holding go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// testLibrary finds ONNX Runtime for the tests: MLSERVE_ONNX_LIBRARY_PATH,
// else <repo root>/.cache/onnxruntime/libonnxruntime.so. Without it the
// test is skipped, or fails when MLSERVE_REQUIRE_ONNX=1 (make test-go).
func testLibrary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("MLSERVE_ONNX_LIBRARY_PATH")
	if p == "" {
		p = filepath.Join(repoRoot(t), DefaultLibrary)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("MLSERVE_REQUIRE_ONNX") == "1" {
			t.Fatalf("ONNX Runtime not at %s (MLSERVE_REQUIRE_ONNX=1): run scripts/setup-onnxruntime.sh", p)
		}
		t.Skipf("ONNX Runtime not at %s: run scripts/setup-onnxruntime.sh", p)
	}
	return p
}

func testOptions(t testing.TB) Options {
	return Options{LibraryPath: testLibrary(t), IntraOpThreads: 1}
}

// expected is testdata/expected.json, written by
// python/fixtures/make_onnx_fixtures.py with onnxruntime-python, Hugging Face
// tokenizers and scikit-learn.
type expected struct {
	Texts         []string    `json:"texts"`
	IDs           [][]int64   `json:"ids"`
	TypeIDs       [][]int64   `json:"type_ids"`
	Probabilities [][]float64 `json:"probabilities"`
	Embeddings    [][]float64 `json:"embeddings"`
	Labels        []string    `json:"labels"`
}

func readExpected(t testing.TB) map[string]expected {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	out := map[string]expected{}
	for _, k := range []string{"bag", "encoder"} {
		var e expected
		if err := json.Unmarshal(all[k], &e); err != nil {
			t.Fatal(err)
		}
		out[k] = e
	}
	return out
}

func loadFixture(t testing.TB, name string) *Model {
	t.Helper()
	m, err := LoadDir(context.Background(), filepath.Join("testdata", name), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestParity(t *testing.T) {
	all := readExpected(t)
	all["bag_int32"] = all["bag"] // the same graph with int32 inputs
	for _, name := range []string{"bag", "bag_int32", "encoder"} {
		t.Run(name, func(t *testing.T) {
			want := all[name]
			m := loadFixture(t, name)
			toks, err := m.Encode(want.Texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, tk := range toks {
				if fmt.Sprint(tk.IDs) != fmt.Sprint(want.IDs[i]) {
					t.Errorf("text %d %q: ids %v, want %v", i, want.Texts[i], tk.IDs, want.IDs[i])
				}
				for j, v := range tk.Mask {
					if v != 1 {
						t.Errorf("text %d: mask[%d] = %d inside the text", i, j, v)
					}
				}
				if want.TypeIDs != nil && fmt.Sprint(tk.TypeIDs) != fmt.Sprint(want.TypeIDs[i]) {
					t.Errorf("text %d: type ids %v, want %v", i, tk.TypeIDs, want.TypeIDs[i])
				}
			}
			if want.Labels != nil && fmt.Sprint(m.Labels()) != fmt.Sprint(want.Labels) {
				t.Errorf("labels %v, want %v", m.Labels(), want.Labels)
			}
			// The whole set as one batch (padded to its longest text), then
			// each text alone: padding must not change any result.
			batch, err := m.Predict(context.Background(), want.Texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range want.Texts {
				one, err := m.Predict(context.Background(), []string{text})
				if err != nil {
					t.Fatal(err)
				}
				for _, got := range []model.Prediction{batch[i], one[0]} {
					checkPrediction(t, i, got, want.Probabilities[i], m.Labels())
				}
			}
			if want.Embeddings != nil {
				emb, err := m.Embed(context.Background(), want.Texts)
				if err != nil {
					t.Fatal(err)
				}
				for i := range emb {
					for j := range emb[i] {
						if d := math.Abs(emb[i][j] - want.Embeddings[i][j]); d > 1e-6 {
							t.Errorf("text %d: embedding[%d] = %v, want %v", i, j, emb[i][j], want.Embeddings[i][j])
						}
					}
				}
			}
		})
	}
}

func checkPrediction(t *testing.T, i int, got model.Prediction, want []float64, labels []string) {
	t.Helper()
	if len(got.Probabilities) != len(want) {
		t.Fatalf("text %d: %d probabilities, want %d", i, len(got.Probabilities), len(want))
	}
	best := 0
	for j, w := range want {
		if d := math.Abs(got.Probabilities[j] - w); d > 1e-6 {
			t.Errorf("text %d: p[%d] = %.9f, want %.9f (diff %.2g)", i, j, got.Probabilities[j], w, d)
		}
		if w > want[best] {
			best = j
		}
	}
	if got.Index != best || got.Label != labels[best] || got.Confidence != got.Probabilities[best] {
		t.Errorf("text %d: label %q (index %d, confidence %v), want %q", i, got.Label, got.Index, got.Confidence, labels[best])
	}
}

// TestProbabilitiesOutput reads the bag graph's Softmax output as
// probabilities instead of its logits.
func TestProbabilitiesOutput(t *testing.T) {
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Bag struct {
			Texts      []string    `json:"texts"`
			GraphProbs [][]float64 `json:"graph_probs"`
		} `json:"bag"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	dir := copyFixture(t, "bag", func(s string) string {
		return strings.Replace(s, "name: logits\n    kind: logits", "name: probs\n    kind: probabilities", 1)
	})
	m, err := LoadDir(context.Background(), dir, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := m.Predict(context.Background(), all.Bag.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		for j, w := range all.Bag.GraphProbs[i] {
			if p.Probabilities[j] != w { // float32 widened: exact
				t.Errorf("text %d: p[%d] = %v, want %v", i, j, p.Probabilities[j], w)
			}
		}
	}
	if m.Info().Confidence != "the graph's probability of the predicted label" {
		t.Errorf("confidence %q", m.Info().Confidence)
	}
}

func TestInfo(t *testing.T) {
	tests := []struct {
		name, estimator string
		features        map[string]any
	}{
		{"bag", "ONNX RegexTokenizer Softmax", map[string]any{"tokenizer": "regex", "vocab_size": 31, "max_length": 12,
			"output": "logits float32 [-1 3] (logits)", "producer": "mlserve-fixtures", "execution_provider": "cpu"}},
		{"encoder", "ONNX WordPiece MeanPooling L2Normalize LogisticRegression", map[string]any{"tokenizer": "wordpiece",
			"vocab_size": 49, "embedding_dim": int64(4), "pooling": "mean", "add_special_tokens": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := loadFixture(t, tt.name).Info()
			if info.Framework != "onnx" || !info.Probabilistic || info.Confidence == "" {
				t.Errorf("info %+v", info)
			}
			if got := strings.Join(info.Estimator, " "); got != tt.estimator {
				t.Errorf("estimator %q, want %q", got, tt.estimator)
			}
			for k, v := range tt.features {
				if fmt.Sprint(info.Features[k]) != fmt.Sprint(v) {
					t.Errorf("features[%s] = %v, want %v", k, info.Features[k], v)
				}
			}
		})
	}
}

// copyFixture copies testdata/<name> into a temporary folder, with
// model.yaml rewritten by edit.
func copyFixture(t *testing.T, name string, edit func(string) string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", name)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == model.ManifestFile && edit != nil {
			b = []byte(edit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestManifestErrors(t *testing.T) {
	opts := testOptions(t)
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				panic("fixture lacks " + old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	tests := []struct {
		name, fixture string
		edit          func(string) string
		want          string
	}{
		{"input name not in graph", "bag", replace("{name: input_ids,", "{name: ids,"),
			`model.yaml onnx.inputs[0]: "ids" is not an input of model.onnx (graph inputs: input_ids int64 [-1 -1], attention_mask int64 [-1 -1])`},
		{"dtype differs", "bag", replace("source: mask, dtype: int64", "source: mask, dtype: int32"),
			"onnx.inputs[1].dtype: int32, but model.onnx's input is attention_mask int64 [-1 -1]"},
		{"graph input not fed", "bag", replace("    - {name: attention_mask, source: mask, dtype: int64}\n", ""),
			"graph input attention_mask int64 [-1 -1] is not listed"},
		{"input listed twice", "bag", replace("{name: attention_mask,", "{name: input_ids,"), `"input_ids" is listed twice`},
		{"bad source", "bag", replace("source: mask", "source: masks"), `"masks" is not ids, mask or type_ids`},
		{"output not in graph", "bag", replace("name: logits", "name: scores"),
			`onnx.output.name: "scores" is not an output of model.onnx (graph outputs: logits float32 [-1 3], probs float32 [-1 3])`},
		{"output name needed", "bag", replace("    name: logits\n", ""), "required: model.onnx has 2 outputs"},
		{"label count", "bag", replace("labels: [negative, neutral, positive]", "labels: [ham, spam]"),
			"2 labels for output logits float32 [-1 3]"},
		{"no labels", "bag", replace("labels: [negative, neutral, positive]\n", ""), "needs its class labels"},
		{"unknown key", "bag", replace("    max_length: 12", "    max_len: 12"), `onnx.tokenizer: line 11: unknown key "max_len"`},
		{"no onnx section", "bag", func(s string) string { return s[:strings.Index(s, "onnx:")] }, "needs an onnx: section"},
		{"bad tokenizer type", "bag", replace("type: regex", "type: bpe"), `"bpe" is not regex, whitespace, wordpiece or huggingface`},
		{"unk not in vocab", "bag", replace(`unk_token: "<unk>"`, `unk_token: "[UNK]"`), `onnx.tokenizer.unk_token: "[UNK]" is not in the vocabulary`},
		{"missing vocab file", "bag", replace("vocab: vocab.txt", "vocab: nope.txt"), "nope.txt"},
		{"pooling on logits", "bag", replace("kind: logits", "kind: logits\n    pooling: mean"), "pooling and normalize apply to an embedding output"},
		{"bad pattern", "bag", replace("type: regex", "type: regex\n    pattern: '(?x)a b'"), "onnx.tokenizer"},
		{"max_length padding without max_length", "bag", replace("max_length: 12", "padding: max_length"), "max_length padding needs max_length"},
		{"embedding of logits", "bag", replace("kind: logits", "kind: embedding"), "onnx.classifier: required"},
		{"embedding without classifier", "encoder", replace("  classifier: classifier.joblib\n", ""), "onnx.classifier: required"},
		{"labels differ from classifier", "encoder", replace("framework: onnx", "framework: onnx\nlabels: [a, b]"), "differ from the classifier's classes [ham spam]"},
		{"pooling none on token vectors", "encoder", replace("pooling: mean", "pooling: none"), "pooling must be mean or cls"},
		{"wordpiece with pattern", "encoder", replace("type: wordpiece", "type: wordpiece\n    pattern: x"), "only a regex tokenizer has a pattern"},
		{"unknown output key", "bag", replace("kind: logits", "kind: logits\n    softmax: true"), `onnx.output: line 18: unknown key "softmax"`},
		{"unknown input key", "bag", replace("{name: attention_mask, source: mask,", "{name: attention_mask, src: mask,"), `onnx.inputs[1]: line 14: unknown key "src"`},
		{"wrong type", "bag", replace("max_length: 12", "max_length: twelve"), "line 11: cannot unmarshal !!str `twelve` into int"},
		{"special tokens on regex", "bag", replace("type: regex", "type: regex\n    add_special_tokens: true"), "only a wordpiece tokenizer has [CLS]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, tt.fixture, tt.edit)
			m, err := LoadDir(context.Background(), dir, opts)
			if err == nil {
				m.Close()
				t.Fatalf("loaded; want an error with %q", tt.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
			if !errors.Is(err, model.ErrInvalid) && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("err %v wraps neither model.ErrInvalid nor fs.ErrNotExist", err)
			}
		})
	}
}

func TestCorruptGraph(t *testing.T) {
	opts := testOptions(t)
	good, err := os.ReadFile("testdata/bag/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"text", []byte("this is not a protobuf")},
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"flipped", func() []byte {
			b := append([]byte(nil), good...)
			for i := 20; i < len(b); i += 7 {
				b[i] ^= 0xA5
			}
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "bag", nil)
			if err := os.WriteFile(filepath.Join(dir, "model.onnx"), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := LoadDir(context.Background(), dir, opts)
			if err == nil {
				m.Close()
				t.Fatal("a corrupt graph loaded")
			}
			t.Log(err)
			if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "model.onnx") {
				t.Errorf("err = %v, want model.ErrInvalid naming model.onnx", err)
			}
		})
	}
}

func TestConcurrentPredict(t *testing.T) {
	all := readExpected(t)
	for _, name := range []string{"bag", "encoder"} {
		t.Run(name, func(t *testing.T) {
			want := all[name]
			m := loadFixture(t, name)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range 20 {
						// Each goroutine predicts a different window of texts,
						// so batches of different shapes run at once.
						lo := (g + k) % len(want.Texts)
						hi := min(len(want.Texts), lo+1+(g*k)%4)
						got, err := m.Predict(context.Background(), want.Texts[lo:hi])
						if err != nil {
							errs <- err
							return
						}
						for i, p := range got {
							for j, w := range want.Probabilities[lo+i] {
								if math.Abs(p.Probabilities[j]-w) > 1e-6 {
									errs <- fmt.Errorf("text %d: p[%d] = %v, want %v", lo+i, j, p.Probabilities[j], w)
									return
								}
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestContextAndClose(t *testing.T) {
	m, err := LoadDir(context.Background(), "testdata/bag", testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, []string{"free money"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v", err)
	}
	if got, err := m.Predict(context.Background(), nil); err != nil || len(got) != 0 {
		t.Errorf("no texts: %v, %v", got, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Predict(context.Background(), []string{"free money"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
	if _, err := LoadDir(ctx, "testdata/bag", testOptions(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled ctx: err = %v", err)
	}
}

// FuzzParseSpec feeds arbitrary onnx: sections to the strict decoder: it
// must return a spec or an error wrapping model.ErrInvalid, never panic.
func FuzzParseSpec(f *testing.F) {
	for _, name := range []string{"bag", "encoder"} {
		b, err := os.ReadFile(filepath.Join("testdata", name, model.ManifestFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("onnx: {inputs: [[1]], output: {kind: [x]}}"))
	f.Add([]byte("onnx:\n  tokenizer: &a {type: regex}\n  x: *a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		man, _, err := model.ParseManifest(b)
		if err != nil {
			return
		}
		if _, err := ParseSpec(&man.ONNX); err != nil && !errors.Is(err, model.ErrInvalid) {
			t.Errorf("error %v does not wrap model.ErrInvalid", err)
		}
	})
}

func TestSoftmax(t *testing.T) {
	tests := []struct {
		x, want []float64
	}{
		{[]float64{0, 0}, []float64{0.5, 0.5}},
		{[]float64{1000, 0}, []float64{1, math.Exp(-1000)}},
		{[]float64{-1000, -1000, -1000}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{[]float64{1, 2, 3}, []float64{0.09003057317038046, 0.24472847105479764, 0.6652409557748219}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.x), func(t *testing.T) {
			p := make([]float64, len(tt.x))
			softmax(tt.x, p)
			for j := range p {
				if math.Abs(p[j]-tt.want[j]) > 1e-15 || math.IsNaN(p[j]) {
					t.Errorf("p = %v, want %v", p, tt.want)
				}
			}
		})
	}
}

// TestCUDAFallback asks for the CUDA provider from a library without it (the
// CPU wheel): the model loads on the CPU and the log says why.
func TestCUDAFallback(t *testing.T) {
	var logs strings.Builder
	o := testOptions(t)
	o.ExecutionProvider = "cuda"
	o.Log = slog.New(slog.NewTextHandler(&logs, nil))
	m, err := LoadDir(context.Background(), "testdata/bag", o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := m.Info().Features["execution_provider"]
	if got == "cuda" {
		t.Skip("this ONNX Runtime has the CUDA provider and a GPU")
	}
	if got != "cpu" || !strings.Contains(logs.String(), "CUDA") {
		t.Errorf("execution_provider %v, log %q; want cpu and a CUDA warning", got, logs.String())
	}
	t.Log(strings.TrimSpace(logs.String()))
	if _, err := m.Predict(context.Background(), []string{"free money"}); err != nil {
		t.Fatal(err)
	}
}
