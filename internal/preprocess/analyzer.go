package preprocess

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrConfig is returned for an analyzer or vectorizer configuration that is
// invalid or not supported.
var ErrConfig = errors.New("preprocess: invalid configuration")

// MaxNgram is the longest n-gram an Analyzer computes. A text of n tokens
// (or code points) costs about n·max_n terms of up to max_n tokens each, so
// the bound keeps one text's cost linear in its length; scikit-learn's
// defaults and common choices stay far below it (word (1, 3), char_wb
// (2, 5)).
const MaxNgram = 100

// checkEvery is how many terms (or tokens) the analysis loops produce
// between two looks at the context: often enough that a cancelled request
// stops within a fraction of a millisecond of work, rarely enough that the
// check costs nothing measurable.
const checkEvery = 4096

// Analyzer kinds, as scikit-learn's analyzer parameter names them.
const (
	KindWord   = "word"
	KindChar   = "char"
	KindCharWB = "char_wb"
)

// AnalyzerConfig mirrors the analysis parameters of scikit-learn's
// CountVectorizer, TfidfVectorizer and HashingVectorizer.
type AnalyzerConfig struct {
	// Kind is "word" (the default when empty), "char" or "char_wb".
	Kind string
	// Lowercase applies Python's str.lower first.
	Lowercase bool
	// StripAccents is "", "ascii" or "unicode".
	StripAccents string
	// TokenPattern is the Python regular expression for word tokens; empty
	// means DefaultTokenPattern. Ignored by the char analyzers.
	TokenPattern string
	// StopWords are removed from word tokens before n-grams are built; use
	// EnglishStopWords for stop_words="english".
	StopWords []string
	// NgramMin and NgramMax are ngram_range; zero values mean (1, 1).
	NgramMin, NgramMax int
}

// Analyzer is a compiled AnalyzerConfig: it splits a text into the terms
// scikit-learn's build_analyzer() returns. Safe for concurrent use.
type Analyzer struct {
	cfg      AnalyzerConfig
	tok      *tokenizer
	stop     map[string]struct{}
	min, max int
}

// NewAnalyzer validates cfg and precompiles it. An untranslatable token
// pattern is refused with an error wrapping ErrPattern.
func NewAnalyzer(cfg AnalyzerConfig) (*Analyzer, error) {
	if cfg.Kind == "" {
		cfg.Kind = KindWord
	}
	if cfg.NgramMin == 0 && cfg.NgramMax == 0 {
		cfg.NgramMin, cfg.NgramMax = 1, 1
	}
	if cfg.NgramMin < 1 || cfg.NgramMax < cfg.NgramMin {
		return nil, fmt.Errorf("%w: ngram_range (%d, %d)", ErrConfig, cfg.NgramMin, cfg.NgramMax)
	}
	if cfg.NgramMax > MaxNgram {
		return nil, fmt.Errorf("%w: ngram_range (%d, %d): n-grams longer than %d are not supported", ErrConfig, cfg.NgramMin, cfg.NgramMax, MaxNgram)
	}
	switch cfg.StripAccents {
	case "", "ascii", "unicode":
	default:
		return nil, fmt.Errorf("%w: strip_accents %q", ErrConfig, cfg.StripAccents)
	}
	a := &Analyzer{cfg: cfg, min: cfg.NgramMin, max: cfg.NgramMax}
	switch cfg.Kind {
	case KindWord:
		p := cfg.TokenPattern
		if p == "" {
			p = DefaultTokenPattern
		}
		t, err := compileTokenPattern(p)
		if err != nil {
			return nil, err
		}
		a.tok = t
		if len(cfg.StopWords) > 0 {
			a.stop = make(map[string]struct{}, len(cfg.StopWords))
			for _, w := range cfg.StopWords {
				a.stop[w] = struct{}{}
			}
		}
	case KindChar, KindCharWB:
	default:
		return nil, fmt.Errorf("%w: analyzer %q (callables cannot be served)", ErrConfig, cfg.Kind)
	}
	return a, nil
}

// LongestTerm is the longest n-gram, in the analyzer kind's units (word:
// tokens, char and char_wb: code points), that can equal a term of vocab:
// a word n-gram of n tokens holds at least n-1 spaces, the ones that join
// them, so a term with s spaces is at most s+1 tokens; a char n-gram of n
// is n code points. A vectorizer over vocab finds no term among longer
// n-grams. 0 for an empty vocabulary.
func LongestTerm(kind string, vocab map[string]int32) int {
	n := 0
	for t := range vocab {
		if kind == KindChar || kind == KindCharWB {
			n = max(n, utf8.RuneCountInString(t))
		} else {
			n = max(n, strings.Count(t, " ")+1)
		}
	}
	return n
}

// Config returns the configuration the analyzer was built from, with
// defaults filled in.
func (a *Analyzer) Config() AnalyzerConfig { return a.cfg }

