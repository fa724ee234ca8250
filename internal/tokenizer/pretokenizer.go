package tokenizer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer cuts a piece of text into splits (appended to dst); it may
// rewrite them too (ByteLevel, Metaspace).
type preTokenizer interface {
	preTokenize(n nstr, dst []nstr) []nstr
}

// isPunct is Rust's char::is_ascii_punctuation || general category P.
func isPunct(r rune) bool {
	if r < 0x80 {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.IsPunct(r)
}

// isWordRune is \w in Rust's regex crate: Alphabetic, M, Nd, Pc,
// Join_Control.
func isWordRune(r rune) bool {
	if r < 0x80 {
		return r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	}
	return unicode.IsLetter(r) || unicode.In(r, unicode.M, unicode.Nd, unicode.Pc, unicode.Nl, unicode.Other_Alphabetic) ||
		r == 0x200C || r == 0x200D
}

func isLetter(r rune) bool {
	if r < 0x80 {
		return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

// charSplit splits on the characters pred accepts.
type charSplit struct {
	pred func(rune) bool
	beh  behavior
}

func (c charSplit) preTokenize(n nstr, dst []nstr) []nstr {
	var buf [16]match
	return n.split(runeMatches(n.norm, c.pred, buf[:0]), c.beh, dst)
}

// sequenceP applies pre-tokenizers in order, each to every split of the
// one before.
type sequenceP []preTokenizer

func (q sequenceP) preTokenize(n nstr, dst []nstr) []nstr {
	cur := make([]nstr, 1, 32)
	cur[0] = n
	next := make([]nstr, 0, 32)
	for _, p := range q {
		next = next[:0]
		for _, s := range cur {
			next = p.preTokenize(s, next)
		}
		cur, next = next, cur
	}
	return append(dst, cur...)
}

// bertPre splits on whitespace (removed) and punctuation (isolated).
type bertPre struct{}

func (bertPre) preTokenize(n nstr, dst []nstr) []nstr {
	var tmp []nstr
	tmp = n.split(runeMatches(n.norm, isSpace, nil), behRemoved, tmp)
	for _, s := range tmp {
		dst = s.split(runeMatches(s.norm, isPunct, nil), behIsolated, dst)
	}
	return dst
}

// whitespaceP keeps the runs of \w+ and of [^\w\s]+.
type whitespaceP struct{}

func (whitespaceP) preTokenize(n nstr, dst []nstr) []nstr {
	s := n.norm
	var spans [][2]int
	for i := 0; i < len(s); {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if isSpace(r) {
			i += sz
			continue
		}
		word := isWordRune(r)
		j := i + sz
		for j < len(s) {
			r2, sz2 := utf8.DecodeRuneInString(s[j:])
			if isSpace(r2) || isWordRune(r2) != word {
				break
			}
			j += sz2
		}
		spans = append(spans, [2]int{i, j})
		i = j
	}
	ms := spansToMatches(s, spans, nil)
	invert(ms)
	return n.split(ms, behRemoved, dst)
}

// splitP is the Split pre-tokenizer: a literal or a regex, a behavior, and
// invert.
type splitP struct {
	find   func(s string) [][2]int
	beh    behavior
	invert bool
}

func (p splitP) preTokenize(n nstr, dst []nstr) []nstr {
	ms := spansToMatches(n.norm, p.find(n.norm), nil)
	if p.invert {
		invert(ms)
	}
	return n.split(ms, p.beh, dst)
}

// literalFinder finds the non-overlapping occurrences of lit.
func literalFinder(lit string) func(string) [][2]int {
	return func(s string) [][2]int {
		var spans [][2]int
		if lit == "" {
			return nil
		}
		for i := 0; ; {
			k := strings.Index(s[i:], lit)
			if k < 0 {
				return spans
			}
			spans = append(spans, [2]int{i + k, i + k + len(lit)})
			i += k + len(lit)
		}
	}
}

// regexFinder finds the matches of a Go regexp.
func regexFinder(re *regexp.Regexp) func(string) [][2]int {
	return func(s string) [][2]int {
		var spans [][2]int
		for _, m := range re.FindAllStringIndex(s, -1) {
			spans = append(spans, [2]int{m[0], m[1]})
		}
		return spans
	}
}

// metaspace replaces spaces by a replacement character (▁), prepends one
// per the scheme, and splits before each.
type metaspace struct {
	repl    string
	replR   rune
	prepend string // "always", "first", "never"
	split   bool
}

func (m metaspace) preTokenize(n nstr, dst []nstr) []nstr {
	n.replace(runeMatches(n.norm, func(r rune) bool { return r == ' ' }, nil), m.repl)
	switch m.prepend {
	case "always":
		if !strings.HasPrefix(n.norm, m.repl) {
			n.prepend(m.repl)
		}
	case "first":
		if !strings.HasPrefix(n.norm, m.repl) && n.origStart == 0 {
			n.prepend(m.repl)
		}
	}
	if !m.split {
		if n.norm == "" {
			return dst
		}
		return append(dst, n)
	}
	return n.split(runeMatches(n.norm, func(r rune) bool { return r == m.replR }, nil), behMergedWithNext, dst)
}

// byteLevel is GPT-2's pre-tokenizer: an optional leading space, its
// regex, then each byte mapped to a printable character.
type byteLevel struct {
	addPrefixSpace bool
	useRegex       bool
}

// byteChar maps each byte to the character that stands for it.
var byteChar = func() [256]rune {
	var t [256]rune
	var isDirect [256]bool
	for b := '!'; b <= '~'; b++ {
		isDirect[b] = true
	}
	for b := 0xA1; b <= 0xAC; b++ {
		isDirect[b] = true
	}
	for b := 0xAE; b <= 0xFF; b++ {
		isDirect[b] = true
	}
	n := 0
	for b := 0; b < 256; b++ {
		if isDirect[b] {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()

// gpt2Spans finds the matches of GPT-2's pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// which covers the whole text.
func gpt2Spans(s string, spans [][2]int) [][2]int {
	for i := 0; i < len(s); {
		end := gpt2Match(s, i)
		spans = append(spans, [2]int{i, end})
		i = end
	}
	return spans
}

// gpt2Match returns the end of the pattern's match at i (always > i).
func gpt2Match(s string, i int) int {
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		j = i + 1
	}
	for k := 0; k < 2; k++ {
		// k = 0: with the optional space (when there is one); k = 1: without.
		if k == 1 {
			if j == i {
				break
			}
			j = i
		}
		r, sz := utf8.DecodeRuneInString(s[j:])
		var class func(rune) bool
		switch {
		case isLetter(r):
			class = isLetter
		case isNumber(r):
			class = isNumber
		case !isSpace(r):
			class = func(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }
		}
		if class != nil {
			e := j + sz
			for e < len(s) {
				r2, sz2 := utf8.DecodeRuneInString(s[e:])
				if !class(r2) {
					break
				}
				e += sz2
			}
			return e
		}
	}
	// Whitespace: \s+(?!\S) then \s+.
	e := i
	last := i
	for e < len(s) {
		r, sz := utf8.DecodeRuneInString(s[e:])
		if !isSpace(r) {
			break
		}
		last = e
		e += sz
	}
	if e == len(s) || last == i {
		return e
	}
	return last
}

func (b byteLevel) preTokenize(n nstr, dst []nstr) []nstr {
	if b.addPrefixSpace && !strings.HasPrefix(n.norm, " ") {
		n.prepend(" ")
	}
	if n.norm == "" {
		return dst
	}
	// Map the whole piece to byte characters once; the regex's pieces are
	// then slices of it (pos maps a byte of the piece to its place there).
	bc, pos := toByteChars(n)
	if !b.useRegex {
		return append(dst, bc)
	}
	for i := 0; i < len(n.norm); {
		end := gpt2Match(n.norm, i)
		dst = append(dst, bc.slice(pos[i], pos[end]))
		i = end
	}
	return dst
}

// toByteChars rewrites each byte of the text as its byte character, every
// one aligned with the character it came from; pos[i] is where byte i of
// the text starts in the result (pos[len] is its length).
func toByteChars(n nstr) (nstr, []int) {
	out := make([]byte, 0, len(n.norm)*2)
	al := make([]span, 0, len(n.norm)*2)
	pos := make([]int, len(n.norm)+1)
	for i := 0; i < len(n.norm); i++ {
		pos[i] = len(out)
		r := byteChar[n.norm[i]]
		a := n.align[i]
		if r < utf8.RuneSelf {
			out = append(out, byte(r))
			al = append(al, a)
			continue
		}
		out = utf8.AppendRune(out, r)
		al = append(al, a, a)
	}
	pos[len(n.norm)] = len(out)
	n.norm = string(out)
	n.align = al
	return n, pos
}
