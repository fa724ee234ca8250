package sklearn

import (
	"sync"

	"github.com/mlserve/mlserve/internal/preprocess"
)

// oovRater computes the out-of-vocabulary rate with the first word
// vectorizer's analyzer narrowed to unigrams.
type oovRater struct {
	an    *preprocess.Analyzer
	vocab map[string]int32
	pool  sync.Pool // *preprocess.Scratch
}

// OOVRate is the share of text's word unigrams that the model's first word
// vectorizer (in pipeline and feature-union order) does not have in its
// vocabulary_, the drift signal monitoring watches: it is computed with the
// vectorizer's own analyzer at ngram_range=(1, 1), as
// python/train_samples.py computes the reference. A text without tokens
// has rate 0. ok is false when the model has no word vectorizer with a
// vocabulary (character n-grams only, or hashing).
func (m *Model) OOVRate(text string) (rate float64, ok bool) {
	m.oovOnce.Do(func() { m.oov = newOOVRater(m.feat) })
	r := m.oov
	if r == nil {
		return 0, false
	}
	sc, _ := r.pool.Get().(*preprocess.Scratch)
	if sc == nil {
		sc = new(preprocess.Scratch)
	}
	var n, out int
	r.an.Each(text, sc, func(term []byte) {
		n++
		if _, in := r.vocab[string(term)]; !in {
			out++
		}
	})
	r.pool.Put(sc)
	if n == 0 {
		return 0, true
	}
	return float64(out) / float64(n), true
}

// newOOVRater finds the first word vectorizer breadth first, as
// train_samples.word_vectorizer does; nil when there is none.
func newOOVRater(f featurizer) *oovRater {
	queue := []featurizer{f}
	for len(queue) > 0 {
		f, queue = queue[0], queue[1:]
		switch t := f.(type) {
		case textVec:
			var cv *preprocess.CountVectorizer
			switch v := t.tv.(type) {
			case *preprocess.TfidfVectorizer:
				cv = &v.Count
			case *preprocess.CountVectorizer:
				cv = v
			}
			if cv == nil || cv.Analyzer.Config().Kind != preprocess.KindWord {
				continue
			}
			cfg := cv.Analyzer.Config()
			cfg.NgramMin, cfg.NgramMax = 1, 1
			an, err := preprocess.NewAnalyzer(cfg)
			if err != nil {
				continue
			}
			return &oovRater{an: an, vocab: cv.Vocabulary}
		case *chain:
			queue = append(queue, t.first)
		case *union:
			queue = append(queue, t.parts...)
		}
	}
	return nil
}
