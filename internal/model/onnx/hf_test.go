package onnx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
)

// hfFixture is python/fixtures/onnx/hf-<name>.json, written by
// python/train_hf.py: tokenizers' ids and PyTorch's probabilities.
type hfFixture struct {
	Model         string      `json:"model"`
	Activation    string      `json:"activation"`
	Labels        []string    `json:"labels"`
	MaxLength     int         `json:"max_length"`
	Texts         []string    `json:"texts"`
	IDs           [][]int64   `json:"ids"`
	Probabilities [][]float64 `json:"probabilities"`
}

var hfSamples = []string{"roberta-sentiment", "xlmr-sentiment", "roberta-topics"}

func readHFFixture(t testing.TB, name string) hfFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "python", "fixtures", "onnx", "hf-"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f hfFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Texts) == 0 || len(f.Texts) != len(f.IDs) || len(f.Texts) != len(f.Probabilities) {
		t.Fatalf("%s: %d texts, %d ids, %d probabilities", name, len(f.Texts), len(f.IDs), len(f.Probabilities))
	}
	return f
}

// copyHF copies the sample folder name into a temporary folder, with a
// model.yaml when manifest is not empty.
func copyHF(t testing.TB, name, manifest string) string {
	t.Helper()
	src := filepath.Join("testdata", "hf", name)
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(dst, model.ManifestFile), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestHFFolderParity loads each optimum-exported sample folder with no
// model.yaml and checks, on the held-out, hard and edge texts, that the ids
// are tokenizers' and the probabilities PyTorch's within 1e-5, predicted
// as one batch (so padding and the length grouping are exercised too).
func TestHFFolderParity(t *testing.T) {
	for _, name := range hfSamples {
		t.Run(name, func(t *testing.T) {
			f := readHFFixture(t, name)
			dir := filepath.Join("testdata", "hf", name)
			if _, err := os.Stat(filepath.Join(dir, model.ManifestFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s has a %s: the sample must load without one", dir, model.ManifestFile)
			}
			m, err := LoadDir(context.Background(), dir, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if !slices.Equal(m.Labels(), f.Labels) {
				t.Fatalf("labels %v, config.json's id2label says %v", m.Labels(), f.Labels)
			}
			th, multi := m.Threshold()
			if multi != (f.Activation == "sigmoid") || (multi && th != model.DefaultThreshold) {
				t.Fatalf("Threshold() = %v, %v for a %s model", th, multi, f.Activation)
			}
			toks, err := m.Encode(f.Texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, tk := range toks {
				if !slices.Equal(tk.IDs, f.IDs[i]) {
					t.Errorf("text %d %.40q: ids %v, tokenizers gives %v", i, f.Texts[i], tk.IDs, f.IDs[i])
				}
			}
			preds, err := m.Predict(context.Background(), f.Texts)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, p := range preds {
				want := f.Probabilities[i]
				if len(p.Probabilities) != len(want) {
					t.Fatalf("text %d: %d probabilities, want %d", i, len(p.Probabilities), len(want))
				}
				best := 0
				for j, v := range want {
					worst = max(worst, math.Abs(p.Probabilities[j]-v))
					if v > want[best] {
						best = j
					}
				}
				if p.Label != f.Labels[best] || p.Confidence != p.Probabilities[best] {
					t.Errorf("text %d: label %s (%v), PyTorch's top label is %s", i, p.Label, p.Confidence, f.Labels[best])
				}
				if !p.OOV.Measured {
					t.Errorf("text %d: OOV not measured", i)
				}
			}
			if worst > 1e-5 {
				t.Errorf("max |mlserve - PyTorch| = %.3g over %d texts, want <= 1e-5", worst, len(f.Texts))
			}
			t.Logf("%d texts: max |mlserve - PyTorch| = %.3g", len(f.Texts), worst)
		})
	}
}

// TestHFOverrides checks that model.yaml overrides what the folder says:
// labels, threshold, max_length and padding.
func TestHFOverrides(t *testing.T) {
	f := readHFFixture(t, "roberta-topics")
	dir := copyHF(t, "roberta-topics", `labels: [neg, neu, pos, delivery, price, service]
threshold: 0.25
onnx:
  tokenizer: {max_length: 8, padding: max_length}
`)
	m, err := LoadDir(context.Background(), dir, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Labels(); got[0] != "neg" || got[5] != "service" {
		t.Errorf("labels %v: model.yaml's should win over config.json's", got)
	}
	if th, ok := m.Threshold(); !ok || th != 0.25 {
		t.Errorf("Threshold() = %v, %v; want 0.25, true", th, ok)
	}
	long := f.Texts[len(f.Texts)-2] // "great great ...": over 8 tokens
	toks, err := m.Encode([]string{long, "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(toks[0].IDs); n != 8 {
		t.Errorf("%d ids with max_length 8", n)
	}
	if ids := toks[0].IDs; ids[0] != 0 || ids[7] != 2 {
		t.Errorf("truncated ids %v: want <s> (0) first and </s> (2) last, as the post-processor places them", ids)
	}
	if _, err := m.Predict(context.Background(), []string{long, "ok"}); err != nil {
		t.Fatal(err)
	}
}

// TestHFFolderErrors checks that a folder whose config.json or
// tokenizer.json cannot be served fails to load with a message naming
// the file and the key.
func TestHFFolderErrors(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(dir string)
		manifest string
		want     error
		msg      string
	}{
		{name: "regression", edit: editConfig(func(c map[string]any) { c["problem_type"] = "regression" }),
			want: model.ErrUnsupported, msg: `problem_type "regression"`},
		{name: "id2label gap", edit: editConfig(func(c map[string]any) { c["id2label"] = map[string]string{"0": "a", "2": "b", "3": "c"} }),
			want: model.ErrInvalid, msg: "id2label"},
		{name: "num_labels disagrees", edit: editConfig(func(c map[string]any) { c["num_labels"] = 4 }),
			want: model.ErrInvalid, msg: "num_labels 4"},
		{name: "labels do not fit the graph", edit: editConfig(func(c map[string]any) { c["id2label"] = map[string]string{"0": "a", "1": "b"} }),
			want: model.ErrInvalid, msg: "2 labels for output logits"},
		{name: "config.json not JSON", edit: writeFile(ConfigFile, "{"), want: model.ErrInvalid, msg: ConfigFile},
		{name: "no tokenizer.json", edit: func(dir string) { os.Remove(filepath.Join(dir, TokenizerFile)) },
			want: model.ErrInvalid, msg: "tokenizer.json is not in the version folder"},
		{name: "unsupported tokenizer model", edit: editJSON(TokenizerFile, func(c map[string]any) { c["model"].(map[string]any)["type"] = "Mystery" }),
			want: model.ErrUnsupported, msg: "Mystery"},
		{name: "threshold out of range", manifest: "threshold: 1.5\n", want: model.ErrInvalid, msg: "threshold 1.5"},
		{name: "lowercase is tokenizer.json's", manifest: "onnx: {tokenizer: {lowercase: false}}\n", want: model.ErrInvalid, msg: "lowercase"},
		{name: "unknown pad token", manifest: "onnx: {tokenizer: {pad_token: '<nope>'}}\n", want: model.ErrInvalid, msg: "<nope>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyHF(t, "xlmr-sentiment", c.manifest)
			if c.edit != nil {
				c.edit(dir)
			}
			m, err := LoadDir(context.Background(), dir, testOptions(t))
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q: want %v mentioning %q", err, c.want, c.msg)
			}
		})
	}
}

func editConfig(f func(map[string]any)) func(string) { return editJSON(ConfigFile, f) }

func editJSON(name string, f func(map[string]any)) func(string) {
	return func(dir string) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		var c map[string]any
		if err := json.Unmarshal(b, &c); err != nil {
			panic(err)
		}
		f(c)
		if b, err = json.Marshal(c); err != nil {
			panic(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			panic(err)
		}
	}
}

func writeFile(name, content string) func(string) {
	return func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
}

func TestSigmoid(t *testing.T) {
	x := []float64{0, 2, -2, 800, -800}
	p := make([]float64, len(x))
	sigmoid(x, p)
	want := []float64{0.5, 1 / (1 + math.Exp(-2)), 1 - 1/(1+math.Exp(-2)), 1, 0}
	for i := range p {
		if math.Abs(p[i]-want[i]) > 1e-15 || math.IsNaN(p[i]) {
			t.Errorf("sigmoid(%v) = %v, want %v", x[i], p[i], want[i])
		}
	}
}

// BenchmarkHFPredict: each optimum sample on its 305 held-out reviews,
// batched (32 texts per Predict, as the server's batcher hands them) vs
// unbatched (one text per Predict); ns/text is the figure to compare.
func BenchmarkHFPredict(b *testing.B) {
	for _, name := range hfSamples {
		f := readHFFixture(b, name)
		texts := f.Texts[:305] // the held-out reviews; the rest are hard and edge texts
		m, err := LoadDir(context.Background(), filepath.Join("testdata", "hf", name), testOptions(b))
		if err != nil {
			b.Fatal(err)
		}
		for _, per := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, per), func(b *testing.B) {
				ctx := context.Background()
				n := 0
				for b.Loop() {
					for lo := 0; lo < len(texts); lo += per {
						if _, err := m.Predict(ctx, texts[lo:min(lo+per, len(texts))]); err != nil {
							b.Fatal(err)
						}
					}
					n += len(texts)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/text")
			})
		}
		m.Close()
	}
}

// FuzzHFConfig: config.json is untrusted bytes; reading it never panics,
// and labels, when they come back, number the outputs from 0 once each.
func FuzzHFConfig(f *testing.F) {
	f.Add([]byte(`{"id2label":{"0":"neg","1":"pos"},"problem_type":"multi_label_classification","pad_token_id":1}`))
	f.Add([]byte(`{"id2label":{"1":"a","1 ":"b"},"num_labels":2}`))
	f.Add([]byte(`{"id2label":{"-1":"a"}}`))
	f.Add([]byte(`{"id2label":{"0":""},"pad_token_id":-5}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := readHFConfig(dir)
		if err != nil {
			if !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		labels, err := c.labels()
		if err != nil {
			if !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(labels) != len(c.ID2Label) {
			t.Fatalf("%d labels from %d entries", len(labels), len(c.ID2Label))
		}
		for i, l := range labels {
			if l == "" || c.ID2Label[strconv.Itoa(i)] != l {
				t.Fatalf("label %d %q, id2label %v", i, l, c.ID2Label)
			}
		}
		_, _ = hfSpec(c, nil)
	})
}

// TestHFTokenizerWithoutConfig: a folder without config.json serves from a
// model.yaml naming a huggingface tokenizer; the pad id then comes from
// tokenizer.json's <pad>, and the answers are still PyTorch's.
func TestHFTokenizerWithoutConfig(t *testing.T) {
	f := readHFFixture(t, "xlmr-sentiment")
	dir := copyHF(t, "xlmr-sentiment", `labels: [negative, neutral, positive]
onnx:
  tokenizer: {type: huggingface, tokenizer_json: tokenizer.json}
  output: {kind: logits}
`)
	if err := os.Remove(filepath.Join(dir, ConfigFile)); err != nil {
		t.Fatal(err)
	}
	m, err := LoadDir(context.Background(), dir, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	texts := f.Texts[:64]
	preds, err := m.Predict(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range preds {
		for j, v := range f.Probabilities[i] {
			if math.Abs(p.Probabilities[j]-v) > 1e-5 {
				t.Fatalf("text %d label %d: %v, PyTorch %v", i, j, p.Probabilities[j], v)
			}
		}
	}
	if _, multi := m.Threshold(); multi {
		t.Error("a logits model reports itself multi-label")
	}
}
