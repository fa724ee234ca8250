package tokenizer

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of text, keeping its alignments.
type normalizer interface {
	normalize(n *nstr)
}

// unicodeNorm is NFC, NFD, NFKC or NFKD.
type unicodeNorm struct{ form norm.Form }

func (u unicodeNorm) normalize(n *nstr) {
	if u.form.IsNormalString(n.norm) {
		return
	}
	compat := u.form == norm.NFKC || u.form == norm.NFKD
	dest := decompose(n.norm, compat)
	if u.form == norm.NFC || u.form == norm.NFKC {
		dest = recompose(dest)
	}
	n.transform(dest, 0)
}

// ccc is a character's canonical combining class.
func ccc(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	var b [4]byte
	k := utf8.EncodeRune(b[:], r)
	return norm.NFD.Properties(b[:k]).CCC()
}

// decompose emits each character's full decomposition, the first part
// replacing it and the rest inserted, then puts each run of combining
// marks in canonical order, moving their changes with them: the alignment
// Hugging Face's normalizer (unicode-normalization-alignments) produces.
func decompose(s string, compat bool) []change {
	form := norm.NFD
	if compat {
		form = norm.NFKD
	}
	type item struct {
		class uint8
		c     change
	}
	items := make([]item, 0, len(s))
	ready := 0
	sortPending := func() {
		p := items[ready:]
		// Stable insertion sort by class: runs are short.
		for i := 1; i < len(p); i++ {
			for j := i; j > 0 && p[j-1].class > p[j].class; j-- {
				p[j-1], p[j] = p[j], p[j-1]
			}
		}
		ready = len(items)
	}
	var buf [4]byte
	for _, r := range s {
		k := utf8.EncodeRune(buf[:], r)
		d := buf[:k]
		if !form.IsNormal(d) {
			d = form.Bytes(d)
		}
		first := true
		for _, x := range string(d) {
			cl := ccc(x)
			if cl == 0 {
				sortPending()
			}
			c := 1
			if first {
				c = 0
			}
			items = append(items, item{cl, change{x, c}})
			first = false
		}
	}
	sortPending()
	out := make([]change, len(items))
	for i, it := range items {
		out[i] = it.c
	}
	return out
}

// compose is the primary composite of a and b, if any.
func compose(a, b rune) (rune, bool) {
	var buf [8]byte
	k := utf8.EncodeRune(buf[:], a)
	k += utf8.EncodeRune(buf[k:], b)
	out := norm.NFC.Bytes(buf[:k])
	r, sz := utf8.DecodeRune(out)
	if sz != len(out) || r == a {
		return 0, false
	}
	return r, true
}

// recompose is canonical composition over decompose's output, with the
// changes unicode-normalization-alignments gives: a composite takes its
// starter's change plus the absorbed mark's, minus one.
func recompose(in []change) []change {
	out := make([]change, 0, len(in))
	var composee *change
	var buffer []change
	lastCCC := -1
	for _, ch := range in {
		cl := int(ccc(ch.r))
		if composee == nil {
			if cl != 0 {
				out = append(out, ch)
				continue
			}
			c := ch
			composee = &c
			continue
		}
		k := *composee
		if lastCCC < 0 {
			if r, ok := compose(k.r, ch.r); ok {
				composee = &change{r, k.c + ch.c - 1}
				continue
			}
			if cl == 0 {
				c := ch
				composee = &c
				out = append(out, k)
				continue
			}
			buffer = append(buffer, ch)
			lastCCC = cl
			continue
		}
		if lastCCC >= cl {
			if cl == 0 {
				c := ch
				composee = &c
				lastCCC = -1
				out = append(out, k)
				out = append(out, buffer...)
				buffer = buffer[:0]
				continue
			}
			buffer = append(buffer, ch)
			lastCCC = cl
			continue
		}
		if r, ok := compose(k.r, ch.r); ok {
			composee = &change{r, k.c + ch.c - 1}
			continue
		}
		buffer = append(buffer, ch)
		lastCCC = cl
	}
	if composee != nil {
		out = append(out, *composee)
	}
	return append(out, buffer...)
}

