package tokenizer

import (
	"unicode/utf8"
)

// span is a half-open byte range [s, e) of the original text (int32: one
// per normalized byte, so it is kept small; Encode refuses longer texts).
type span struct{ s, e int32 }

// maxText is the longest text Encode accepts, in bytes.
const maxText = 1<<31 - 1

// change is one character of a transformation's output, as Hugging Face's
// NormalizedString.transform takes them: c = 0 replaces the next input
// character, c = 1 inserts a new one, c = -n replaces the next input
// character and removes the n after it.
type change struct {
	r rune
	c int
}

// nstr is a piece of text being normalized: the normalized bytes and, for
// each of them, the byte range of the original text it comes from. Ranges are
// absolute (offsets into the whole text given to Encode), so slicing needs no
// shift. origStart is where the piece starts in the original text.
type nstr struct {
	norm      string
	align     []span
	origStart int
	origEnd   int
}

// newNstr is the untouched piece text[start:end].
func newNstr(text string, start, end int) nstr {
	s := text[start:end]
	al := make([]span, len(s))
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		for k := 0; k < n; k++ {
			al[i+k] = span{int32(start + i), int32(start + i + n)}
		}
		i += n
	}
	return nstr{norm: s, align: al, origStart: start, origEnd: end}
}

// originalRange maps a normalized byte range to the original text.
func (n *nstr) originalRange(s, e int) (int, int) {
	if s == e {
		// Hugging Face returns the normalized range itself for an empty
		// target; only empty pieces reach here, and they are dropped.
		if s < len(n.align) {
			return int(n.align[s].s), int(n.align[s].s)
		}
		return n.origEnd, n.origEnd
	}
	return int(n.align[s].s), int(n.align[e-1].e)
}

// slice is the sub-piece of normalized bytes [s, e).
func (n *nstr) slice(s, e int) nstr {
	os, oe := n.originalRange(s, e)
	if s == e {
		os, oe = n.origStart, n.origStart
	}
	return nstr{norm: n.norm[s:e], align: n.align[s:e:e], origStart: os, origEnd: oe}
}

// transformRange replaces normalized bytes [s, e) by dest, keeping the
// alignments as Hugging Face does: a replacing character takes the alignment
// of the character it replaces, an inserted one that of the byte before it.
// initial is the number of characters removed at the start of the range.
func (n *nstr) transformRange(s, e int, dest []change, initial int) {
	old := n.norm[s:e]
	pos := 0 // byte position in old of the next replaced character
	for k := 0; k < initial && pos < len(old); k++ {
		_, sz := utf8.DecodeRuneInString(old[pos:])
		pos += sz
	}
	offset := s + pos
	var buf []byte
	al := make([]span, 0, e-s+len(dest))
	for _, d := range dest {
		idx := offset
		var a span
		if d.c > 0 {
			if idx >= 1 {
				a = n.align[idx-1]
			}
		} else if idx < len(n.align) {
			a = n.align[idx]
		} else if len(n.align) > 0 {
			a = n.align[len(n.align)-1]
		}
		if d.c <= 0 && pos < len(old) {
			_, sz := utf8.DecodeRuneInString(old[pos:])
			pos += sz
			offset += sz
		}
		for k := 0; k < -d.c && pos < len(old); k++ {
			_, sz := utf8.DecodeRuneInString(old[pos:])
			pos += sz
			offset += sz
		}
		buf = utf8.AppendRune(buf, d.r)
		for k := utf8.RuneLen(d.r); k > 0; k-- {
			al = append(al, a)
		}
	}
	if s == 0 && e == len(n.norm) {
		n.norm = string(buf)
		n.align = al
		return
	}
	nn := make([]byte, 0, len(n.norm)-(e-s)+len(buf))
	nn = append(nn, n.norm[:s]...)
	nn = append(nn, buf...)
	nn = append(nn, n.norm[e:]...)
	na := make([]span, 0, len(nn))
	na = append(na, n.align[:s]...)
	na = append(na, al...)
	na = append(na, n.align[e:]...)
	n.norm = string(nn)
	n.align = na
}

// transform replaces the whole normalized text by dest.
func (n *nstr) transform(dest []change, initial int) {
	n.transformRange(0, len(n.norm), dest, initial)
}

// mapRunes replaces each character by f's, one for one.
func (n *nstr) mapRunes(f func(rune) rune) {
	same := true
	for _, r := range n.norm {
		if f(r) != r {
			same = false
			break
		}
	}
	if same {
		return
	}
	dest := make([]change, 0, len(n.norm))
	for _, r := range n.norm {
		dest = append(dest, change{f(r), 0})
	}
	n.transform(dest, 0)
}

// filter keeps the characters keep accepts.
func (n *nstr) filter(keep func(rune) bool) {
	all := true
	for _, r := range n.norm {
		if !keep(r) {
			all = false
			break
		}
	}
	if all {
		return
	}
	removed, removedStart := 0, 0
	dest := make([]change, 0, len(n.norm))
	var last rune
	have := false
	for _, r := range n.norm {
		if keep(r) {
			if have {
				dest = append(dest, change{last, -removed})
			} else {
				removedStart = removed
			}
			last, have = r, true
			removed = 0
		} else {
			removed++
		}
	}
	if have {
		dest = append(dest, change{last, -removed})
	}
	n.transform(dest, removedStart)
}

