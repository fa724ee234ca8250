package preprocess

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"github.com/mlserve/mlserve/internal/strtab"
)

// ErrVocab is returned for a vocabulary or tokenizer file that cannot be read
// or is not supported.
var ErrVocab = errors.New("preprocess: invalid vocabulary")

// Vocab maps tokens to integer ids and back, as a BERT vocab.txt or the
// "vocab" of a tokenizer.json model defines them. Safe for concurrent use.
type Vocab struct {
	t *strtab.Table // ids are the table's; a skipped id has no token
}

// maxVocabLine bounds one line of vocab.txt.
const maxVocabLine = 1 << 20

// LoadVocab reads a vocab.txt: one token per line, its id the 0-based line
// number. As Hugging Face's WordPiece.read_file does, trailing whitespace is
// trimmed from each line, an empty line is the token "" and, when a token
// occurs twice, ID answers the later line. A final line without a newline
// counts; invalid UTF-8 is refused.
func LoadVocab(r io.Reader) (*Vocab, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxVocabLine)
	var b strtab.Builder
	for sc.Scan() {
		line := sc.Bytes()
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("%w: line %d is not UTF-8", ErrVocab, b.Len()+1)
		}
		b.Add(bytes.TrimRightFunc(line, unicode.IsSpace))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrVocab, b.Len()+1, err)
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrVocab)
	}
	return build(&b)
}

// build finishes a vocabulary; the table's later-id-wins rule is
// LoadVocab's.
func build(b *strtab.Builder) (*Vocab, error) {
	t, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVocab, err)
	}
	return &Vocab{t: t}, nil
}

// NewVocab builds a vocabulary from a token→id map, as a tokenizer.json
// model's "vocab" holds it. Ids must be non-negative and unique.
func NewVocab(ids map[string]int) (*Vocab, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrVocab)
	}
	n := 0
	for t, id := range ids {
		if id < 0 || id >= 1<<26 {
			return nil, fmt.Errorf("%w: token %q has id %d", ErrVocab, t, id)
		}
		n = max(n, id+1)
	}
	tokens := make([]string, n) // by id, sharing the map's keys until built
	seen := make([]bool, n)
	size := 0
	for t, id := range ids {
		if seen[id] {
			return nil, fmt.Errorf("%w: id %d is given to two tokens (%q and %q)", ErrVocab, id, t, tokens[id])
		}
		seen[id] = true
		tokens[id] = t
		size += len(t)
	}
	var b strtab.Builder
	b.Grow(n, size)
	for id, t := range tokens {
		if seen[id] {
			b.AddString(t)
		} else {
			b.Skip()
		}
	}
	return build(&b)
}

// ID returns the id of tok and whether tok is in the vocabulary.
func (v *Vocab) ID(tok string) (int, bool) { return v.t.ID(tok) }

// idBytes is ID for a token held in a byte slice, without allocating.
func (v *Vocab) idBytes(tok []byte) (int, bool) { return v.t.IDBytes(tok) }

// Token returns the token with the given id, or "" when id is out of range.
// The string shares the vocabulary's memory.
func (v *Vocab) Token(id int) string { return v.t.Token(id) }

// Len is the size of the id space: every id a tokenizer returns is in
// [0, Len()). For vocab.txt it is the number of lines.
func (v *Vocab) Len() int { return v.t.Len() }
