package tokenizer

// postProcessor adds a model's special tokens around an encoded sequence
// and may adjust its offsets.
type postProcessor interface {
	process(e *Encoding)
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

func (t *template) process(e *Encoding) {
	if t.trim {
		trimOffsets(e, t.addPrefixSpace)
	}
	n := len(e.IDs) + t.added()
	out := Encoding{
		IDs:               make([]int, 0, n),
		TypeIDs:           make([]int, 0, n),
		AttentionMask:     make([]int, 0, n),
		SpecialTokensMask: make([]int, 0, n),
		Offsets:           make([][2]int, 0, n),
		tokens:            make([]string, 0, n),
	}
	for _, p := range t.pieces {
		if p.special != nil {
			for _, id := range p.special.ids {
				out.IDs = append(out.IDs, id)
				out.TypeIDs = append(out.TypeIDs, p.special.typeID)
				out.AttentionMask = append(out.AttentionMask, 1)
				out.SpecialTokensMask = append(out.SpecialTokensMask, 1)
				out.Offsets = append(out.Offsets, [2]int{0, 0})
				out.tokens = append(out.tokens, "")
			}
			continue
		}
		out.IDs = append(out.IDs, e.IDs...)
		for range e.IDs {
			out.TypeIDs = append(out.TypeIDs, p.typeID)
		}
		out.AttentionMask = append(out.AttentionMask, e.AttentionMask...)
		out.SpecialTokensMask = append(out.SpecialTokensMask, e.SpecialTokensMask...)
		out.Offsets = append(out.Offsets, e.Offsets...)
		out.tokens = append(out.tokens, e.tokens...)
	}
	*e = out
}

// byteLevelPost is the ByteLevel post-processor: it only trims offsets.
type byteLevelPost struct {
	trim           bool
	addPrefixSpace bool
}

func (b byteLevelPost) added() int { return 0 }
func (b byteLevelPost) process(e *Encoding) {
	if b.trim {
		trimOffsets(e, b.addPrefixSpace)
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

func (q sequencePost) process(e *Encoding) {
	for _, p := range q {
		p.process(e)
	}
}

// spaceChar is the byte-level character for ' ' (Ġ).
var spaceChar = byteChar[' ']

// trimOffsets moves each token's offsets past its leading and trailing
// spaces (Ġ or whitespace), as Hugging Face's trim_offsets does, except the
// one space add_prefix_space put before the first token.
func trimOffsets(e *Encoding, addPrefixSpace bool) {
	for i, tok := range e.tokens {
		off := &e.Offsets[i]
		lead, leadBytes := 0, 0
		for _, r := range tok {
			if r != spaceChar && !isSpace(r) {
				break
			}
			lead++
			leadBytes += spaceWidth(r)
		}
		trail, trailBytes := 0, 0
		rs := []rune(tok)
		for k := len(rs) - 1; k >= 0; k-- {
			r := rs[k]
			if r != spaceChar && !isSpace(r) {
				break
			}
			trail++
			trailBytes += spaceWidth(r)
		}
		if lead == 0 && trail == 0 {
			continue
		}
		if lead > 0 {
			first := i == 0 || off[0] == 0
			if first && addPrefixSpace && lead == 1 {
				leadBytes = 0
			}
			off[0] = min(off[0]+leadBytes, off[1])
		}
		if trail > 0 && off[1] >= trailBytes {
			off[1] = max(off[1]-trailBytes, off[0])
		}
	}
}

// spaceWidth is how many bytes of the original text a space token
// character stands for (its UTF-8 size; 1 for Ġ).
func spaceWidth(r rune) int {
	if r == spaceChar {
		return 1
	}
	return len(string(r))
}
