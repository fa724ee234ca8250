package server

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// explainJob is what explaining one request's predictions needs.
type explainJob struct {
	id     string
	m      model.Model         // the model without its cleaning wrapper
	clean  func(string) string // the manifest's cleaning; nil when none
	raw    []string            // texts as sent (spans point into them)
	texts  []string            // texts as the model saw them
	preds  []model.Prediction
	opt    api.Explain
	labels []string
}

// maxOcclusionTexts bounds the variants occlusion runs for one request:
// a batch's texts share it (100 texts, 64 words each), so a request costs
// at most this many texts more through the model.
const maxOcclusionTexts = 6400

// explainTexts explains each prediction: exactly where the model can
// (model.Explainer), by occlusion otherwise. Only requests that ask for it
// come here; the prediction path does not change for the others.
func (s *Server) explainTexts(ctx context.Context, j explainJob) ([]*api.Explanation, error) {
	per := max(1, maxOcclusionTexts/len(j.texts))
	j.opt.MaxTokens = min(cmp.Or(j.opt.MaxTokens, model.DefaultMaxTokens), per)
	out := make([]*api.Explanation, len(j.texts))
	for i := range j.texts {
		ex, err := s.explainOne(ctx, j, i)
		if err != nil {
			return nil, err
		}
		out[i] = ex
	}
	return out, nil
}

func (s *Server) explainOne(ctx context.Context, j explainJob, i int) (*api.Explanation, error) {
	if e, ok := j.m.(model.Explainer); ok {
		ex, err := e.Explain(ctx, model.ExplainRequest{Text: j.texts[i], Original: j.raw[i], TopK: j.opt.TopK})
		if err == nil {
			return &ex, nil
		}
		if !errors.Is(err, model.ErrNotExplainable) {
			return nil, err
		}
	}
	run := func(ctx context.Context, texts []string) ([]model.Prediction, error) {
		if s.opts.Engine != nil {
			return s.opts.Engine.Predict(ctx, j.id, j.m, texts)
		}
		return j.m.Predict(ctx, texts)
	}
	return occlude(ctx, run, j.clean, j.raw[i], j.preds[i], j.labels, j.opt)
}

// word is one distinct word of a text (maximal runs of Python word
// characters, compared lowercased) and its occurrences in code points.
type word struct {
	key   string
	spans []api.Span
	bytes [][2]int // byte offsets of the occurrences
}

// wordsOf splits text into its distinct words, in order of first
// occurrence.
func wordsOf(text string) []*word {
	var out []*word
	byKey := map[string]*word{}
	start, startB, cp := -1, 0, 0
	flush := func(end, endB int) {
		key := preprocess.Lower(text[startB:endB])
		w := byKey[key]
		if w == nil {
			w = &word{key: key}
			byKey[key] = w
			out = append(out, w)
		}
		w.spans = append(w.spans, api.Span{Start: start, End: end})
		w.bytes = append(w.bytes, [2]int{startB, endB})
		start = -1
	}
	for b, r := range text {
		if preprocess.IsPyWord(r) {
			if start < 0 {
				start, startB = cp, b
			}
		} else if start >= 0 {
			flush(cp, b)
		}
		cp++
	}
	if start >= 0 {
		flush(cp, len(text))
	}
	return out
}

// without is text with every occurrence of w cut out. A word is a maximal
// run of word characters, so cutting it never joins two others.
func without(text string, w *word) string {
	var sb strings.Builder
	sb.Grow(len(text))
	prev := 0
	for _, o := range w.bytes {
		sb.WriteString(text[prev:o[0]])
		prev = o[1]
	}
	sb.WriteString(text[prev:])
	return sb.String()
}

// explainedScore is the score occlusion follows for a prediction of class
// idx: the log-odds of its probability (a confident model's probability
// sits at 1 whatever one word does; its log-odds still move), else its
// decision value (binary: the single one, for the positive class), else
// the confidence.
func explainedScore(p model.Prediction, idx int) (float64, string) {
	switch {
	case idx < len(p.Probabilities):
		return logOdds(p.Probabilities[idx]), "log_odds"
	case len(p.Decision) == 1:
		return p.Decision[0], "decision_function"
	case idx < len(p.Decision):
		return p.Decision[idx], "decision_function"
	}
	return p.Confidence, "confidence"
}

// occlude explains pred by leave-one-word-out: each of the text's first
// max_tokens distinct words is removed (every occurrence), the variants
// go through the model in one batch (through the engine, so they batch
// with other traffic), and a word's contribution is how much the
// explained score falls without it. Approximate: words interact.
func occlude(ctx context.Context, run func(context.Context, []string) ([]model.Prediction, error),
	clean func(string) string, raw string, pred model.Prediction, labels []string, opt api.Explain) (*api.Explanation, error) {
	topK := cmp.Or(opt.TopK, model.DefaultTopK)
	maxTok := cmp.Or(opt.MaxTokens, model.DefaultMaxTokens)
	words := wordsOf(raw)
	value, score := explainedScore(pred, pred.Index)
	class := pred.Label
	if score == "decision_function" && len(pred.Decision) == 1 && len(labels) == 2 {
		class = labels[1]
	}
	ex := &api.Explanation{Method: model.MethodOcclusion, Approximate: true, Class: class, Score: score,
		Value: value, Features: len(words), Contributions: []api.Contribution{}}
	words = words[:min(len(words), maxTok)]
	if len(words) == 0 {
		return ex, nil
	}
	variants := make([]string, len(words))
	for k, w := range words {
		variants[k] = without(raw, w)
		if clean != nil {
			variants[k] = clean(variants[k])
		}
	}
	preds, err := run(ctx, variants)
	if err != nil {
		return nil, err
	}
	if len(preds) != len(variants) {
		return nil, errors.New("occlusion: the model answered a different number of texts")
	}
	cs := make([]api.Contribution, len(words))
	for k, w := range words {
		sc, _ := explainedScore(preds[k], pred.Index)
		d := value - sc
		if math.IsNaN(d) || math.IsInf(d, 0) {
			d = 0
		}
		cs[k] = api.Contribution{Feature: w.key, Value: d, Spans: w.spans}
	}
	slices.SortStableFunc(cs, func(a, b api.Contribution) int { return cmp.Compare(math.Abs(b.Value), math.Abs(a.Value)) })
	for _, c := range cs[min(topK, len(cs)):] {
		ex.Rest += c.Value
	}
	ex.Contributions = cs[:min(topK, len(cs))]
	return ex, nil
}

// logOdds is log(p/(1-p)), p clipped to [1e-15, 1-1e-15] so a probability
// of exactly 0 or 1 stays finite.
func logOdds(p float64) float64 {
	p = min(max(p, 1e-15), 1-1e-15)
	return math.Log(p) - math.Log1p(-p)
}
