package preprocess

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer maps a text to vocabulary ids, without special tokens. It is
// what a neural model's input layer receives before batching
// ([EncodeBatch]). Implementations are safe for concurrent use.
type Tokenizer interface {
	// Tokenize appends the ids of text to dst and returns the extended slice.
	Tokenize(text string, dst []int) []int
	// TokenizeN appends the first limit ids that Tokenize would append
	// (all of them when there are fewer, or when limit <= 0), scanning no
	// more of text than it must: a model that truncates to max_length
	// need not tokenize the rest of a long document.
	TokenizeN(text string, dst []int, limit int) []int
}

var (
	_ Tokenizer = (*WordPiece)(nil)
	_ Tokenizer = (*WordTokenizer)(nil)
)

// SpecialTokens are the ids a BERT-style model wraps and pads sequences with.
type SpecialTokens struct {
	CLS, SEP, PAD, UNK int
}

// WordPieceOptions configure a BERT WordPiece tokenizer as Hugging Face's
// BertNormalizer, BertPreTokenizer and WordPiece model do. Start from
// [DefaultWordPieceOptions], which holds Hugging Face's defaults.
type WordPieceOptions struct {
	// CleanText drops U+0000, U+FFFD and control characters (general
	// category C except \t \n \r) and turns whitespace into ' '.
	CleanText bool
	// HandleChineseChars puts spaces around CJK ideographs.
	HandleChineseChars bool
	// StripAccents decomposes (NFD) and drops nonspacing marks (Mn); nil
	// means the same as Lowercase, as in Hugging Face.
	StripAccents *bool
	// Lowercase maps each character to its full Unicode lowercase, one
	// character at a time (no final-sigma rule).
	Lowercase bool
	// UnkToken replaces a word that cannot be split into vocabulary pieces;
	// it must be in the vocabulary.
	UnkToken string
	// ContinuingSubwordPrefix marks a piece that continues a word.
	ContinuingSubwordPrefix string
	// MaxInputCharsPerWord: a longer word (in code points) becomes UnkToken;
	// at most MaxInputCharsPerWordLimit.
	MaxInputCharsPerWord int
	// CLSToken, SEPToken and PADToken name the special tokens; each must be
	// in the vocabulary.
	CLSToken, SEPToken, PADToken string
	// NeverSplit are tokens matched verbatim in the raw text (leftmost,
	// longest first) before normalization, as Hugging Face's special added
	// tokens are. Those not in the vocabulary are ignored, as
	// BertWordPieceTokenizer does. Default: [PAD] [UNK] [CLS] [SEP] [MASK].
	NeverSplit []string
}

// DefaultWordPieceOptions returns Hugging Face's defaults for an uncased BERT
// vocabulary (BertWordPieceTokenizer).
func DefaultWordPieceOptions() WordPieceOptions {
	return WordPieceOptions{
		CleanText:               true,
		HandleChineseChars:      true,
		Lowercase:               true,
		UnkToken:                "[UNK]",
		ContinuingSubwordPrefix: "##",
		MaxInputCharsPerWord:    100,
		CLSToken:                "[CLS]",
		SEPToken:                "[SEP]",
		PADToken:                "[PAD]",
		NeverSplit:              []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"},
	}
}

// WordPiece is a BERT WordPiece tokenizer: Hugging Face's BertNormalizer,
// BertPreTokenizer and WordPiece model, giving the same ids as the tokenizers
// library. Safe for concurrent use.
type WordPiece struct {
	vocab   *Vocab
	opt     WordPieceOptions
	strip   bool
	special SpecialTokens
	// never holds the NeverSplit tokens with their ids, longest first;
	// firsts holds their first characters.
	never  []neverSplit
	firsts string
	// maxLength is the truncation length a tokenizer.json declares.
	maxLength int
	// chunked: no never-split token holds a chunk-boundary byte, so
	// TokenizeN may tokenize the text a stretch at a time.
	chunked bool
}

type neverSplit struct {
	tok string
	id  int
}

// wpScratch is per-call working space.
type wpScratch struct {
	norm []byte // normalized text
	nfd  []byte // decomposed text
	word []byte // piece candidate with prefix
	ids  []int  // CountUnknown's ids
	it   norm.Iter
}

