package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Oniguruma (which tokenizers uses for Split and Replace patterns) reads
// \s, \d and \w as Unicode classes; Go's regexp reads them as ASCII. These
// are their Unicode meanings, for use inside a character class.
const (
	uniSpace = `\t-\r\x{85}\p{Z}`
	uniDigit = `\p{Nd}`
	uniWord  = `\p{L}\p{M}\p{Nd}\p{Pc}`
)

// compileOnig compiles an Oniguruma pattern with Go's regexp, rewriting
// \s \d \w (and their negations) to their Unicode meaning. Constructs that
// RE2 lacks or reads differently (lookaround, backreferences, \b, possessive
// and atomic forms) are refused.
func compileOnig(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			n := p[i+1]
			i++
			var cls string
			neg := false
			switch n {
			case 's':
				cls = uniSpace
			case 'S':
				cls, neg = uniSpace, true
			case 'd':
				cls = uniDigit
			case 'D':
				cls, neg = uniDigit, true
			case 'w':
				cls = uniWord
			case 'W':
				cls, neg = uniWord, true
			case 'b', 'B', 'G', 'K', 'R', 'X', 'h', 'H', 'k', 'g':
				return nil, fmt.Errorf(`\%c is not supported`, n)
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				return nil, fmt.Errorf("backreferences are not supported")
			case 'p', 'P':
				// \p{Name}: copy through the closing brace.
				b.WriteByte('\\')
				b.WriteByte(n)
				if i+1 < len(p) && p[i+1] == '{' {
					k := strings.IndexByte(p[i+1:], '}')
					if k < 0 {
						return nil, fmt.Errorf("unterminated \\%c{", n)
					}
					b.WriteString(p[i+1 : i+2+k])
					i += 1 + k
				}
				continue
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
				continue
			}
			switch {
			case !inClass && !neg:
				b.WriteString("[" + cls + "]")
			case !inClass && neg:
				b.WriteString("[^" + cls + "]")
			case !neg:
				b.WriteString(cls)
			default:
				return nil, fmt.Errorf(`\%c inside a character class is not supported`, n)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '[' && inClass:
			if i+1 < len(p) && p[i+1] == ':' {
				b.WriteByte(c) // POSIX class [:alpha:]; RE2 reads it the same (ASCII)
				continue
			}
			return nil, fmt.Errorf("nested character classes are not supported")
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '(' && !inClass && i+2 < len(p) && p[i+1] == '?' &&
			(p[i+2] == '=' || p[i+2] == '!' || p[i+2] == '<' && i+3 < len(p) && (p[i+3] == '=' || p[i+3] == '!') || p[i+2] == '>'):
			return nil, fmt.Errorf("lookaround and atomic groups are not supported")
		case (c == '+' || c == '?' || c == '*') && !inClass && i+1 < len(p) && p[i+1] == '+':
			return nil, fmt.Errorf("possessive quantifiers are not supported")
		default:
			b.WriteByte(c)
		}
	}
	return regexp.Compile(b.String())
}

// wsTail ends the GPT-2 family of split patterns (GPT-2, Llama 3, Qwen):
// runs of whitespace, all but the last character when a non-space follows.
// RE2 has no lookahead, so the tail is matched by hand.
const wsTail = `|\s+(?!\S)|\s+`

// splitFinder returns the matcher for a Split pre-tokenizer's regex:
// GPT-2's by hand, a pattern ending in wsTail as its head (Go's regexp,
// anchored) then the tail by hand, any other with compileOnig.
func splitFinder(p string) (func(string) [][2]int, error) {
	if p == gpt2Pattern {
		return func(s string) [][2]int { return gpt2Spans(s, nil) }, nil
	}
	head, ok := strings.CutSuffix(p, wsTail)
	if !ok {
		re, err := compileOnig(p)
		if err != nil {
			return nil, err
		}
		return regexFinder(re), nil
	}
	re, err := compileOnig(`^(?:` + head + `)`)
	if err != nil {
		return nil, err
	}
	return func(s string) [][2]int {
		var spans [][2]int
		for i := 0; i < len(s); {
			// Leftmost-first: the head's alternatives, then the tail's.
			if loc := re.FindStringIndex(s[i:]); loc != nil && loc[1] > 0 {
				spans = append(spans, [2]int{i, i + loc[1]})
				i += loc[1]
				continue
			}
			r, sz := utf8.DecodeRuneInString(s[i:])
			if !isSpace(r) {
				i += sz
				continue
			}
			e, last := i, i
			for e < len(s) {
				r2, sz2 := utf8.DecodeRuneInString(s[e:])
				if !isSpace(r2) {
					break
				}
				last = e
				e += sz2
			}
			end := e
			if e < len(s) && last > i {
				end = last
			}
			spans = append(spans, [2]int{i, end})
			i = end
		}
		return spans
	}, nil
}