// Scratch is reusable working space for the allocation-free analysis path.
// The zero value is ready; a Scratch must not be used by two goroutines at
// once.
type Scratch struct {
	text  []byte  // preprocessed text
	term  []byte  // n-gram being built
	spans []int   // token offsets, start/end pairs
	runes []int   // byte offset of each code point, plus the end
	idx   []int32 // vectorizer column per term
	hv    []uint64
	ids   []int32 // vocabIndex word id per token
	tmp   []int32 // sortColumns' buffer
}

// Analyze returns the terms of text in scikit-learn's order.
func (a *Analyzer) Analyze(text string) []string {
	var sc Scratch
	var out []string
	a.Each(text, &sc, func(term []byte) { out = append(out, string(term)) })
	return out
}

// Preprocess applies lowercasing and accent stripping, as scikit-learn's
// build_preprocessor does.
func (a *Analyzer) Preprocess(text string) string {
	if a.cfg.Lowercase {
		text = Lower(text)
	}
	switch a.cfg.StripAccents {
	case "unicode":
		text = StripAccentsUnicode(text)
	case "ascii":
		text = StripAccentsASCII(text)
	}
	return text
}

// preprocess writes the preprocessed text into sc.text.
func (a *Analyzer) preprocess(text string, sc *Scratch) {
	sc.text = sc.text[:0]
	if a.cfg.StripAccents == "" || isASCII(text) {
		if a.cfg.Lowercase {
			sc.text = appendLower(sc.text, text)
		} else {
			sc.text = append(sc.text, text...)
		}
		return
	}
	sc.text = append(sc.text, a.Preprocess(text)...)
}

// Each calls emit with each term of text, in scikit-learn's order. term is
// only valid during the call (it points into sc); copy it to keep it.
func (a *Analyzer) Each(text string, sc *Scratch, emit func(term []byte)) {
	_ = a.EachContext(context.Background(), text, sc, emit)
}

// EachContext is Each that stops, returning ctx.Err(), once ctx is done: it
// looks at ctx every few thousand terms, so a long text with long n-grams
// stops within moments of its request's cancellation rather than after its
// last term. emit may have seen some of the terms when it returns an error.
func (a *Analyzer) EachContext(ctx context.Context, text string, sc *Scratch, emit func(term []byte)) error {
	a.preprocess(text, sc)
	switch a.cfg.Kind {
	case KindWord:
		return a.words(ctx, sc, emit)
	case KindChar:
		collapseSpaces(sc)
		if err := ctx.Err(); err != nil {
			return err
		}
		return a.charNgrams(ctx, sc, emit)
	case KindCharWB:
		collapseSpaces(sc)
		if err := ctx.Err(); err != nil {
			return err
		}
		return a.charWBNgrams(ctx, sc, emit)
	}
	return nil
}

// runChunk is how many bytes of text the word-run tokenizer takes between
// two looks at the context.
const runChunk = 64 << 10

