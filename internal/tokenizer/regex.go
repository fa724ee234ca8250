package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
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
		case (c == '+' || c == '?' || c == '*' || c == '}') && !inClass && i+1 < len(p) && p[i+1] == '+':
			return nil, fmt.Errorf("possessive quantifiers are not supported")
		default:
			b.WriteByte(c)
		}
	}
	return regexp.Compile(b.String())
}