// MaxInputCharsPerWordLimit bounds max_input_chars_per_word (Hugging Face's
// BERT tokenizers use 100). The greedy longest-match tries every prefix of
// what remains of a word, so one word of n code points costs up to about
// n² vocabulary lookups of up to n bytes: a tokenizer.json that raised the
// limit to millions would let one long word hold a core for minutes.
const MaxInputCharsPerWordLimit = 1000

var wpPool = sync.Pool{New: func() any { return new(wpScratch) }}

// NewWordPiece builds a WordPiece tokenizer over v. It fails, wrapping
// ErrConfig, when a named token is missing from v or an option is invalid.
func NewWordPiece(v *Vocab, o WordPieceOptions) (*WordPiece, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil vocabulary", ErrConfig)
	}
	if o.MaxInputCharsPerWord <= 0 || o.MaxInputCharsPerWord > MaxInputCharsPerWordLimit {
		return nil, fmt.Errorf("%w: max_input_chars_per_word %d", ErrConfig, o.MaxInputCharsPerWord)
	}
	w := &WordPiece{vocab: v, opt: o, strip: o.Lowercase}
	if o.StripAccents != nil {
		w.strip = *o.StripAccents
	}
	lookup := func(what, tok string) (int, error) {
		id, ok := v.ID(tok)
		if !ok {
			return 0, fmt.Errorf("%w: %s %q is not in the vocabulary", ErrConfig, what, tok)
		}
		return id, nil
	}
	var err error
	if w.special.UNK, err = lookup("unk token", o.UnkToken); err != nil {
		return nil, err
	}
	if w.special.CLS, err = lookup("cls token", o.CLSToken); err != nil {
		return nil, err
	}
	if w.special.SEP, err = lookup("sep token", o.SEPToken); err != nil {
		return nil, err
	}
	if w.special.PAD, err = lookup("pad token", o.PADToken); err != nil {
		return nil, err
	}
	for _, t := range o.NeverSplit {
		if t == "" {
			return nil, fmt.Errorf("%w: empty never-split token", ErrConfig)
		}
		id, ok := v.ID(t)
		if !ok {
			continue
		}
		w.never = append(w.never, neverSplit{t, id})
		if r, _ := utf8.DecodeRuneInString(t); !strings.ContainsRune(w.firsts, r) {
			w.firsts += string(r)
		}
	}
	w.chunked = true
	for _, t := range w.never {
		if strings.ContainsAny(t.tok, chunkSpaces) {
			w.chunked = false
		}
	}
	// Longest first, so that the first match at a position is the longest.
	for i := 1; i < len(w.never); i++ {
		for j := i; j > 0 && len(w.never[j].tok) > len(w.never[j-1].tok); j-- {
			w.never[j], w.never[j-1] = w.never[j-1], w.never[j]
		}
	}
	return w, nil
}

// Vocab returns the tokenizer's vocabulary.
func (w *WordPiece) Vocab() *Vocab { return w.vocab }

// Special returns the ids of the special tokens.
func (w *WordPiece) Special() SpecialTokens { return w.special }

// MaxLength is the truncation length (special tokens included) that the
// tokenizer.json it was loaded from declares, which Hugging Face applies by
// default; 0 when the file declares none or the tokenizer was built with
// NewWordPiece.
func (w *WordPiece) MaxLength() int { return w.maxLength }

// Options returns the options the tokenizer was built with.
func (w *WordPiece) Options() WordPieceOptions { return w.opt }

// Tokenize appends the WordPiece ids of text to dst, without [CLS]/[SEP].
func (w *WordPiece) Tokenize(text string, dst []int) []int {
	sc := wpPool.Get().(*wpScratch)
	defer wpPool.Put(sc)
	return w.tokenize(text, sc, dst)
}

// TokenizeN appends the first limit WordPiece ids of text to dst (all of
// them when limit <= 0). It normalizes and splits the text a stretch at a
// time, cut before ASCII whitespace, where neither BertNormalizer nor
// BertPreTokenizer carries anything across, and stops once limit ids exist.
func (w *WordPiece) TokenizeN(text string, dst []int, limit int) []int {
	sc := wpPool.Get().(*wpScratch)
	defer wpPool.Put(sc)
	if limit <= 0 || !w.chunked {
		return truncate(w.tokenize(text, sc, dst), len(dst), limit)
	}
	return tokenizeChunks(text, dst, limit, func(s string, dst []int) []int { return w.tokenize(s, sc, dst) })
}