// spans tokenizes sc.text into sc.spans, stop words dropped; it stops with
// ctx's error once ctx is done, looked at every runChunk bytes where the
// tokens are runs of word characters.
func (a *Analyzer) spans(ctx context.Context, sc *Scratch) error {
	text := sc.text
	if a.tok.minRun > 0 && a.stop == nil {
		sc.spans = sc.spans[:0]
		// No run crosses an ASCII non-word byte, so the text splits there
		// into chunks tokenized one at a time with the same result.
		for lo := 0; lo < len(text); {
			hi := lo + runChunk
			for hi < len(text) && (text[hi] >= utf8.RuneSelf || isASCIIWord[text[hi]]) {
				hi++
			}
			hi = min(hi, len(text))
			if lo == 0 && hi == len(text) {
				sc.spans = a.tok.appendRuns(sc.spans, text)
				return nil
			}
			n := len(sc.spans)
			sc.spans = a.tok.appendRuns(sc.spans, text[lo:hi])
			for i := n; i < len(sc.spans); i++ {
				sc.spans[i] += lo
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			lo = hi
		}
		return nil
	}
	sc.spans = sc.spans[:0]
	err := a.tok.tokens(ctx, text, func(s, e int) {
		if a.stop != nil {
			if _, ok := a.stop[string(text[s:e])]; ok {
				return
			}
		}
		sc.spans = append(sc.spans, s, e)
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// words tokenizes sc.text, drops stop words and emits word n-grams.
func (a *Analyzer) words(ctx context.Context, sc *Scratch, emit func([]byte)) error {
	if err := a.spans(ctx, sc); err != nil {
		return err
	}
	text := sc.text
	n := len(sc.spans) / 2
	if a.min == 1 {
		for i := 0; i < n; {
			// Blocks of checkEvery terms keep the check out of the loop
			// that emits them.
			for stop := min(n, i+checkEvery); i < stop; i++ {
				emit(text[sc.spans[2*i]:sc.spans[2*i+1]])
			}
			if i < n {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	for k := max(a.min, 2); k <= min(a.max, n); k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i+k <= n; i++ {
			if i%checkEvery == checkEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			sc.term = sc.term[:0]
			for j := i; j < i+k; j++ {
				if j > i {
					sc.term = append(sc.term, ' ')
				}
				sc.term = append(sc.term, text[sc.spans[2*j]:sc.spans[2*j+1]]...)
			}
			emit(sc.term)
		}
	}
	return nil
}

// collapseSpaces replaces each run of two or more Python whitespace
// characters in sc.text with one space, as re.sub(r"\s\s+", " ", text).
// A single whitespace character is kept as it is.
func collapseSpaces(sc *Scratch) {
	src := sc.text
	out := src[:0]
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if !IsPySpace(r) {
			out = append(out, src[i:i+size]...)
			i += size
			continue
		}
		j, n := i+size, 1
		for j < len(src) {
			r2, s2 := utf8.DecodeRune(src[j:])
			if !IsPySpace(r2) {
				break
			}
			j += s2
			n++
		}
		if n >= 2 {
			out = append(out, ' ')
		} else {
			out = append(out, src[i:j]...)
		}
		i = j
	}
	sc.text = out
}

// runeOffsets fills sc.runes with the byte offset of every code point of b,
// plus len(b).
func runeOffsets(sc *Scratch, b []byte) []int {
	sc.runes = sc.runes[:0]
	for i := 0; i < len(b); {
		sc.runes = append(sc.runes, i)
		if b[i] < utf8.RuneSelf {
			i++
		} else {
			_, s := utf8.DecodeRune(b[i:])
			i += s
		}
	}
	return append(sc.runes, len(b))
}

// charNgrams emits every code-point n-gram of sc.text, as scikit-learn's
// _char_ngrams.
func (a *Analyzer) charNgrams(ctx context.Context, sc *Scratch, emit func([]byte)) error {
	off := runeOffsets(sc, sc.text)
	sc.runes = off
	n := len(off) - 1
	lo := a.min
	if lo == 1 {
		for i := 0; i < n; {
			for stop := min(n, i+checkEvery); i < stop; i++ {
				emit(sc.text[off[i]:off[i+1]])
			}
			if i < n {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		lo = 2
	}
	for k := lo; k <= min(a.max, n); k++ {
		for i := 0; i+k <= n; {
			for stop := min(n-k+1, i+checkEvery); i < stop; i++ {
				emit(sc.text[off[i]:off[i+k]])
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// longWordNgrams emits the k-grams of a very long padded word w after its
// first, in blocks with a look at ctx after each, and returns the last
// offset emitted (as charWBNgrams' own loop leaves o).
func longWordNgrams(ctx context.Context, w []byte, off []int, k int, emit func([]byte)) (int, error) {
	wlen, o := len(off)-1, 0
	for o+k < wlen {
		for stop := min(wlen-k, o+checkEvery); o < stop; {
			o++
			emit(w[off[o]:off[o+k]])
		}
		if err := ctx.Err(); err != nil {
			return o, err
		}
	}
	return o, nil
}

// charWBNgrams emits the n-grams of each whitespace-separated word padded
// with one space on each side, as scikit-learn's _char_wb_ngrams: a word
// shorter than n yields itself once.
func (a *Analyzer) charWBNgrams(ctx context.Context, sc *Scratch, emit func([]byte)) error {
	text := sc.text
	// next is where the next look at ctx is due: every 4 KB of text, at
	// most a few hundred thousand terms of short words (a long word looks
	// at it itself).
	next := 4 << 10
	for i := 0; i < len(text); {
		if i >= next {
			next = i + 4<<10
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r, size := utf8.DecodeRune(text[i:])
		if IsPySpace(r) {
			i += size
			continue
		}
		j := i
		for j < len(text) {
			r2, s2 := utf8.DecodeRune(text[j:])
			if IsPySpace(r2) {
				break
			}
			j += s2
		}
		sc.term = append(sc.term[:0], ' ')
		sc.term = append(sc.term, text[i:j]...)
		sc.term = append(sc.term, ' ')
		w := sc.term
		off := runeOffsets(sc, w)
		sc.runes = off
		wlen := len(off) - 1
		for k := a.min; k <= a.max; k++ {
			end := min(k, wlen)
			emit(w[off[0]:off[end]])
			o := 0
			if wlen > checkEvery {
				var err error
				if o, err = longWordNgrams(ctx, w, off, k, emit); err != nil {
					return err
				}
			}
			for o+k < wlen {
				o++
				emit(w[off[o]:off[o+k]])
			}
			if o == 0 {
				break
			}
		}
		i = j
	}
	return nil
}
