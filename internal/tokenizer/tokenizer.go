package tokenizer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// Errors. Load's errors wrap ErrUnsupported (a component this package does
// not implement, named in the message) or ErrInvalid (a malformed or
// hostile file); Encode's wrap ErrEncode.
var (
	ErrUnsupported = errors.New("tokenizer: unsupported component")
	ErrInvalid     = errors.New("tokenizer: invalid tokenizer.json")
	ErrEncode      = errors.New("tokenizer: cannot encode")
)

// Direction says which end truncation cuts or padding fills.
type Direction string

// Directions.
const (
	Right Direction = "Right"
	Left  Direction = "Left"
)

// Truncation limits an encoding's length, special tokens included.
type Truncation struct {
	// MaxLength is the most tokens an encoding keeps, special tokens
	// included.
	MaxLength int
	// Direction is the end that is cut: Right (default) keeps the start.
	Direction Direction
	// onlySecond: the file's strategy OnlySecond, which cannot cut a
	// single text.
	onlySecond bool
}

// Padding fills encodings up to a common length.
type Padding struct {
	// Length pads every encoding to this length when > 0; 0 pads a batch to
	// its longest encoding (Hugging Face's BatchLongest).
	Length int
	// Direction is the end that is filled: Right (default) or Left.
	Direction Direction
	// MultipleOf rounds the padded length up to a multiple of it when > 0.
	MultipleOf int
	// ID, TypeID and Token are what a pad position holds.
	ID, TypeID int
	Token      string
}

// Options override what tokenizer.json says (model.yaml's settings).
type Options struct {
	// Truncation replaces the file's truncation; nil keeps it.
	Truncation *Truncation
	// NoTruncation drops the file's truncation.
	NoTruncation bool
	// Padding replaces the file's padding; nil keeps it.
	Padding *Padding
	// NoPadding drops the file's padding.
	NoPadding bool
	// Limits bound what a file may hold; zero fields take the defaults.
	Limits Limits
}

// Encoding is one text encoded for a model: parallel slices, one entry per
// token.
type Encoding struct {
	// IDs are the vocabulary ids.
	IDs []int
	// TypeIDs are the segment ids (token_type_ids).
	TypeIDs []int
	// AttentionMask is 1 for a token, 0 for padding.
	AttentionMask []int
	// SpecialTokensMask is 1 for a token the post-processor or padding
	// added, 0 for one from the text (added tokens found in the text are 0).
	SpecialTokensMask []int
	// Offsets are the [start, end) byte offsets in the original text each
	// token comes from; [0, 0) for added special tokens and padding. Use
	// [CharOffsets] for offsets in characters, as Python reports them.
	Offsets [][2]int
	// tokens are the token strings (for trim_offsets).
	tokens []string
}

// Len is the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

// Tokenizer is a Hugging Face tokenizer.json, ready to encode. It is safe
// for concurrent use.
type Tokenizer struct {
	normalizer normalizer
	pre        preTokenizer
	model      model
	post       postProcessor
	added      *addedVocab
	truncation *Truncation
	padding    *Padding
	vocabSize  int
	modelType  string
}

// LoadFile reads a tokenizer.json from path.
func LoadFile(path string, opts Options) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Load(f, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Load reads a tokenizer.json. Every component it names must be one this
// package implements; anything else is refused, naming it.
func Load(r io.Reader, opts Options) (*Tokenizer, error) {
	lim := opts.Limits.withDefaults()
	b, err := io.ReadAll(io.LimitReader(r, lim.FileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if int64(len(b)) > lim.FileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, lim.FileBytes)
	}
	t, err := build(b, lim)
	if err != nil {
		return nil, err
	}
	if opts.NoTruncation {
		t.truncation = nil
	}
	if opts.Truncation != nil {
		tr := *opts.Truncation
		if tr.MaxLength < 0 {
			return nil, fmt.Errorf("%w: truncation max_length %d", ErrInvalid, tr.MaxLength)
		}
		if tr.Direction == "" {
			tr.Direction = Right
		}
		t.truncation = &tr
	}
	if opts.NoPadding {
		t.padding = nil
	}
	if opts.Padding != nil {
		p := *opts.Padding
		if p.Length < 0 || p.Length > maxPadding || p.MultipleOf < 0 || p.MultipleOf > maxPadding {
			return nil, fmt.Errorf("%w: padding to %d (multiple of %d)", ErrInvalid, p.Length, p.MultipleOf)
		}
		if p.Direction == "" {
			p.Direction = Right
		}
		t.padding = &p
	}
	return t, nil
}

// VocabSize is the number of ids the model's vocabulary holds, added tokens
// outside it included.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Model names the model type: BPE, Unigram, WordLevel or WordPiece.
func (t *Tokenizer) Model() string { return t.modelType }

// TokenID returns the id of a token (an added token or a vocabulary entry).
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	if id, ok := t.added.byContent[tok]; ok {
		return id, true
	}
	return t.model.id(tok)
}

