package tokenizer

import (
	"slices"
	"unicode/utf8"
)

// postProcessor adds a model's special tokens around an encoded sequence
// and may adjust its offsets.
type postProcessor interface {
	process(e *Encoding, text string)
	// added is how many tokens process adds to a single sequence.
	added() int
}

// specialPiece is one special token a template inserts.
type specialPiece struct {
	ids    []int
	typeID int
}

// templatePiece is a special token or the sequence itself.
type templatePiece struct {
	special *specialPiece // nil: the sequence
	typeID  int
}

// template wraps the sequence in special tokens: BertProcessing,
// RobertaProcessing and TemplateProcessing are all one.
type template struct {
	pieces []templatePiece
	// trim applies RobertaProcessing's trim_offsets first.
	trim           bool
	addPrefixSpace bool
}

func (t *template) added() int {
	n := 0
	for _, p := range t.pieces {
		if p.special != nil {
			n += len(p.special.ids)
		}
	}
	return n
}

func (t *template) process(e *Encoding, text string) {
	if t.trim {
		trimOffsets(e, text, t.addPrefixSpace)
	}
	// The template is specials, the sequence, specials: set the sequence's
	// type ids, then insert the specials before and append those after.
	var pre, post []specialPiece
	seqType, seen := 0, false
	for _, p := range t.pieces {
		switch {
		case p.special == nil:
			seqType, seen = p.typeID, true
		case seen:
			post = append(post, *p.special)
		default:
			pre = append(pre, *p.special)
		}
	}
	for i := range e.TypeIDs {
		e.TypeIDs[i] = seqType
	}
	var head Encoding
	for _, sp := range pre {
		head.pushSpecial(sp)
	}
	if len(head.IDs) > 0 {
		e.IDs = slices.Insert(e.IDs, 0, head.IDs...)
		e.TypeIDs = slices.Insert(e.TypeIDs, 0, head.TypeIDs...)
		e.AttentionMask = slices.Insert(e.AttentionMask, 0, head.AttentionMask...)
		e.SpecialTokensMask = slices.Insert(e.SpecialTokensMask, 0, head.SpecialTokensMask...)
		e.Offsets = slices.Insert(e.Offsets, 0, head.Offsets...)
		e.tokens = slices.Insert(e.tokens, 0, head.tokens...)
	}
	for _, sp := range post {
		e.pushSpecial(sp)
	}
}

// pushSpecial appends a special piece's tokens.
func (e *Encoding) pushSpecial(sp specialPiece) {
	for _, id := range sp.ids {
		e.IDs = append(e.IDs, id)
		e.TypeIDs = append(e.TypeIDs, sp.typeID)
		e.AttentionMask = append(e.AttentionMask, 1)
		e.SpecialTokensMask = append(e.SpecialTokensMask, 1)
		e.Offsets = append(e.Offsets, [2]int{0, 0})
		e.tokens = append(e.tokens, "")
	}
}

// byteLevelPost is the ByteLevel post-processor: it only trims offsets.
type byteLevelPost struct {
	trim           bool
	addPrefixSpace bool
}

func (b byteLevelPost) added() int { return 0 }
func (b byteLevelPost) process(e *Encoding, text string) {
	if b.trim {
		trimOffsets(e, text, b.addPrefixSpace)
	}
}

// sequencePost applies post-processors in order.
type sequencePost []postProcessor

func (q sequencePost) added() int {
	n := 0
	for _, p := range q {
		n += p.added()
	}
	return n
}

func (q sequencePost) process(e *Encoding, text string) {
	for _, p := range q {
		p.process(e, text)
	}
}

// spaceChar is the byte-level character for ' ' (Ġ).
var spaceChar = byteChar[' ']

// trimOffsets moves each token's offsets past its leading and trailing
// spaces (Ġ or whitespace), as Hugging Face's trim_offsets does, except the
// one space add_prefix_space put before the first token. Python trims
// character offsets, so the arithmetic is done in characters.
func trimOffsets(e *Encoding, text string, addPrefixSpace bool) {
	var cx *charIndex
	for i, tok := range e.tokens {
		lead, trail := 0, 0
		for _, r := range tok {
			if r != spaceChar && !isSpace(r) {
				break
			}
			lead++
		}
		for k := len(tok); k > 0; {
			r, sz := utf8.DecodeLastRuneInString(tok[:k])
			if r != spaceChar && !isSpace(r) {
				break
			}
			trail++
			k -= sz
		}
		if lead == 0 && trail == 0 {
			continue
		}
		if cx == nil {
			cx = newCharIndex(text)
		}
		s, en := cx.toChar(e.Offsets[i][0]), cx.toChar(e.Offsets[i][1])
		if lead > 0 {
			first := i == 0 || s == 0
			if first && addPrefixSpace && lead == 1 {
				lead = 0
			}
			s = min(s+lead, en)
		}
		if trail > 0 && en >= trail {
			en = max(en-trail, s)
		}
		e.Offsets[i] = [2]int{cx.toByte(s), cx.toByte(en)}
	}
}

// charIndex converts between byte and character offsets of a text.
type charIndex struct {
	ascii  bool  // bytes are characters
	charAt []int // byte -> index of the character holding it; len(text) -> count
	byteAt []int // character -> its first byte; count -> len(text)
	n      int
}

func newCharIndex(text string) *charIndex {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return &charIndex{ascii: true, n: len(text)}
	}
	c := &charIndex{charAt: make([]int, len(text)+1)}
	n := 0
	for i := range text {
		_, sz := utf8.DecodeRuneInString(text[i:])
		for k := 0; k < sz; k++ {
			c.charAt[i+k] = n
		}
		c.byteAt = append(c.byteAt, i)
		n++
	}
	c.charAt[len(text)] = n
	c.byteAt = append(c.byteAt, len(text))
	return c
}

func (c *charIndex) toChar(b int) int {
	if b < 0 {
		return 0
	}
	if c.ascii {
		return min(b, c.n)
	}
	if b >= len(c.charAt) {
		return c.charAt[len(c.charAt)-1]
	}
	return c.charAt[b]
}

func (c *charIndex) toByte(ch int) int {
	if ch < 0 {
		return 0
	}
	if c.ascii {
		return min(ch, c.n)
	}
	if ch >= len(c.byteAt) {
		return c.byteAt[len(c.byteAt)-1]
	}
	return c.byteAt[ch]
}