// CountUnknown tokenizes all of text, untruncated and without special
// tokens, and returns how many of its word pieces are the unknown token
// (a word with no split into vocabulary pieces, an over-long word, or a
// literal unknown token in the text) and how many pieces there are: the
// out-of-vocabulary share a drift monitor watches.
func (w *WordPiece) CountUnknown(text string) (unknown, total int) {
	sc := wpPool.Get().(*wpScratch)
	defer wpPool.Put(sc)
	sc.ids = w.tokenize(text, sc, sc.ids[:0])
	for _, id := range sc.ids {
		if id == w.special.UNK {
			unknown++
		}
	}
	return unknown, len(sc.ids)
}

// tokenize is Tokenize with the caller's scratch.
func (w *WordPiece) tokenize(text string, sc *wpScratch, dst []int) []int {
	for len(text) > 0 {
		at, n, id := w.findNeverSplit(text)
		dst = w.segment(text[:at], sc, dst)
		if n == 0 {
			break
		}
		dst = append(dst, id)
		text = text[at+n:]
	}
	return dst
}

// findNeverSplit finds the leftmost, longest never-split token in s: its
// offset, length and id; n is 0 when there is none (at is then len(s)).
func (w *WordPiece) findNeverSplit(s string) (at, n, id int) {
	if len(w.never) == 0 {
		return len(s), 0, 0
	}
	for i := 0; i < len(s); i++ {
		// Jump to the next byte that starts a never-split token.
		j := strings.IndexAny(s[i:], w.firsts)
		if j < 0 {
			break
		}
		i += j
		for _, t := range w.never {
			if strings.HasPrefix(s[i:], t.tok) {
				return i, len(t.tok), t.id
			}
		}
	}
	return len(s), 0, 0
}

// segment normalizes, pre-tokenizes and WordPiece-splits one stretch of text
// between never-split tokens.
func (w *WordPiece) segment(text string, sc *wpScratch, dst []int) []int {
	if text == "" {
		return dst
	}
	b := w.normalize(text, sc)
	// BertPreTokenizer: split on whitespace, isolate punctuation.
	start := -1
	for i := 0; i < len(b); {
		r, size := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(b[i:])
		}
		switch {
		case isBertSpace(r):
			if start >= 0 {
				dst = w.word(b[start:i], sc, dst)
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				dst = w.word(b[start:i], sc, dst)
				start = -1
			}
			dst = w.word(b[i:i+size], sc, dst)
		default:
			if start < 0 {
				start = i
			}
		}
		i += size
	}
	if start >= 0 {
		dst = w.word(b[start:], sc, dst)
	}
	return dst
}

// normalize applies BertNormalizer to text and returns the result (held in
// sc).
func (w *WordPiece) normalize(text string, sc *wpScratch) []byte {
	out := sc.norm[:0]
	ascii := true
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
			ascii = false
		}
		i += size
		if w.opt.CleanText {
			if isBertRemoved(r) {
				continue
			}
			if r == '\t' || r == '\n' || r == '\r' || (r >= utf8.RuneSelf && isBertSpace(r)) {
				out = append(out, ' ')
				continue
			}
		}
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case w.opt.HandleChineseChars && isCJK(r):
			out = append(out, ' ')
			out = utf8.AppendRune(out, r)
			out = append(out, ' ')
		case r == utf8.RuneError && size == 1:
			// Invalid UTF-8 cannot come from a Python str; keep U+FFFD as
			// Rust's lossy decoding would.
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, text[i-size:i]...)
		}
	}
	if w.strip && !ascii {
		out = w.stripAccents(out, sc)
	}
	if w.opt.Lowercase {
		out = lowerBytes(out, sc)
	}
	sc.norm = out
	return out
}

