package preprocess

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// WordTokenizer splits text into words and looks each up in a vocabulary:
// by a token pattern, as Python's re.findall(pattern, text) after
// scikit-learn's preprocessing (lowercase, then strip_accents), or by
// whitespace, as Python's str.split(). Safe for concurrent use.
type WordTokenizer struct {
	an         *Analyzer
	whitespace bool
	vocab      *Vocab
	unk        int
}

// NewWordTokenizer builds a pattern tokenizer. pattern is a Python re
// pattern ("" means DefaultTokenPattern) with the same Unicode rules as the
// scikit-learn analyzers; one capturing group makes findall return the
// group. lowercase is Python's str.lower; stripAccents is "", "ascii" or
// "unicode" as in scikit-learn. A word missing from v becomes unkID, or is
// dropped when unkID is negative. Untranslatable patterns are refused with
// an error wrapping ErrPattern.
func NewWordTokenizer(pattern string, lowercase bool, stripAccents string, v *Vocab, unkID int) (*WordTokenizer, error) {
	if pattern == "" {
		pattern = DefaultTokenPattern
	}
	an, err := NewAnalyzer(AnalyzerConfig{Kind: KindWord, TokenPattern: pattern, Lowercase: lowercase, StripAccents: stripAccents})
	if err != nil {
		return nil, err
	}
	return newWordTokenizer(an, false, v, unkID)
}

// NewWhitespaceTokenizer builds a tokenizer that splits on Python
// whitespace, as str.split() with no argument, after the same lowercasing
// and accent stripping as NewWordTokenizer.
func NewWhitespaceTokenizer(lowercase bool, stripAccents string, v *Vocab, unkID int) (*WordTokenizer, error) {
	an, err := NewAnalyzer(AnalyzerConfig{Kind: KindChar, Lowercase: lowercase, StripAccents: stripAccents})
	if err != nil {
		return nil, err
	}
	return newWordTokenizer(an, true, v, unkID)
}

func newWordTokenizer(an *Analyzer, ws bool, v *Vocab, unkID int) (*WordTokenizer, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil vocabulary", ErrConfig)
	}
	if unkID >= v.Len() {
		return nil, fmt.Errorf("%w: unknown-token id %d is outside the vocabulary (%d ids)", ErrConfig, unkID, v.Len())
	}
	return &WordTokenizer{an: an, whitespace: ws, vocab: v, unk: unkID}, nil
}

// Tokenize appends the ids of text's words to dst.
func (t *WordTokenizer) Tokenize(text string, dst []int) []int {
	sc := scratchPool.Get().(*Scratch)
	defer scratchPool.Put(sc)
	t.each(text, sc, func(w []byte) { dst = t.lookup(w, dst) })
	return dst
}

// TokenizeN appends the ids of text's first words to dst, at most limit
// ids (no limit when limit <= 0). With whitespace splitting or a word-run
// pattern such as the default, the text is preprocessed and scanned a
// stretch at a time, cut before ASCII whitespace (which ends every word
// and every lowercasing or accent-stripping context), until limit ids
// exist; any other pattern is matched over the whole text, then truncated.
func (t *WordTokenizer) TokenizeN(text string, dst []int, limit int) []int {
	sc := scratchPool.Get().(*Scratch)
	defer scratchPool.Put(sc)
	tok := func(s string, dst []int) []int {
		t.each(s, sc, func(w []byte) { dst = t.lookup(w, dst) })
		return dst
	}
	if limit <= 0 || !(t.whitespace || t.an.tok.minRun > 0) {
		return truncate(tok(text, dst), len(dst), limit)
	}
	return tokenizeChunks(text, dst, limit, tok)
}

// CountUnknown returns how many of all text's words (untruncated) are not
// in the vocabulary, and how many words there are: the out-of-vocabulary
// share a drift monitor watches. It does not depend on the unknown id.
func (t *WordTokenizer) CountUnknown(text string) (unknown, total int) {
	sc := scratchPool.Get().(*Scratch)
	defer scratchPool.Put(sc)
	t.each(text, sc, func(w []byte) {
		total++
		if _, ok := t.vocab.idBytes(w); !ok {
			unknown++
		}
	})
	return unknown, total
}

// Words returns the words of text before vocabulary lookup.
func (t *WordTokenizer) Words(text string) []string {
	var sc Scratch
	var out []string
	t.each(text, &sc, func(w []byte) { out = append(out, string(w)) })
	return out
}

// each preprocesses text into sc and calls emit with each word, which is
// valid only during the call.
func (t *WordTokenizer) each(text string, sc *Scratch, emit func(w []byte)) {
	t.an.preprocess(text, sc)
	b := sc.text
	if !t.whitespace {
		// Only a pyre pattern fails, by running out of steps on a text
		// that would backtrack catastrophically in Python too; the words
		// found until then are kept.
		_ = t.an.tok.tokens(context.Background(), b, func(s, e int) { emit(b[s:e]) })
		return
	}
	start := -1
	for i := 0; i < len(b); {
		r, size := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(b[i:])
		}
		if IsPySpace(r) {
			if start >= 0 {
				emit(b[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		emit(b[start:])
	}
}

func (t *WordTokenizer) lookup(w []byte, dst []int) []int {
	if id, ok := t.vocab.idBytes(w); ok {
		return append(dst, id)
	}
	if t.unk >= 0 {
		return append(dst, t.unk)
	}
	return dst
}