// lowercase maps each character to its full lowercase (Rust's
// char::to_lowercase: İ becomes i + U+0307).
type lowercase struct{}

func (lowercase) normalize(n *nstr) {
	same := true
	for _, r := range n.norm {
		if r == 'İ' || unicode.ToLower(r) != r {
			same = false
			break
		}
	}
	if same {
		return
	}
	dest := make([]change, 0, len(n.norm))
	for _, r := range n.norm {
		if r == 'İ' {
			dest = append(dest, change{'i', 0}, change{'\u0307', 1})
			continue
		}
		dest = append(dest, change{unicode.ToLower(r), 0})
	}
	n.transform(dest, 0)
}

// strip removes whitespace at either end.
type stripN struct{ left, right bool }

func (s stripN) normalize(n *nstr) { n.strip(s.left, s.right) }

// stripAccents removes combining marks (general category M).
type stripAccents struct{}

func (stripAccents) normalize(n *nstr) {
	n.filter(func(r rune) bool { return !unicode.Is(unicode.M, r) })
}

// replaceN replaces each match of a pattern by content.
type replaceN struct {
	literal string
	re      *regexp.Regexp
	content string
}

func (p replaceN) normalize(n *nstr) {
	n.replace(p.find(n.norm), p.content)
}

func (p replaceN) find(s string) []match {
	var spans [][2]int
	if p.re != nil {
		for _, m := range p.re.FindAllStringIndex(s, -1) {
			spans = append(spans, [2]int{m[0], m[1]})
		}
	} else if p.literal != "" {
		for i := 0; ; {
			k := strings.Index(s[i:], p.literal)
			if k < 0 {
				break
			}
			spans = append(spans, [2]int{i + k, i + k + len(p.literal)})
			i += k + len(p.literal)
		}
	}
	return spansToMatches(s, spans, nil)
}

// prependN puts a string before non-empty text.
type prependN struct{ s string }

func (p prependN) normalize(n *nstr) { n.prepend(p.s) }

// sequenceN applies normalizers in order.
type sequenceN []normalizer

func (q sequenceN) normalize(n *nstr) {
	for _, x := range q {
		x.normalize(n)
	}
}

// bertNorm is BERT's normalizer: clean control characters, space out CJK
// ideographs, strip accents, lowercase.
type bertNorm struct {
	clean, chinese, strip, lower bool
}

func isWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || isSpace(r)
}

// isSpace is Rust's char::is_whitespace (the White_Space property).
func isSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.Is(unicode.White_Space, r)
}

