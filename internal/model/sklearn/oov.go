package sklearn

import (
	"sync"

	"github.com/mlserve/mlserve/internal/preprocess"
)

// oovRater computes the out-of-vocabulary rate with the first word
// vectorizer's analyzer narrowed to unigrams.
type oovRater struct {
	an    *preprocess.Analyzer
	vocab *preprocess.CountVectorizer // its Column answers vocabulary_
	pool  sync.Pool                   // *preprocess.Scratch
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
		if _, in := r.vocab.Column(term); !in {
			out++
		}
	})
	r.pool.Put(sc)
	if n == 0 {
		return 0, true
	}
	return float64(out) / float64(n), true
}

// newOOVRater builds the rater on the first word vectorizer (firstWordVec,
// the one Predict counts with); nil when there is none.
func newOOVRater(f featurizer) *oovRater {
	_, cv := firstWordVec(&f)
	if cv == nil {
		return nil
	}
	cfg := cv.Analyzer.Config()
	cfg.NgramMin, cfg.NgramMax = 1, 1
	an, err := preprocess.NewAnalyzer(cfg)
	if err != nil {
		return nil
	}
	return &oovRater{an: an, vocab: cv}
}