// prepend puts s before the text, aligned with its first character.
func (n *nstr) prepend(s string) {
	if n.norm == "" {
		return
	}
	next, sz := utf8.DecodeRuneInString(n.norm)
	dest := make([]change, 0, len(s)+1)
	i := 0
	for _, r := range s {
		c := 0
		if i != 0 {
			c = 1
		}
		dest = append(dest, change{r, c})
		i++
	}
	dest = append(dest, change{next, 1})
	n.transformRange(0, sz, dest, 0)
}

// match is a piece of the normalized text: a pattern match or the text
// between two.
type match struct {
	s, e    int
	isMatch bool
}

// replace replaces every match of find by content.
func (n *nstr) replace(matches []match, content string) {
	count := 0
	for _, m := range matches {
		if m.isMatch {
			count++
		}
	}
	if count == 0 {
		return
	}
	size := len(n.norm) + count*len(content)
	nn := make([]byte, 0, size)
	na := make([]span, 0, size)
	last := 0
	for _, m := range matches {
		if !m.isMatch {
			continue
		}
		nn = append(nn, n.norm[last:m.s]...)
		na = append(na, n.align[last:m.s]...)
		offset := m.e // every character of the match is removed up front
		for _, r := range content {
			var a span
			if offset >= 1 {
				a = n.align[offset-1]
			}
			nn = utf8.AppendRune(nn, r)
			for k := utf8.RuneLen(r); k > 0; k-- {
				na = append(na, a)
			}
		}
		last = m.e
	}
	nn = append(nn, n.norm[last:]...)
	na = append(na, n.align[last:]...)
	n.norm = string(nn)
	n.align = na
}

// strip removes leading and/or trailing whitespace.
func (n *nstr) strip(left, right bool) {
	lead, trail := 0, 0
	rs := []rune(n.norm)
	if left {
		for lead < len(rs) && isSpace(rs[lead]) {
			lead++
		}
	}
	if right {
		for trail < len(rs)-lead && isSpace(rs[len(rs)-1-trail]) {
			trail++
		}
	}
	if lead == 0 && trail == 0 {
		return
	}
	dest := make([]change, 0, len(rs))
	for i, r := range rs {
		switch {
		case i < lead || i >= len(rs)-trail:
		case i == len(rs)-trail-1:
			dest = append(dest, change{r, -trail})
		default:
			dest = append(dest, change{r, 0})
		}
	}
	n.transform(dest, lead)
}

// Behavior says what a split does with the delimiter it found.
type behavior uint8

const (
	behRemoved behavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

// split cuts the text at the given matches (which cover it, in order) by
// behavior, appending the non-empty pieces to dst.
func (n *nstr) split(matches []match, b behavior, dst []nstr) []nstr {
	type piece struct {
		s, e   int
		remove bool
	}
	var ps []piece
	switch b {
	case behIsolated:
		for _, m := range matches {
			ps = append(ps, piece{m.s, m.e, false})
		}
	case behRemoved:
		for _, m := range matches {
			ps = append(ps, piece{m.s, m.e, m.isMatch})
		}
	case behContiguous:
		prev := false
		for _, m := range matches {
			if m.isMatch == prev && len(ps) > 0 {
				ps[len(ps)-1].e = m.e
			} else {
				ps = append(ps, piece{m.s, m.e, false})
			}
			prev = m.isMatch
		}
	case behMergedWithPrevious:
		prev := false
		for _, m := range matches {
			if m.isMatch && !prev && len(ps) > 0 {
				ps[len(ps)-1].e = m.e
			} else {
				ps = append(ps, piece{m.s, m.e, false})
			}
			prev = m.isMatch
		}
	case behMergedWithNext:
		prev := false
		for i := len(matches) - 1; i >= 0; i-- {
			m := matches[i]
			if m.isMatch && !prev && len(ps) > 0 {
				ps[len(ps)-1].s = m.s
			} else {
				ps = append(ps, piece{m.s, m.e, false})
			}
			prev = m.isMatch
		}
		for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
			ps[i], ps[j] = ps[j], ps[i]
		}
	}
	for _, p := range ps {
		if p.remove || p.s == p.e {
			continue
		}
		dst = append(dst, n.slice(p.s, p.e))
	}
	return dst
}

// runeMatches finds each character that is satisfies f as a one-character
// match, with the text between as non-matches: Hugging Face's char-predicate
// Pattern.
func runeMatches(s string, f func(rune) bool, dst []match) []match {
	if s == "" {
		return append(dst, match{0, 0, false})
	}
	last := 0
	for i, r := range s {
		if f(r) {
			if last < i {
				dst = append(dst, match{last, i, false})
			}
			e := i + utf8.RuneLen(r)
			dst = append(dst, match{i, e, true})
			last = e
		}
	}
	if last < len(s) {
		dst = append(dst, match{last, len(s), false})
	}
	return dst
}

// spansToMatches turns the matched ranges of a regex (in order, not
// overlapping) into matches covering s, as Hugging Face's regex Pattern does.
func spansToMatches(s string, spans [][2]int, dst []match) []match {
	if s == "" {
		return append(dst, match{0, 0, false})
	}
	last := 0
	for _, sp := range spans {
		if last < sp[0] {
			dst = append(dst, match{last, sp[0], false})
		}
		dst = append(dst, match{sp[0], sp[1], true})
		last = sp[1]
	}
	if last < len(s) {
		dst = append(dst, match{last, len(s), false})
	}
	return dst
}

// invert flips which pieces are matches.
func invert(ms []match) {
	for i := range ms {
		ms[i].isMatch = !ms[i].isMatch
	}
}
