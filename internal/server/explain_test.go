package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/onnx"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/preprocess"
	"github.com/mlserve/mlserve/internal/server"
)

func loadSklearn(t *testing.T, path string) *sklearn.Model {
	t.Helper()
	m, err := sklearn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// spanText is text[start:end] in code points.
func spanText(text string, s api.Span) string {
	r := []rune(text)
	if s.Start < 0 || s.End > len(r) || s.Start >= s.End {
		return "<bad span>"
	}
	return string(r[s.Start:s.End])
}

func predictExplain(t *testing.T, s *server.Server, body string) api.PredictResponse {
	t.Helper()
	w := do(t, s, call{method: "POST", path: "/predict", body: body})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var r api.PredictResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPredictExplainExact: the sample spam model explains itself exactly
// over HTTP, through a manifest's HTML cleaning, with spans that point at
// the words in the text as sent.
func TestPredictExplainExact(t *testing.T) {
	m := loadSklearn(t, filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	c, err := preprocess.NewCleaner([]preprocess.StepSpec{{Name: "strip_html"}})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, &oneModel{id: "spam-v1", m: model.WithCleaner(m, c)}, server.Options{})
	text := "Subject: <b>FREE</b> money!!! Click here to WIN a free prize, café naïve"
	body, _ := json.Marshal(map[string]any{"text": text, "model_version": "spam-v1", "explain": map[string]int{"top_k": 6}})
	r := predictExplain(t, s, string(body))
	ex := r.Explanation
	if ex == nil {
		t.Fatalf("no explanation: %+v", r)
	}
	if ex.Method != "exact" || ex.Approximate || ex.Score != "decision_function" || ex.Class != "spam" {
		t.Fatalf("explanation %+v", ex)
	}
	if len(ex.Contributions) != 6 || ex.Features <= 6 {
		t.Fatalf("%d contributions of %d features, want 6", len(ex.Contributions), ex.Features)
	}
	total := ex.Base + ex.Rest
	for _, c := range ex.Contributions {
		total += c.Value
	}
	if math.Abs(total-ex.Value) > 1e-9 {
		t.Fatalf("base+contributions+rest %v, value %v", total, ex.Value)
	}
	// The decision value's sign is the label.
	if (ex.Value > 0) != (r.Label == "spam") {
		t.Fatalf("value %v, label %s", ex.Value, r.Label)
	}
	located := 0
	for _, c := range ex.Contributions {
		for _, sp := range c.Spans {
			got := strings.ToLower(spanText(text, sp))
			first := strings.Fields(c.Feature)[0]
			if !strings.HasPrefix(got, first) {
				t.Errorf("%q: span %v covers %q", c.Feature, sp, got)
			}
			located++
		}
	}
	if located == 0 {
		t.Fatalf("no spans: %+v", ex.Contributions)
	}
	t.Logf("top: %+v", ex.Contributions[0])
}

// TestPredictExplainRequests: explain's forms, the batch endpoint, and the
// refusals of bad options.
func TestPredictExplainRequests(t *testing.T) {
	m := loadSklearn(t, filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	s := newServer(t, &oneModel{id: "spam-v1", m: m}, server.Options{})
	fast := 0
	server.OnFast(s, func(string) { fast++ })
	r := predictExplain(t, s, `{"text":"win money now","model_version":"spam-v1"}`)
	if r.Explanation != nil || fast != 1 {
		t.Fatalf("without explain: explanation %v, fast path taken %d times", r.Explanation, fast)
	}
	r = predictExplain(t, s, `{"text":"win money now","model_version":"spam-v1","explain":true}`)
	if r.Explanation == nil || len(r.Explanation.Contributions) == 0 {
		t.Fatalf("explain true: %+v", r.Explanation)
	}
	r = predictExplain(t, s, `{"text":"win money now","model_version":"spam-v1","explain":false}`)
	if r.Explanation != nil {
		t.Fatalf("explain false: %+v", r.Explanation)
	}
	w := do(t, s, call{method: "POST", path: "/batch-predict", body: `{"texts":["win money now","see you at the meeting tomorrow"],"model_version":"spam-v1","explain":{"top_k":2}}`})
	if w.Code != 200 {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	var br api.BatchPredictResponse
	if err := json.Unmarshal(w.Body.Bytes(), &br); err != nil {
		t.Fatal(err)
	}
	for i, p := range br.Predictions {
		if p.Explanation == nil || len(p.Explanation.Contributions) != 2 {
			t.Fatalf("batch text %d: %+v", i, p.Explanation)
		}
	}
	for _, bad := range []string{`"yes"`, `{"top_k":0}`, `{"top_k":1001}`, `{"max_tokens":-1}`, `{"topk":3}`, `3`} {
		w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"x","model_version":"spam-v1","explain":` + bad + `}`})
		if w.Code != 422 && w.Code != 400 {
			t.Errorf("explain %s: status %d %s", bad, w.Code, w.Body)
		}
		p := problemOf(t, w)
		if !strings.Contains(strings.ToLower(w.Body.String()), "explain") {
			t.Errorf("explain %s: the problem does not name explain: %+v", bad, p)
		}
	}
}

// TestPredictExplainOcclusion: a tree model has no exact explanation; the
// answer is occlusion, marked approximate, each contribution the drop in
// the predicted class's log-odds without the word.
func TestPredictExplainOcclusion(t *testing.T) {
	m := loadSklearn(t, filepath.Join("..", "model", "sklearn", "testdata", "models", "tree_tfidf.joblib"))
	s := newServer(t, &oneModel{id: "tree-v1", m: m}, server.Options{})
	text := "great product, love it, works great"
	r := predictExplain(t, s, `{"text":"`+text+`","model_version":"tree-v1","explain":{"top_k":3,"max_tokens":4}}`)
	ex := r.Explanation
	if ex == nil || ex.Method != "occlusion" || !ex.Approximate || ex.Score != "log_odds" {
		t.Fatalf("explanation %+v", ex)
	}
	if ex.Features != 5 || len(ex.Contributions) != 3 {
		t.Fatalf("features %d contributions %d (want 5 distinct words, top 3)", ex.Features, len(ex.Contributions))
	}
	preds, err := m.Predict(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Value != server.LogOdds(preds[0].Confidence) {
		t.Fatalf("value %v, confidence %v", ex.Value, preds[0].Confidence)
	}
	for _, c := range ex.Contributions {
		without := strings.ReplaceAll(text, c.Feature, "")
		p, err := m.Predict(context.Background(), []string{without})
		if err != nil {
			t.Fatal(err)
		}
		if want := ex.Value - server.LogOdds(p[0].Probabilities[preds[0].Index]); math.Abs(c.Value-want) > 1e-12 {
			t.Errorf("%q: contribution %v, want %v", c.Feature, c.Value, want)
		}
		for _, sp := range c.Spans {
			if spanText(text, sp) != c.Feature {
				t.Errorf("%q: span %v covers %q", c.Feature, sp, spanText(text, sp))
			}
		}
	}
}

// TestPredictExplainONNX: occlusion on the ONNX sample (spam-v2).
func TestPredictExplainONNX(t *testing.T) {
	lib := os.Getenv("MLSERVE_ONNX_LIBRARY_PATH")
	if lib == "" {
		lib = filepath.Join("..", "..", onnx.DefaultLibrary)
	}
	if _, err := os.Stat(lib); err != nil {
		if os.Getenv("MLSERVE_REQUIRE_ONNX") == "1" {
			t.Fatalf("ONNX Runtime not at %s", lib)
		}
		t.Skipf("ONNX Runtime not at %s: run scripts/setup-onnxruntime.sh", lib)
	}
	m, err := onnx.LoadDir(context.Background(), filepath.Join("..", "..", "models", "spam", "v2"), onnx.Options{LibraryPath: lib, IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s := newServer(t, &oneModel{id: "spam-v2", m: m}, server.Options{})
	text := "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now."
	body, _ := json.Marshal(map[string]any{"text": text, "model_version": "spam-v2", "explain": map[string]int{"top_k": 5}})
	r := predictExplain(t, s, string(body))
	ex := r.Explanation
	if ex == nil || ex.Method != "occlusion" || !ex.Approximate || len(ex.Contributions) != 5 {
		t.Fatalf("explanation %+v", ex)
	}
	if math.Abs(ex.Value-server.LogOdds(r.Confidence)) > 1e-6*math.Abs(ex.Value) {
		t.Fatalf("value %v, confidence %v", ex.Value, r.Confidence)
	}
	for _, c := range ex.Contributions {
		if len(c.Spans) == 0 || !strings.EqualFold(spanText(text, c.Spans[0]), c.Feature) {
			t.Errorf("%q: spans %v", c.Feature, c.Spans)
		}
	}
	t.Logf("ONNX occlusion: %+v", ex.Contributions)
}

// TestOIPExplanation: the Open Inference Protocol's explanation output, one
// JSON document per text, given only when asked for, in JSON and binary.
func TestOIPExplanation(t *testing.T) {
	m := loadSklearn(t, filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	s := newServer(t, &oneModel{id: "spam-v1", m: m}, server.Options{})
	body := `{"inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["WIN a FREE prize now","see you at the meeting"]}],` +
		`"outputs":[{"name":"label"},{"name":"explanation","parameters":{"top_k":2}}]}`
	w := do(t, s, call{method: "POST", path: "/v2/models/spam-v1/infer", body: body})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var r struct {
		Outputs []struct {
			Name     string
			Datatype string
			Shape    []int64
			Data     []string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Outputs) != 2 || r.Outputs[1].Name != "explanation" || r.Outputs[1].Datatype != "BYTES" || len(r.Outputs[1].Data) != 2 {
		t.Fatalf("outputs %+v", r.Outputs)
	}
	for i, doc := range r.Outputs[1].Data {
		var ex api.Explanation
		if err := json.Unmarshal([]byte(doc), &ex); err != nil {
			t.Fatalf("text %d: %v: %s", i, err, doc)
		}
		if ex.Method != "exact" || len(ex.Contributions) != 2 {
			t.Errorf("text %d: %+v", i, ex)
		}
	}
	// Not asked for: not given.
	w = do(t, s, call{method: "POST", path: "/v2/models/spam-v1/infer", body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hi there"]}]}`})
	if w.Code != 200 || strings.Contains(w.Body.String(), "explanation") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = do(t, s, call{method: "POST", path: "/v2/models/spam-v1/infer", body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hi"]}],"outputs":[{"name":"explanation","parameters":{"top_k":5000}}]}`})
	if w.Code != 400 || !strings.Contains(w.Body.String(), "top_k") {
		t.Fatalf("top_k too large: %d %s", w.Code, w.Body)
	}
}

// TestOcclusionBudget: a batch's texts share the occlusion budget, so 100
// texts asking for 512 words each get 64 each.
func TestOcclusionBudget(t *testing.T) {
	m := loadSklearn(t, filepath.Join("..", "model", "sklearn", "testdata", "models", "tree_tfidf.joblib"))
	s := newServer(t, &oneModel{id: "tree-v1", m: m}, server.Options{})
	var words []string
	for i := range 100 {
		words = append(words, fmt.Sprintf("w%03d", i))
	}
	text := strings.Join(words, " ")
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = text
	}
	body, _ := json.Marshal(map[string]any{"texts": texts, "model_version": "tree-v1", "explain": map[string]int{"top_k": 1000, "max_tokens": 512}})
	w := do(t, s, call{method: "POST", path: "/batch-predict", body: string(body)})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var r api.BatchPredictResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	for i, p := range r.Predictions {
		if p.Explanation.Features != 100 || len(p.Explanation.Contributions) != 64 {
			t.Fatalf("text %d: %d words, %d occluded; want 100 and 64", i, p.Explanation.Features, len(p.Explanation.Contributions))
		}
	}
}
