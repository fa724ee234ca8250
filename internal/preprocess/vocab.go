package preprocess

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrVocab is returned for a vocabulary or tokenizer file that cannot be read
// or is not supported.
var ErrVocab = errors.New("preprocess: invalid vocabulary")

// Vocab maps tokens to integer ids and back, as a BERT vocab.txt or the
// "vocab" of a tokenizer.json model defines them. Safe for concurrent use.
type Vocab struct {
	ids    map[string]int
	tokens []string // by id; "" where no token has the id
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
	v := &Vocab{ids: make(map[string]int, 32<<10)}
	for sc.Scan() {
		line := sc.Bytes()
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("%w: line %d is not UTF-8", ErrVocab, len(v.tokens)+1)
		}
		tok := strings.TrimRightFunc(string(line), unicode.IsSpace)
		v.ids[tok] = len(v.tokens)
		v.tokens = append(v.tokens, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrVocab, len(v.tokens)+1, err)
	}
	if len(v.tokens) == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrVocab)
	}
	return v, nil
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
	v := &Vocab{ids: make(map[string]int, len(ids)), tokens: make([]string, n)}
	seen := make([]bool, n)
	for t, id := range ids {
		if seen[id] {
			return nil, fmt.Errorf("%w: id %d is given to two tokens (%q and %q)", ErrVocab, id, t, v.tokens[id])
		}
		seen[id] = true
		v.ids[t] = id
		v.tokens[id] = t
	}
	return v, nil
}

// ID returns the id of tok and whether tok is in the vocabulary.
func (v *Vocab) ID(tok string) (int, bool) {
	id, ok := v.ids[tok]
	return id, ok
}

// idBytes is ID for a token held in a byte slice, without allocating.
func (v *Vocab) idBytes(tok []byte) (int, bool) {
	id, ok := v.ids[string(tok)]
	return id, ok
}

// Token returns the token with the given id, or "" when id is out of range.
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= len(v.tokens) {
		return ""
	}
	return v.tokens[id]
}

// Len is the size of the id space: every id a tokenizer returns is in
// [0, Len()). For vocab.txt it is the number of lines.
func (v *Vocab) Len() int { return len(v.tokens) }
