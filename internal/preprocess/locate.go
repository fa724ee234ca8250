package preprocess

import (
	"context"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxSpansPerTerm caps how many occurrences Locate reports for one term.
const MaxSpansPerTerm = 32

// TermSpan is one occurrence of a term in an original text: [Start, End)
// in code points (Python's str indices).
type TermSpan struct{ Start, End int }

// Locator finds where an analyzer's terms occur in a text as the client
// sent it, before any cleaning. Build one per text with NewLocator; it is
// not safe for concurrent use.
//
// The model analyzes a cleaned text (a manifest's steps may strip HTML,
// collapse white space, truncate) that lowercasing and accent stripping
// then rewrite, so offsets in what the analyzer saw do not point into the
// original. The locator instead builds a view of the original, each code
// point put through the analyzer's own preprocessing on its own, with every
// view byte remembering the code point it came from. Word terms: the
// analyzer's tokens of the cleaned text are matched in order against the
// tokens of the view (tokens the cleaning removed, such as HTML tags, are
// skipped), and an n-gram spans from its first token's start to its last
// token's end. Char terms: every occurrence of the term in the view, a
// space in the term matching any run of white space and the padding
// spaces of char_wb matching a word boundary. A term that cannot be found
// (a cleaning step that rewrote the words themselves) gets no span: never a
// wrong one.
type Locator struct {
	a    *Analyzer
	view []byte
	orig []int // code point index in the original of each view byte
	// Word analyzers: the analyzer's tokens of the text the model saw and
	// each one's span in the original (Start -1: not found).
	tokens []string
	at     []TermSpan
}

// NewLocator prepares the view of original for a's terms; text is what the
// model analyzed (original after cleaning; original itself when there was
// no cleaning). It stops with ctx's error once ctx is done.
func NewLocator(ctx context.Context, a *Analyzer, original, text string) (*Locator, error) {
	l := &Locator{a: a, view: make([]byte, 0, len(original)), orig: make([]int, 0, len(original))}
	i := 0
	var buf [utf8.UTFMax]byte
	for _, r := range original {
		if r < utf8.RuneSelf {
			c := byte(r)
			if a.cfg.Lowercase && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			l.view = append(l.view, c)
			l.orig = append(l.orig, i)
			i++
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		piece := a.Preprocess(string(buf[:n]))
		for range len(piece) {
			l.orig = append(l.orig, i)
		}
		l.view = append(l.view, piece...)
		i++
	}
	if a.cfg.Kind == KindWord {
		if err := l.alignWords(ctx, text); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// fold makes two spellings of one token comparable: what the analyzer
// wrote (from the whole cleaned text) and what the view holds (code point
// by code point, where Python's final sigma rule cannot apply, and where a
// cleaning step's lowercasing did not happen).
func fold(s string) string {
	return strings.ReplaceAll(Lower(s), "ς", "σ")
}

// alignWords matches the analyzer's tokens of text, in order, to the
// view's tokens.
func (l *Locator) alignWords(ctx context.Context, text string) error {
	var sc Scratch
	l.a.preprocess(text, &sc)
	if err := l.a.spans(ctx, &sc); err != nil {
		return err
	}
	l.tokens = make([]string, len(sc.spans)/2)
	for k := range l.tokens {
		l.tokens[k] = string(sc.text[sc.spans[2*k]:sc.spans[2*k+1]])
	}
	var vs []int // view token offsets, start/end pairs
	var view []string
	err := l.a.tok.tokens(ctx, l.view, func(s, e int) {
		if e > s {
			vs = append(vs, s, e)
			view = append(view, string(l.view[s:e]))
		}
	})
	if err != nil {
		return err
	}
	// Each real token takes the first view token at or after the last
	// match that folds to the same string. Without cleaning the two lists
	// agree but for stop words, so a short exact look ahead finds nearly
	// every token; the rest go through positions by folded token (built on
	// the first miss), so a text whose cleaning rewrote every word costs
	// n log n, not n².
	const ahead = 8
	var pos map[string][]int
	l.at = make([]TermSpan, len(l.tokens))
	j := 0
	for k, t := range l.tokens {
		l.at[k] = TermSpan{-1, -1}
		if k%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		jj := -1
		for q := j; q < min(j+ahead, len(view)); q++ {
			if view[q] == t {
				jj = q
				break
			}
		}
		if jj < 0 {
			if pos == nil {
				pos = make(map[string][]int, len(view))
				for q, v := range view {
					f := fold(v)
					pos[f] = append(pos[f], q)
				}
			}
			ps := pos[fold(t)]
			if i, _ := slices.BinarySearch(ps, j); i < len(ps) {
				jj = ps[i]
			}
		}
		if jj >= 0 {
			l.at[k] = TermSpan{l.orig[vs[2*jj]], l.orig[vs[2*jj+1]-1] + 1}
			j = jj + 1
		}
	}
	return nil
}

// words finds a word n-gram: every run of the analyzer's tokens that the
// n-gram joins, from its first token's start to its last token's end.
func (l *Locator) words(term string) []TermSpan {
	parts := strings.Split(term, " ")
	n := len(parts)
	var out []TermSpan
	for k := 0; k+n <= len(l.tokens) && len(out) < MaxSpansPerTerm; k++ {
		if !slices.Equal(l.tokens[k:k+n], parts) {
			continue
		}
		first, last := l.at[k], l.at[k+n-1]
		if first.Start >= 0 && last.Start >= 0 {
			out = append(out, TermSpan{first.Start, last.End})
		}
	}
	return out
}

// Spans returns term's occurrences in the original text, in order; nil
// when it was not found.
func (l *Locator) Spans(term string) []TermSpan {
	if l.a.cfg.Kind == KindWord {
		return l.words(term)
	}
	return l.chars(term)
}

// chars finds a char or char_wb n-gram in the view.
func (l *Locator) chars(term string) []TermSpan {
	want := []rune(fold(strings.TrimFunc(term, IsPySpace)))
	if len(want) == 0 {
		return nil
	}
	var out []TermSpan
	for p := 0; p < len(l.view) && len(out) < MaxSpansPerTerm; {
		if e, ok := l.matchAt(p, want); ok {
			out = append(out, TermSpan{l.orig[p], l.orig[e-1] + 1})
		}
		_, size := utf8.DecodeRune(l.view[p:])
		p += size
	}
	return out
}

// matchAt reports whether want matches the view at byte p, and where the
// match ends; a space in want matches a run of white space.
func (l *Locator) matchAt(p int, want []rune) (int, bool) {
	q := p
	for _, w := range want {
		if q >= len(l.view) {
			return 0, false
		}
		r, size := utf8.DecodeRune(l.view[q:])
		if IsPySpace(w) {
			if !IsPySpace(r) {
				return 0, false
			}
			for q < len(l.view) {
				r, size = utf8.DecodeRune(l.view[q:])
				if !IsPySpace(r) {
					break
				}
				q += size
			}
			continue
		}
		if r != w && fold(string(r)) != string(w) {
			return 0, false
		}
		q += size
	}
	return q, true
}

// Column is the column term hashes to, as TransformContext computes it.
func (h *HashingVectorizer) Column(term []byte) int32 {
	n := uint32(h.NFeatures)
	hs := int32(Murmur3(term, 0))
	if hs == math.MinInt32 {
		return int32((2147483647 - (n - 1)) % n)
	}
	if hs < 0 {
		hs = -hs
	}
	return int32(uint32(hs) % n)
}
