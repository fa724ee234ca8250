package preprocess

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// IsPySpace reports whether r is whitespace for Python's str.isspace, str.split
// and the re module's \s on str patterns. Unlike unicode.IsSpace it includes
// the information separators U+001C..U+001F.
func IsPySpace(r rune) bool {
	switch {
	case r < 0x80:
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f)
	case r == 0x85 || r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200a) ||
		r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000:
		return true
	}
	return false
}

// IsPyWord reports whether r matches \w in a Python re str pattern: a letter,
// a number or the underscore. Combining marks are not word characters.
func IsPyWord(r rune) bool {
	if r < 0x80 {
		return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// pyCased is Unicode's Cased property (Lu, Ll, Lt, Other_Lowercase,
// Other_Uppercase), used by Python's Final_Sigma rule.
func pyCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// pyCaseIgnorable is Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk and
// the Word_Break classes MidLetter, MidNumLet and Single_Quote.
func pyCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// Lower returns s lowercased as Python's str.lower does: the full Unicode
// mapping, so U+0130 becomes "i\u0307", and capital sigma becomes final sigma
// (ς) at the end of a word by Unicode's Final_Sigma condition.
func Lower(s string) string {
	return string(appendLower(nil, s))
}

// appendLower appends Lower(s) to dst.
func appendLower(dst []byte, s string) []byte {
	dst = slices.Grow(dst, len(s))
	for i := 0; i < len(s); {
		// A run of ASCII bytes, lowered into place.
		j := i
		for j < len(s) && s[j] < utf8.RuneSelf {
			j++
		}
		if j > i {
			n := len(dst)
			dst = append(dst, s[i:j]...)
			out := dst[n:]
			for k, c := range out {
				if 'A' <= c && c <= 'Z' {
					out[k] = c + 'a' - 'A'
				}
			}
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case 0x130:
			dst = append(dst, "i\u0307"...)
		case 0x3a3:
			if finalSigma(s, i, i+size) {
				dst = utf8.AppendRune(dst, 0x3c2)
			} else {
				dst = utf8.AppendRune(dst, 0x3c3)
			}
		default:
			if r == utf8.RuneError && size == 1 {
				// Invalid UTF-8 cannot come from a Python str; keep the byte.
				dst = append(dst, s[i])
			} else {
				dst = utf8.AppendRune(dst, unicode.ToLower(r))
			}
		}
		i += size
	}
	return dst
}

// finalSigma reports whether the capital sigma at s[start:end] is in the
// Final_Sigma context: preceded by a cased letter (skipping case-ignorable
// characters) and not followed by one.
func finalSigma(s string, start, end int) bool {
	j := start
	var r rune
	found := false
	for j > 0 {
		var size int
		r, size = utf8.DecodeLastRuneInString(s[:j])
		j -= size
		if !pyCaseIgnorable(r) {
			found = true
			break
		}
	}
	if !found || !pyCased(r) {
		return false
	}
	for k := end; k < len(s); {
		r, size := utf8.DecodeRuneInString(s[k:])
		k += size
		if !pyCaseIgnorable(r) {
			return !pyCased(r)
		}
	}
	return true
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// StripAccentsUnicode is scikit-learn's strip_accents_unicode: an ASCII text
// is returned unchanged, any other is NFKD-normalized and its combining
// characters (canonical combining class not 0) are dropped.
func StripAccentsUnicode(s string) string {
	if isASCII(s) {
		return s
	}
	d := norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for i := 0; i < len(d); {
		p := norm.NFD.PropertiesString(d[i:])
		n := p.Size()
		if n == 0 {
			n = 1
		}
		if p.CCC() == 0 {
			b.WriteString(d[i : i+n])
		}
		i += n
	}
	return b.String()
}

// StripAccentsASCII is scikit-learn's strip_accents_ascii: NFKD, then every
// non-ASCII character is dropped.
func StripAccentsASCII(s string) string {
	if isASCII(s) {
		return s
	}
	d := norm.NFKD.String(s)
	b := make([]byte, 0, len(d))
	for i := 0; i < len(d); i++ {
		if d[i] < utf8.RuneSelf {
			b = append(b, d[i])
		}
	}
	return string(b)
}