// Truncation is the truncation in force, nil when none.
func (t *Tokenizer) Truncation() *Truncation {
	if t.truncation == nil {
		return nil
	}
	c := *t.truncation
	return &c
}

// Padding is the padding in force, nil when none.
func (t *Tokenizer) Padding() *Padding {
	if t.padding == nil {
		return nil
	}
	c := *t.padding
	return &c
}

// Encode encodes one text as Hugging Face's Tokenizer.encode(text) does
// (special tokens added): normalization, pre-tokenization, the model, the
// truncation, the post-processor and a fixed-length padding when the
// tokenizer has them. Text that is not valid UTF-8 is an error.
func (t *Tokenizer) Encode(text string) (Encoding, error) {
	e, err := t.encode(text, t.truncation)
	if err != nil {
		return e, err
	}
	if t.padding != nil {
		padTo(&e, t.padding, len(e.IDs))
	}
	return e, nil
}

// EncodeBatch encodes texts as Hugging Face's encode_batch does: each
// truncated to maxLen tokens when maxLen > 0 (else to the configured
// truncation), then all padded to a common length: the configured padding's,
// or the longest encoding's with the configured (else id 0) pad token. As in
// Hugging Face, a fixed padding length shorter than an encoding leaves that
// encoding longer: keep the truncation at or under the padding length when
// the batch must be rectangular.
func (t *Tokenizer) EncodeBatch(texts []string, maxLen int) ([]Encoding, error) {
	tr := t.truncation
	if maxLen > 0 {
		tr = &Truncation{MaxLength: maxLen, Direction: Right}
		if t.truncation != nil {
			tr.Direction = t.truncation.Direction
		}
	}
	out := make([]Encoding, len(texts))
	longest := 0
	for i, s := range texts {
		e, err := t.encode(s, tr)
		if err != nil {
			return nil, fmt.Errorf("text %d: %w", i, err)
		}
		out[i] = e
		longest = max(longest, len(e.IDs))
	}
	p := t.padding
	if p == nil {
		p = &Padding{Direction: Right}
	}
	for i := range out {
		padTo(&out[i], p, longest)
	}
	return out, nil
}

// encode runs everything but padding.
func (t *Tokenizer) encode(text string, tr *Truncation) (Encoding, error) {
	if !utf8.ValidString(text) {
		return Encoding{}, fmt.Errorf("%w: text is not valid UTF-8", ErrEncode)
	}
	if len(text) > maxText {
		return Encoding{}, fmt.Errorf("%w: text of %d bytes (limit %d)", ErrEncode, len(text), maxText)
	}
	splits := t.added.extract(text, t.normalizer)
	pre := make([]piece, 0, 8)
	var scratch []nstr
	for _, sp := range splits {
		if sp.id >= 0 {
			pre = append(pre, sp)
			continue
		}
		if t.pre == nil {
			pre = append(pre, sp)
			continue
		}
		scratch = t.pre.preTokenize(sp.n, scratch[:0])
		for _, n := range scratch {
			pre = append(pre, piece{n: n, id: -1})
		}
	}
	var e Encoding
	est := len(text)/3 + 8
	e.IDs = make([]int, 0, est)
	e.TypeIDs = make([]int, 0, est)
	e.AttentionMask = make([]int, 0, est)
	e.SpecialTokensMask = make([]int, 0, est)
	e.Offsets = make([][2]int, 0, est)
	e.tokens = make([]string, 0, est)
	toks := make([]token, 0, 16)
	var err error
	for _, p := range pre {
		if p.id >= 0 {
			e.push(p.id, p.n.origStart, p.n.origEnd, p.n.norm)
			continue
		}
		toks, err = t.model.tokenize(p.n.norm, toks[:0])
		if err != nil {
			return Encoding{}, err
		}
		for _, tk := range toks {
			s, en := p.n.originalRange(tk.s, tk.e)
			e.push(tk.id, s, en, tk.value)
		}
	}
	// A max_length under the special tokens' count wraps around in
	// tokenizers (usize arithmetic): nothing is truncated.
	if n := t.specials(); tr != nil && tr.MaxLength >= n {
		keep := tr.MaxLength - n
		if tr.onlySecond && len(e.IDs) > keep {
			return Encoding{}, fmt.Errorf("%w: truncation strategy OnlySecond needs a second text", ErrEncode)
		}
		e.truncate(keep, tr.Direction)
	}
	if t.post != nil {
		t.post.process(&e, text)
	}
	return e, nil
}

