package server

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
)

// The fast decoders below read the prediction bodies that huma would accept
// unchanged, in one pass and without reflection. They are deliberately
// strict: anything they are not sure huma would accept and decode the same
// way (an unknown or repeated key, null, a number that is not a plain
// integer in range, an empty text, too many or too few texts, trailing
// bytes, a malformed escape) makes them answer false, and the request then
// goes through huma, which validates it against the OpenAPI schema and
// answers with its problem document. A true answer therefore never changes
// what a request gets, only how fast it gets it.

// maxTimeoutMS is the schema's maximum of timeout_ms.
const maxTimeoutMS = 600_000

// scanner walks a JSON document held in a string; substrings of it are the
// decoded strings that need no unescaping, so decoding allocates nothing
// beyond the texts slice.
type scanner struct {
	s string
	i int
}

func (p *scanner) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c, consuming it.
func (p *scanner) next(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a JSON string at the current position.
func (p *scanner) str() (string, bool) {
	p.ws()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	start := p.i
	escaped := false
	for j := p.i + 1; j < len(p.s); j++ {
		j = plainRun(p.s, j)
		if j >= len(p.s) {
			break
		}
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			if !escaped {
				return p.s[start+1 : j], true
			}
			return unescape(p.s[start+1 : j])
		case c == '\\':
			escaped = true
			j++ // the escaped byte; \uXXXX's digits are plain bytes
		case c < 0x20:
			return "", false // control characters must be escaped
		}
	}
	return "", false
}

// SWAR constants: a byte-wise test of eight bytes at once.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainRun returns the index of the first byte at or after i that is a
// quote, a backslash or a control character (len(s) when none is), eight
// bytes at a time: e-mail texts are long and mostly plain.
func plainRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := x ^ ('"' * ones)
		b := x ^ ('\\' * ones)
		// A byte below 0x20, or equal to '"' or '\\' (zero after the xor).
		if ((x-0x20*ones)|(q-ones)|(b-ones))&^x&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// unescape decodes the content of a JSON string that holds escapes as
// encoding/json does: a \uXXXX surrogate pair becomes one code point, a lone
// surrogate U+FFFD. It refuses an unknown escape or a short \u, as
// encoding/json's scanner does. s must be valid UTF-8 without raw quotes or
// control characters (str and the middleware checked).
func unescape(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for {
		k := strings.IndexByte(s, '\\')
		if k < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:k])
		s = s[k:]
		if len(s) < 2 {
			return "", false
		}
		switch s[1] {
		case '"', '\\', '/':
			b.WriteByte(s[1])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(s)
			if r < 0 {
				return "", false
			}
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if d := utf16.DecodeRune(r, hex4(s)); d != utf8.RuneError {
					s = s[6:]
					r = d
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
			continue
		default:
			return "", false
		}
		s = s[2:]
	}
}

// hex4 decodes the \uXXXX escape s starts with, or returns -1.
func hex4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// boolean reads true or false.
func (p *scanner) boolean() (bool, bool) {
	p.ws()
	switch {
	case len(p.s)-p.i >= 4 && p.s[p.i:p.i+4] == "true":
		p.i += 4
		return true, p.delim()
	case len(p.s)-p.i >= 5 && p.s[p.i:p.i+5] == "false":
		p.i += 5
		return false, p.delim()
	}
	return false, false
}

// timeout reads a timeout_ms: a plain non-negative integer (no sign,
// fraction or exponent) within the schema's bounds.
func (p *scanner) timeout() (int, bool) { return p.uint(maxTimeoutMS) }

// uint reads a plain non-negative integer (no sign, fraction, exponent or
// leading zero) of at most limit.
func (p *scanner) uint(limit int) (int, bool) {
	p.ws()
	start, n := p.i, 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
		if n > limit {
			return 0, false
		}
	}
	digits := p.i - start
	if digits == 0 || (digits > 1 && p.s[start] == '0') {
		return 0, false
	}
	return n, p.delim()
}

// delim reports whether a literal or number ends here (white space, a comma
// or a closing bracket follows, or the input ends), so "truex" and "12.5"
// are refused.
func (p *scanner) delim() bool {
	if p.i == len(p.s) {
		return true
	}
	switch p.s[p.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *scanner) end() bool {
	p.ws()
	return p.i == len(p.s)
}

// object reads a whole document that is one object, calling field for
// each key with the scanner at its value; field reads the value and
// reports whether it was acceptable.
func (p *scanner) object(field func(key string) bool) bool {
	return p.members(field) && p.end()
}

// members reads an object nested in a document, as object does.
func (p *scanner) members(field func(key string) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		key, ok := p.str()
		if !ok || !p.next(':') || !field(key) {
			return false
		}
		if p.next(',') {
			continue
		}
		return p.next('}')
	}
}

// array reads an array whose elements elem reads; an empty array is
// refused (every array the fast decoders accept has an element).
func (p *scanner) array(elem func() bool) bool {
	if !p.next('[') || p.next(']') {
		return false
	}
	for {
		if !elem() {
			return false
		}
		if p.next(',') {
			continue
		}
		return p.next(']')
	}
}

// Bits of the common keys already seen: a repeated key goes to huma.
const (
	seenModel = 1 << iota
	seenProbs
	seenTimeout
	seenText
)

// common decodes the keys both bodies share into the given fields.
func (p *scanner) common(key string, seen *int, ref *string, probs *bool, timeout *int) bool {
	var bit int
	ok := false
	switch key {
	case "model_version":
		bit = seenModel
		*ref, ok = p.str()
	case "return_probabilities":
		bit = seenProbs
		*probs, ok = p.boolean()
	case "timeout_ms":
		bit = seenTimeout
		*timeout, ok = p.timeout()
	default:
		return false
	}
	if !ok || *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// decodePredict decodes a /predict body that huma would accept unchanged.
func decodePredict(body string) (api.PredictRequest, bool) {
	var req api.PredictRequest
	p := scanner{s: body}
	seen := 0
	ok := p.object(func(key string) bool {
		if key == "text" {
			t, ok := p.str()
			if !ok || t == "" || seen&seenText != 0 {
				return false
			}
			seen |= seenText
			req.Text = t
			return true
		}
		return p.common(key, &seen, &req.ModelVersion, &req.ReturnProbabilities, &req.TimeoutMS)
	})
	return req, ok && seen&seenText != 0
}

// decodeBatch decodes a /batch-predict body that huma would accept
// unchanged: 1 to api.MaxBatchTexts texts.
func decodeBatch(body string) (api.BatchPredictRequest, bool) {
	var req api.BatchPredictRequest
	p := scanner{s: body}
	seen := 0
	ok := p.object(func(key string) bool {
		if key == "texts" {
			if seen&seenText != 0 || !p.next('[') {
				return false
			}
			seen |= seenText
			req.Texts = make([]string, 0, min(api.MaxBatchTexts, 1+len(p.s[p.i:])/3))
			if p.next(']') {
				return false // minItems 1
			}
			for {
				t, ok := p.str()
				if !ok || len(req.Texts) == api.MaxBatchTexts {
					return false
				}
				req.Texts = append(req.Texts, t)
				if p.next(',') {
					continue
				}
				return p.next(']')
			}
		}
		return p.common(key, &seen, &req.ModelVersion, &req.ReturnProbabilities, &req.TimeoutMS)
	})
	return req, ok && seen&seenText != 0
}
