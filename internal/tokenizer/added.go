package tokenizer

import (
	"unicode/utf8"
)

// AddedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedVocab finds added tokens in a text: first the ones matched on the
// raw text (normalized: false), then, in the normalized remainder, the
// others, each leftmost-longest.
type addedVocab struct {
	tokens    []addedToken
	byContent map[string]int
	raw       *trie // values index tokens
	norm      *trie
}

// piece is a split of the text: an added token (id >= 0) or text still to
// pre-tokenize and tokenize (id = -1).
type piece struct {
	n  nstr
	id int
}

func newAddedVocab(tokens []addedToken, nz normalizer) *addedVocab {
	a := &addedVocab{tokens: tokens, byContent: make(map[string]int, len(tokens))}
	for i, t := range tokens {
		a.byContent[t.Content] = t.ID
		if t.Content == "" {
			continue
		}
		if t.Normalized {
			pat := t.Content
			if nz != nil {
				n := newNstr(t.Content, 0, len(t.Content))
				nz.normalize(&n)
				pat = n.norm
			}
			if pat == "" {
				continue
			}
			if a.norm == nil {
				a.norm = newTrie()
			}
			a.norm.add(pat, i)
		} else {
			if a.raw == nil {
				a.raw = newTrie()
			}
			a.raw.add(t.Content, i)
		}
	}
	return a
}

// extract splits text into added tokens and normalized pieces.
func (a *addedVocab) extract(text string, nz normalizer) []piece {
	whole := newNstr(text, 0, len(text))
	var first []piece
	first = a.split(whole, a.raw, first)
	var out []piece
	for _, p := range first {
		if p.id >= 0 {
			out = append(out, p)
			continue
		}
		if nz != nil {
			nz.normalize(&p.n)
		}
		out = a.split(p.n, a.norm, out)
	}
	return out
}

// split finds the tokens of tr in n, appending the pieces (non-empty ones
// only) to dst.
func (a *addedVocab) split(n nstr, tr *trie, dst []piece) []piece {
	if tr == nil || n.norm == "" {
		if n.norm != "" {
			dst = append(dst, piece{n: n, id: -1})
		}
		return dst
	}
	s := n.norm
	last := 0
	emit := func(st, en, id int) {
		if st == en {
			return
		}
		dst = append(dst, piece{n: n.slice(st, en), id: id})
	}
	for i := 0; i < len(s); {
		k, ti := tr.longest(s[i:])
		if k == 0 {
			_, sz := utf8.DecodeRuneInString(s[i:])
			i += sz
			continue
		}
		start, stop := i, i+k
		t := a.tokens[ti]
		if t.SingleWord {
			startOK := start == 0 || !endsWithWord(s[:start])
			stopOK := stop == len(s) || !startsWithWord(s[stop:])
			if !startOK || !stopOK {
				// Aho-Corasick resumes after the discarded match.
				i = stop
				continue
			}
		}
		if t.LStrip {
			ns := start
			for ns > 0 {
				r, sz := utf8.DecodeLastRuneInString(s[:ns])
				if !isSpace(r) {
					break
				}
				ns -= sz
			}
			start = max(ns, last)
		}
		if t.RStrip {
			for stop < len(s) {
				r, sz := utf8.DecodeRuneInString(s[stop:])
				if !isSpace(r) {
					break
				}
				stop += sz
			}
		}
		if last < start {
			emit(last, start, -1)
		}
		emit(start, stop, t.ID)
		last = stop
		i = stop
	}
	if last < len(s) {
		emit(last, len(s), -1)
	}
	return dst
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordRune(r)
}