// specials is how many special tokens the post-processor adds.
func (t *Tokenizer) specials() int {
	if t.post == nil {
		return 0
	}
	return t.post.added()
}

// push appends one token from the text.
func (e *Encoding) push(id, s, en int, tok string) {
	e.IDs = append(e.IDs, id)
	e.TypeIDs = append(e.TypeIDs, 0)
	e.AttentionMask = append(e.AttentionMask, 1)
	e.SpecialTokensMask = append(e.SpecialTokensMask, 0)
	e.Offsets = append(e.Offsets, [2]int{s, en})
	e.tokens = append(e.tokens, tok)
}

// truncate keeps n tokens, cutting the given end.
func (e *Encoding) truncate(n int, d Direction) {
	if len(e.IDs) <= n {
		return
	}
	lo, hi := 0, n
	if d == Left {
		lo, hi = len(e.IDs)-n, len(e.IDs)
	}
	e.IDs = e.IDs[lo:hi]
	e.TypeIDs = e.TypeIDs[lo:hi]
	e.AttentionMask = e.AttentionMask[lo:hi]
	e.SpecialTokensMask = e.SpecialTokensMask[lo:hi]
	e.Offsets = e.Offsets[lo:hi]
	e.tokens = e.tokens[lo:hi]
}

// padTo pads e to p's length (or to longest when p has none).
func padTo(e *Encoding, p *Padding, longest int) {
	target := longest
	if p.Length > 0 {
		target = p.Length
	}
	if p.MultipleOf > 0 && target%p.MultipleOf != 0 {
		target += p.MultipleOf - target%p.MultipleOf
	}
	k := target - len(e.IDs)
	if k <= 0 {
		return
	}
	fill := func(s []int, v int) []int {
		pad := make([]int, k)
		for i := range pad {
			pad[i] = v
		}
		if p.Direction == Left {
			return append(pad, s...)
		}
		return append(s, pad...)
	}
	e.IDs = fill(e.IDs, p.ID)
	e.TypeIDs = fill(e.TypeIDs, p.TypeID)
	e.AttentionMask = fill(e.AttentionMask, 0)
	e.SpecialTokensMask = fill(e.SpecialTokensMask, 1)
	offs := make([][2]int, k)
	toks := make([]string, k)
	if p.Direction == Left {
		e.Offsets = append(offs, e.Offsets...)
		e.tokens = append(toks, e.tokens...)
	} else {
		e.Offsets = append(e.Offsets, offs...)
		e.tokens = append(e.tokens, toks...)
	}
}

// CharOffsets converts byte offsets into text to character (code point)
// offsets, as Hugging Face's Python binding reports them.
func CharOffsets(text string, offsets [][2]int) [][2]int {
	charAt := make([]int, len(text)+1)
	c := 0
	for i := range text {
		_, sz := utf8.DecodeRuneInString(text[i:])
		for k := 0; k < sz; k++ {
			charAt[i+k] = c
		}
		c++
	}
	charAt[len(text)] = c
	out := make([][2]int, len(offsets))
	for i, o := range offsets {
		s, e := o[0], o[1]
		switch {
		case s == len(text) && e == len(text):
			// Trimmed to the end (Python trims after converting).
			out[i] = [2]int{c, c}
		case s < 0 || s >= len(text) || e < 0:
			out[i] = o
		case e < len(text):
			out[i] = [2]int{charAt[s], charAt[e]}
		case e-1 < len(text) && e-1 >= 0:
			out[i] = [2]int{charAt[s], charAt[e-1] + 1}
		default:
			out[i] = [2]int{charAt[s], charAt[s] + 1}
		}
	}
	return out
}