// isOther is general category C, unassigned code points included.
func isOther(r rune) bool {
	if unicode.In(r, unicode.C) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func (b bertNorm) normalize(n *nstr) {
	if b.clean {
		n.filter(func(r rune) bool {
			if r == '\t' || r == '\n' || r == '\r' {
				return true
			}
			return !(r == 0 || r == 0xFFFD || isOther(r))
		})
		n.mapRunes(func(r rune) rune {
			if isWhitespace(r) {
				return ' '
			}
			return r
		})
	}
	if b.chinese && strings.IndexFunc(n.norm, isChineseChar) >= 0 {
		dest := make([]change, 0, len(n.norm))
		for _, r := range n.norm {
			if isChineseChar(r) {
				dest = append(dest, change{' ', 0}, change{r, 1}, change{' ', 1})
			} else {
				dest = append(dest, change{r, 0})
			}
		}
		n.transform(dest, 0)
	}
	if b.strip {
		unicodeNorm{norm.NFD}.normalize(n)
		n.filter(func(r rune) bool { return !unicode.Is(unicode.Mn, r) })
	}
	if b.lower {
		lowercase{}.normalize(n)
	}
}

// precompiled is SentencePiece's normalization rules compiled into a
// character map: a double-array trie from byte strings to offsets into a
// blob of NUL-terminated replacements.
type precompiled struct {
	array []uint32
	blob  string
	// ascii caches transform of each one-byte grapheme.
	ascii [128]struct {
		repl string
		ok   bool
	}
}

// parsePrecompiled reads a precompiled_charsmap: a little-endian uint32 trie
// size in bytes, the trie's units, then the replacement strings.
func parsePrecompiled(b []byte) (*precompiled, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap is %d bytes", len(b))
	}
	size := binary.LittleEndian.Uint32(b)
	units := int(size / 4)
	if units == 0 || 4+units*4 > len(b) {
		return nil, fmt.Errorf("precompiled_charsmap: trie of %d bytes does not fit in %d", size, len(b))
	}
	p := &precompiled{array: make([]uint32, units)}
	for i := range p.array {
		p.array[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	blob := b[4+units*4:]
	if !utf8.Valid(blob) {
		return nil, fmt.Errorf("precompiled_charsmap: replacements are not UTF-8")
	}
	p.blob = string(blob)
	for b := range p.ascii {
		p.ascii[b].repl, p.ascii[b].ok = p.transform(string(rune(b)))
	}
	return p, nil
}

func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) int     { return int(u & (1<<31 - 1)) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// transform returns the replacement of the shortest key that is a prefix of
// chunk, as SentencePiece's normalizer (and Hugging Face's port) does.
func (p *precompiled) transform(chunk string) (string, bool) {
	pos := uint32(0)
	if len(p.array) == 0 {
		return "", false
	}
	unit := p.array[0]
	pos ^= unitOffset(unit)
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if int(pos) >= len(p.array) {
			return "", false
		}
		unit = p.array[pos]
		if unitLabel(unit) != uint32(c) {
			return "", false
		}
		pos ^= unitOffset(unit)
		if unitHasLeaf(unit) {
			if int(pos) >= len(p.array) {
				return "", false
			}
			idx := unitValue(p.array[pos])
			if idx > len(p.blob) {
				return "", false
			}
			end := strings.IndexByte(p.blob[idx:], 0)
			if end < 0 {
				end = len(p.blob) - idx
			}
			r := p.blob[idx : idx+end]
			if !utf8.ValidString(r) {
				return "", false
			}
			return r, true
		}
	}
	return "", false
}

// replaceChanges appends the changes that turn old into repl.
func replaceChanges(dest []change, old, repl string) []change {
	oldN := utf8.RuneCountInString(old)
	start := len(dest)
	for _, r := range repl {
		dest = append(dest, change{r, 0})
	}
	diff := (len(dest) - start) - oldN
	switch {
	case diff > 0:
		for i := len(dest) - 1; i >= len(dest)-diff && i >= 0; i-- {
			dest[i].c = 1
		}
	case diff < 0 && len(dest) > 0:
		dest[len(dest)-1].c += diff
	}
	return dest
}

func (p *precompiled) normalize(n *nstr) {
	dest := make([]change, 0, len(n.norm))
	modified := false
	str := n.norm
	state := -1
	for i := 0; i < len(str); {
		c := str[i]
		// An ASCII character followed by another (CR LF aside) is a
		// grapheme of its own: look it up in the cache.
		if c < utf8.RuneSelf && (i+1 == len(str) || str[i+1] < utf8.RuneSelf && !(c == '\r' && str[i+1] == '\n')) {
			if a := p.ascii[c]; a.ok {
				modified = modified || a.repl != str[i:i+1]
				dest = replaceChanges(dest, str[i:i+1], a.repl)
			} else {
				dest = append(dest, change{rune(c), 0})
			}
			i++
			state = -1
			continue
		}
		var gr string
		gr, _, _, state = uniseg.FirstGraphemeClusterInString(str[i:], state)
		i += len(gr)
		if len(gr) < 6 {
			if r, ok := p.transform(gr); ok {
				modified = modified || r != gr
				dest = replaceChanges(dest, gr, r)
				continue
			}
		}
		for k, c := range gr {
			part := gr[k : k+utf8.RuneLen(c)]
			if r, ok := p.transform(part); ok {
				modified = modified || r != part
				dest = replaceChanges(dest, part, r)
			} else {
				dest = append(dest, change{c, 0})
			}
		}
	}
	if modified {
		n.transform(dest, 0)
	}
}
