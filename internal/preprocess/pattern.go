package preprocess

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrPattern is returned for a token pattern that cannot be reproduced
// faithfully with Python re semantics.
var ErrPattern = errors.New("preprocess: untranslatable token pattern")

// DefaultTokenPattern is scikit-learn's default token_pattern.
const DefaultTokenPattern = `(?u)\b\w\w+\b`

// pyWordClass and pySpaceClass are RE2 class bodies equal to Python's \w and
// \s on str patterns.
const (
	pyWordClass  = `\p{L}\p{N}_`
	pySpaceClass = `\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
)

// tokenizer finds tokens in preprocessed text, as Python's
// re.compile(pattern).findall does.
type tokenizer struct {
	// minRun > 0 selects the fast scanner for `\b\w{minRun,}\b`-style
	// patterns: maximal runs of at least minRun word characters.
	minRun int
	re     *regexp.Regexp
	group  bool // findall returns capture group 1
	// py matches the patterns RE2 cannot reproduce (see pyre).
	py *pyre
}

// scanPatterns are the token patterns served by the word-run scanner, with
// their minimal run length.
var scanPatterns = map[string]int{
	`(?u)\b\w\w+\b`: 2, `\b\w\w+\b`: 2, `(?u)\b\w+\b`: 1, `\b\w+\b`: 1,
	`(?u)\w\w+`: 2, `\w\w+`: 2, `(?u)\w+`: 1, `\w+`: 1,
}

// compileTokenPattern translates a Python token pattern.
func compileTokenPattern(p string) (*tokenizer, error) {
	if n, ok := scanPatterns[p]; ok {
		return &tokenizer{minRun: n}, nil
	}
	// Python's parser first: it refuses what Python refuses, naming it.
	py, err := compilePyre(p)
	if err != nil {
		return nil, err
	}
	// RE2 where the translation is exact (and faster); pyre for the rest:
	// constructs RE2 lacks or reads differently, and patterns that match
	// the empty string (Python's findall and Go's FindAll differ on empty
	// matches next to earlier matches).
	g, err := translatePattern(p)
	if err != nil {
		return &tokenizer{py: py}, nil
	}
	re, err := regexp.Compile(g)
	if err != nil || re.NumSubexp() != py.ngroups || re.MatchString("") || py.groupInRepeat {
		return &tokenizer{py: py}, nil
	}
	return &tokenizer{re: re, group: re.NumSubexp() == 1}, nil
}

// translatePattern rewrites a Python re pattern into RE2 syntax with Python's
// Unicode classes, refusing constructs RE2 lacks or reads differently.
func translatePattern(p string) (string, error) {
	refuse := func(construct string) (string, error) {
		return "", fmt.Errorf("%w: %q uses %s", ErrPattern, p, construct)
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return refuse("a trailing backslash")
			}
			i++
			e := p[i]
			switch e {
			case 'w':
				if inClass {
					b.WriteString(pyWordClass)
				} else {
					b.WriteString("[" + pyWordClass + "]")
				}
			case 'W':
				if inClass {
					return refuse(`\W inside a character class`)
				}
				b.WriteString("[^" + pyWordClass + "]")
			case 's':
				if inClass {
					b.WriteString(pySpaceClass)
				} else {
					b.WriteString("[" + pySpaceClass + "]")
				}
			case 'S':
				if inClass {
					return refuse(`\S inside a character class`)
				}
				b.WriteString("[^" + pySpaceClass + "]")
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				b.WriteString(`\P{Nd}`)
			case 'b':
				if inClass {
					b.WriteString(`\x08`)
				} else {
					return refuse(`\b (a word boundary) outside the default forms`)
				}
			case 'B':
				return refuse(`\B`)
			case 'A':
				b.WriteString(`\A`)
			case 'Z':
				b.WriteString(`\z`)
			case 'n', 't', 'r', 'f', 'v', 'a':
				b.WriteString(`\` + string(e))
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+1+n > len(p) {
					return refuse("a truncated escape")
				}
				b.WriteString(`\x{` + p[i+1:i+1+n] + `}`)
				i += n
			case 'N':
				return refuse(`\N{...}`)
			default:
				if e >= '0' && e <= '9' {
					return refuse("a backreference or octal escape")
				}
				if e >= utf8.RuneSelf || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') {
					return refuse(`\` + string(e))
				}
				b.WriteString(regexp.QuoteMeta(string(e)))
			}
		case inClass:
			if c == ']' {
				inClass = false
			} else if c == '[' {
				// Python warns about nested sets; RE2 reads [: as POSIX classes.
				b.WriteString(`\[`)
				continue
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '(' && i+1 < len(p) && p[i+1] == '?':
			rest := p[i+2:]
			switch {
			case strings.HasPrefix(rest, ":"), strings.HasPrefix(rest, "P<"):
				b.WriteString("(?")
				i++
			case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"),
				strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
				return refuse("lookaround")
			case strings.HasPrefix(rest, ">"):
				return refuse("an atomic group")
			case strings.HasPrefix(rest, "P="), strings.HasPrefix(rest, "("):
				return refuse("a backreference or conditional")
			case strings.HasPrefix(rest, "#"):
				return refuse("a comment group")
			default:
				// Inline flags: u is Python's default for str patterns; i, s and m
				// mean the same in RE2 (i folds simply; refuse a and x and L).
				j := strings.IndexAny(rest, ":)")
				if j < 0 {
					return refuse("an unterminated group")
				}
				var flags strings.Builder
				for _, f := range rest[:j] {
					switch f {
					case 'u':
					case 'i', 's', 'm', '-':
						flags.WriteRune(f)
					default:
						return refuse("the inline flag " + string(f))
					}
				}
				if strings.ContainsRune(flags.String(), 'i') {
					return refuse("case-insensitive matching (Python folds case differently)")
				}
				if flags.Len() == 0 && rest[j] == ')' {
					i += 2 + j
					continue
				}
				b.WriteString("(?" + flags.String() + string(rest[j]))
				i += 2 + j
			}
		case c == '$':
			// Python's $ also matches before a final newline.
			return refuse("$ (Python matches it before a trailing newline)")
		case c == '{':
			switch {
			case !validRepeat(p[i:]):
				b.WriteString(`\{`)
			case i+1 < len(p) && p[i+1] == ',':
				// Python reads {,n} as {0,n}; RE2 reads it literally.
				b.WriteString("{0")
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	if inClass {
		return refuse("an unterminated character class")
	}
	return b.String(), nil
}

// validRepeat reports whether s starts with a {m}, {m,} or {m,n} repetition;
// Python reads any other brace literally.
func validRepeat(s string) bool {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return false
	}
	body := s[1:end]
	if body == "" {
		return false
	}
	lo, hi, comma := body, "", false
	if k := strings.IndexByte(body, ','); k >= 0 {
		lo, hi, comma = body[:k], body[k+1:], true
	}
	digits := func(x string) bool {
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return false
			}
		}
		return true
	}
	// Python reads {,} as {0,} (sre_parse: an empty min is 0, an empty
	// max unbounded).
	if !digits(lo) || !digits(hi) || (lo == "" && !comma) {
		return false
	}
	return true
}

// isASCIIWord marks the ASCII bytes Python's \w matches.
var isASCIIWord = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = IsPyWord(rune(c))
	}
	return t
}()

// appendRuns appends the start and end offsets of each token of the
// word-run scanner (minRun > 0) to spans: maximal runs of at least minRun
// word characters.
func (t *tokenizer) appendRuns(spans []int, text []byte) []int {
	for i := 0; i < len(text); {
		// Skip to the next word character.
		if c := text[i]; c < utf8.RuneSelf {
			if !isASCIIWord[c] {
				i++
				continue
			}
		} else if r, size := utf8.DecodeRune(text[i:]); !IsPyWord(r) {
			i += size
			continue
		}
		// The run of word characters from there, n code points long.
		start, n := i, 0
		for i < len(text) {
			if c := text[i]; c < utf8.RuneSelf {
				if !isASCIIWord[c] {
					break
				}
				i++
			} else {
				r, size := utf8.DecodeRune(text[i:])
				if !IsPyWord(r) {
					break
				}
				i += size
			}
			n++
		}
		if n >= t.minRun {
			spans = append(spans, start, i)
		}
	}
	return spans
}

// tokens calls emit with the [start, end) byte offsets of each token in text.
// Only pyre patterns fail: out of steps, or ctx done.
func (t *tokenizer) tokens(ctx context.Context, text []byte, emit func(start, end int)) error {
	if t.py != nil {
		return t.py.findAll(ctx, text, emit)
	}
	if t.minRun > 0 {
		start, n := -1, 0
		for i := 0; i < len(text); {
			r, size := rune(text[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRune(text[i:])
			}
			if IsPyWord(r) {
				if start < 0 {
					start, n = i, 0
				}
				n++
			} else if start >= 0 {
				if n >= t.minRun {
					emit(start, i)
				}
				start = -1
			}
			i += size
		}
		if start >= 0 && n >= t.minRun {
			emit(start, len(text))
		}
		return nil
	}
	for _, m := range t.re.FindAllSubmatchIndex(text, -1) {
		if t.group {
			if m[2] < 0 {
				// An unmatched group: findall gives "".
				emit(m[0], m[0])
				continue
			}
			emit(m[2], m[3])
		} else {
			emit(m[0], m[1])
		}
	}
	return nil
}