// lowerBytes lowercases b as Rust's char::to_lowercase does, one code point
// at a time (no final-sigma rule; U+0130 becomes "i\u0307"). ASCII is
// lowered in place; otherwise the result is built in sc.nfd and swapped in.
func lowerBytes(b []byte, sc *wpScratch) []byte {
	i := 0
	for ; i < len(b) && b[i] < utf8.RuneSelf; i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	if i == len(b) {
		return b
	}
	out := append(sc.nfd[:0], b[:i]...)
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r == 0x130 {
			out = append(out, "i\u0307"...)
			continue
		}
		out = utf8.AppendRune(out, bertLower(r))
	}
	sc.nfd = b // the old buffer becomes the spare
	return out
}

// bertLower is Rust's char::to_lowercase for a code point that maps to
// one code point.
func bertLower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	if l, ok := bertLowerExceptions[r]; ok {
		return l
	}
	return unicode.ToLower(r)
}

// stripAccents is NFD followed by dropping nonspacing marks (Mn), both by
// the tokenizers library's Unicode tables. The result is built in sc.nfd and
// the buffers are swapped.
func (w *WordPiece) stripAccents(b []byte, sc *wpScratch) []byte {
	d := sc.nfd[:0]
	// Decompose the stretches between code points that must stay whole.
	start := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if unicode.Is(bertNoDecomposeTable, r) {
			d = sc.appendNFD(d, b[start:i])
			d = append(d, b[i:i+size]...)
			start = i + size
		}
		i += size
	}
	d = sc.appendNFD(d, b[start:])
	// Drop the marks in place.
	out := d[:0]
	for i := 0; i < len(d); {
		if d[i] < utf8.RuneSelf {
			out = append(out, d[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(d[i:])
		if !unicode.Is(bertMnTable, r) {
			out = append(out, d[i:i+size]...)
		}
		i += size
	}
	sc.nfd = b
	return out
}

// appendNFD appends the NFD form of b to d through the scratch iterator,
// which, unlike norm.NFD.Append, does not allocate.
func (sc *wpScratch) appendNFD(d, b []byte) []byte {
	sc.it.Init(norm.NFD, b)
	for !sc.it.Done() {
		d = append(d, sc.it.Next()...)
	}
	return d
}

// word appends the WordPiece ids of one pre-token: greedy longest match from
// the left, continuation pieces carrying the prefix; a word with an
// unmatched remainder, or longer than MaxInputCharsPerWord code points, is
// UnkToken.
func (w *WordPiece) word(b []byte, sc *wpScratch, dst []int) []int {
	if len(b) > w.opt.MaxInputCharsPerWord && utf8.RuneCount(b) > w.opt.MaxInputCharsPerWord {
		return append(dst, w.special.UNK)
	}
	n0 := len(dst)
	for start := 0; start < len(b); {
		end := len(b)
		found := -1
		for start < end {
			var id int
			var ok bool
			if start == 0 {
				id, ok = w.vocab.idBytes(b[start:end])
			} else {
				sc.word = append(append(sc.word[:0], w.opt.ContinuingSubwordPrefix...), b[start:end]...)
				id, ok = w.vocab.idBytes(sc.word)
			}
			if ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRune(b[start:end])
			end -= size
		}
		if found < 0 {
			return append(dst[:n0], w.special.UNK)
		}
		dst = append(dst, found)
		start = end
	}
	return dst
}

// isBertPunct is Hugging Face's is_bert_punc: ASCII punctuation and symbols
// (33-47, 58-64, 91-96, 123-126) and Unicode punctuation (P*) by the
// tokenizers library's own, older Unicode tables.
func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.Is(bertPunctTable, r)
}

// isBertSpace is BertNormalizer's is_whitespace: \t \n \r and the Unicode
// White_Space property.
func isBertSpace(r rune) bool {
	return unicode.IsSpace(r)
}

// isBertRemoved reports whether BertNormalizer's clean_text drops r: U+0000,
// U+FFFD and control characters (Cc, Cf, Co by the tokenizers library's
// tables) except \t \n \r. Unassigned code points are kept.
func isBertRemoved(r rune) bool {
	if r < utf8.RuneSelf {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
	}
	return unicode.Is(bertRemovedTable, r)
}

// isCJK reports whether r is in one of the CJK ideograph blocks that
// BertNormalizer surrounds with spaces.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
