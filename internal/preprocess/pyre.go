package preprocess

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pyre is a backtracking matcher with the semantics of Python's re module
// (CPython 3.11's sre) on str patterns, for the token patterns RE2 cannot
// reproduce: \b and \B anywhere, lookahead and lookbehind, backreferences,
// (?i) with Python's simple case folding, (?a), $ before a trailing newline,
// atomic groups and possessive quantifiers, patterns that match the empty
// string (findall's rules for empty matches). Patterns RE2 reproduces
// exactly keep using Go's regexp; FuzzPyre checks that both agree there.
//
// It parses the pattern as sre_parse does (refusing what Python refuses and
// the few constructs it does not implement, naming them) and matches in
// continuation-passing style over the text's code points. Matching is
// bounded: a step budget proportional to the text's length (catastrophic
// backtracking, which Python would also suffer, is an error here rather
// than a hang) and the context, looked at every few thousand steps.
type pyre struct {
	root    *reNode
	ngroups int
	// group is the capture group findall returns (1 when the pattern has
	// exactly one group, as scikit-learn requires), 0 for the whole match.
	group int
	// groupInRepeat: a capturing group is repeated; RE2 and sre then may
	// capture different iterations (sre keeps an empty last iteration).
	groupInRepeat bool
}

type reOp uint8

const (
	opEmpty reOp = iota
	opLit
	opAny
	opClass
	opConcat
	opAlt
	opRepeat
	opGroup // capturing when group > 0, else plain (?:...)
	opLook
	opAt
	opBackref
	opAtomic
)

type atKind uint8

const (
	atBegin       atKind = iota // ^
	atBeginLine                 // ^ with (?m)
	atEnd                       // $
	atEndLine                   // $ with (?m)
	atBeginText                 // \A
	atEndText                   // \Z
	atBoundary                  // \b
	atNonBoundary               // \B
)

// Flags of sre that change how a node matches.
const (
	flagI = 1 << iota // IGNORECASE
	flagM             // MULTILINE
	flagS             // DOTALL
	flagA             // ASCII
)

type reNode struct {
	op    reOp
	flags int
	r     rune // opLit
	cls   *reClass
	subs  []*reNode // opConcat, opAlt
	sub   *reNode   // opRepeat, opGroup, opLook, opAtomic
	min   int
	max   int // -1: unbounded
	lazy  bool
	group int  // opGroup (>0 captures), opBackref
	neg   bool // opLook
	back  bool // opLook: lookbehind
	width int  // opLook lookbehind: its fixed width in code points
	at    atKind
}

// Category escapes inside and outside classes.
type reCat uint8

const (
	catWord reCat = iota
	catNotWord
	catDigit
	catNotDigit
	catSpace
	catNotSpace
)

type reRange struct{ lo, hi rune }

type reClass struct {
	neg    bool
	ranges []reRange
	cats   []reCat
}

// maxRepeat is sre's MAXREPEAT-1 bound for {m,n} counts.
const maxRepeat = 1<<32 - 2

// pyreError is a refusal naming the construct.
func pyreError(p, format string, args ...any) error {
	return fmt.Errorf("%w: %q: %s", ErrPattern, p, fmt.Sprintf(format, args...))
}

type reParser struct {
	src     string
	s       []rune
	i       int
	flags   int
	ngroups int
	names   map[string]int
	open    map[int]bool // groups not yet closed (a backreference to one is an error)
}

// compilePyre parses a Python str pattern.
func compilePyre(p string) (*pyre, error) {
	if !utf8.ValidString(p) {
		return nil, pyreError(p, "not valid UTF-8")
	}
	ps := &reParser{src: p, s: []rune(p), names: map[string]int{}, open: map[int]bool{}}
	// Global flags: Python 3.11 accepts them only at the very start.
	if err := ps.globalFlags(); err != nil {
		return nil, err
	}
	n, err := ps.alt()
	if err != nil {
		return nil, err
	}
	if ps.i < len(ps.s) {
		// Only an unbalanced ')' stops alt before the end.
		return nil, pyreError(p, "unbalanced parenthesis at position %d", ps.i)
	}
	re := &pyre{root: n, ngroups: ps.ngroups, groupInRepeat: capturesInRepeat(n, false)}
	if ps.ngroups > 1 {
		return nil, pyreError(p, "%d capturing groups; scikit-learn allows at most one", ps.ngroups)
	}
	if ps.ngroups == 1 {
		re.group = 1
	}
	return re, nil
}

func (ps *reParser) errf(format string, args ...any) error {
	return pyreError(ps.src, format, args...)
}

func (ps *reParser) more() bool { return ps.i < len(ps.s) }
func (ps *reParser) peek() rune { return ps.s[ps.i] }
func (ps *reParser) has(s string) bool {
	r := []rune(s)
	if ps.i+len(r) > len(ps.s) {
		return false
	}
	for k, c := range r {
		if ps.s[ps.i+k] != c {
			return false
		}
	}
	return true
}

// flagBits maps an inline flag letter to its bit; u and L are accepted or
// refused by the caller.
func flagBit(c rune) (int, bool) {
	switch c {
	case 'i':
		return flagI, true
	case 'm':
		return flagM, true
	case 's':
		return flagS, true
	case 'a':
		return flagA, true
	}
	return 0, false
}

// globalFlags reads leading (?flags) groups.
func (ps *reParser) globalFlags() error {
	for ps.has("(?") {
		j := ps.i + 2
		var f int
		for j < len(ps.s) && ps.s[j] != ')' {
			c := ps.s[j]
			if b, ok := flagBit(c); ok {
				f |= b
			} else if c == 'u' {
			} else if c == 'x' {
				return ps.errf("the verbose flag (?x) is not supported; write the pattern without whitespace and comments")
			} else if c == 'L' {
				return ps.errf("the locale flag (?L) is not allowed in a str pattern")
			} else {
				return nil // not a global flag group: parsed as a group
			}
			j++
		}
		if j >= len(ps.s) {
			return ps.errf("missing ) after inline flags")
		}
		if f&flagA != 0 && strings.ContainsRune(string(ps.s[ps.i:j]), 'u') {
			return ps.errf("ASCII and UNICODE flags are incompatible")
		}
		ps.flags |= f
		ps.i = j + 1
	}
	return nil
}

func (ps *reParser) alt() (*reNode, error) {
	var branches []*reNode
	for {
		c, err := ps.concat()
		if err != nil {
			return nil, err
		}
		branches = append(branches, c)
		if ps.more() && ps.peek() == '|' {
			ps.i++
			continue
		}
		break
	}
	if len(branches) == 1 {
		return branches[0], nil
	}
	return &reNode{op: opAlt, subs: branches}, nil
}

func (ps *reParser) concat() (*reNode, error) {
	var items []*reNode
	for ps.more() {
		c := ps.peek()
		if c == '|' || c == ')' {
			break
		}
		atom, err := ps.atom()
		if err != nil {
			return nil, err
		}
		if atom == nil { // a comment or flags group
			continue
		}
		atom, err = ps.quantifier(atom)
		if err != nil {
			return nil, err
		}
		items = append(items, atom)
	}
	switch len(items) {
	case 0:
		return &reNode{op: opEmpty}, nil
	case 1:
		return items[0], nil
	}
	return &reNode{op: opConcat, subs: items}, nil
}

// repeatable reports whether Python lets a quantifier follow n.
func repeatable(n *reNode) bool {
	return n.op != opAt && n.op != opEmpty && n.op != opRepeat
}

func (ps *reParser) quantifier(atom *reNode) (*reNode, error) {
	for ps.more() {
		start := ps.i
		c := ps.peek()
		lo, hi := 0, 0
		switch c {
		case '*':
			lo, hi = 0, -1
			ps.i++
		case '+':
			lo, hi = 1, -1
			ps.i++
		case '?':
			lo, hi = 0, 1
			ps.i++
		case '{':
			l, h, n, ok := ps.braces()
			if !ok {
				return atom, nil // a literal '{'
			}
			if l > maxRepeat || h > maxRepeat {
				return nil, ps.errf("the repetition number is too large")
			}
			if h >= 0 && h < l {
				return nil, ps.errf("min repeat greater than max repeat at position %d", start)
			}
			lo, hi = l, h
			ps.i += n
		default:
			return atom, nil
		}
		if atom.op == opRepeat {
			return nil, ps.errf("multiple repeat at position %d", start)
		}
		if !repeatable(atom) {
			return nil, ps.errf("nothing to repeat at position %d", start)
		}
		n := &reNode{op: opRepeat, sub: atom, min: lo, max: hi}
		if ps.more() && ps.peek() == '?' {
			n.lazy = true
			ps.i++
		} else if ps.more() && ps.peek() == '+' {
			ps.i++
			atom = &reNode{op: opAtomic, sub: n} // possessive: (?>x*)
			// A possessive repeat is itself a repeat to Python.
			if ps.more() && strings.ContainsRune("*+?{", ps.peek()) {
				if ps.peek() != '{' || ps.bracesOK() {
					return nil, ps.errf("multiple repeat at position %d", ps.i)
				}
			}
			continue
		}
		atom = n
	}
	return atom, nil
}

func (ps *reParser) bracesOK() bool { _, _, _, ok := ps.braces(); return ok }

// braces reads {m}, {m,}, {,n} or {m,n} at ps.i without consuming it; ok
// is false when Python reads the brace as a literal.
func (ps *reParser) braces() (lo, hi, n int, ok bool) {
	j := ps.i + 1
	num := func() (int, bool, bool) {
		k := j
		for j < len(ps.s) && ps.s[j] >= '0' && ps.s[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false, true
		}
		v, err := strconv.ParseUint(string(ps.s[k:j]), 10, 64)
		if err != nil || v > maxRepeat {
			return maxRepeat + 1, true, true
		}
		return int(v), true, true
	}
	l, hasLo, _ := num()
	hi = l
	if j < len(ps.s) && ps.s[j] == ',' {
		j++
		h, hasHi, _ := num()
		hi = -1
		if hasHi {
			hi = h
		}
	} else if !hasLo {
		return 0, 0, 0, false
	}
	if j >= len(ps.s) || ps.s[j] != '}' {
		return 0, 0, 0, false
	}
	return l, hi, j + 1 - ps.i, true
}

func (ps *reParser) atom() (*reNode, error) {
	c := ps.s[ps.i]
	switch c {
	case '(':
		return ps.group()
	case '[':
		cls, err := ps.class()
		if err != nil {
			return nil, err
		}
		return &reNode{op: opClass, cls: cls, flags: ps.flags}, nil
	case '.':
		ps.i++
		return &reNode{op: opAny, flags: ps.flags}, nil
	case '^':
		ps.i++
		if ps.flags&flagM != 0 {
			return &reNode{op: opAt, at: atBeginLine}, nil
		}
		return &reNode{op: opAt, at: atBegin}, nil
	case '$':
		ps.i++
		if ps.flags&flagM != 0 {
			return &reNode{op: opAt, at: atEndLine}, nil
		}
		return &reNode{op: opAt, at: atEnd}, nil
	case '\\':
		return ps.escape()
	case '*', '+', '?':
		return nil, ps.errf("nothing to repeat at position %d", ps.i)
	case '{':
		if ps.bracesOK() {
			return nil, ps.errf("nothing to repeat at position %d", ps.i)
		}
	}
	ps.i++
	return ps.lit(c), nil
}

func (ps *reParser) lit(c rune) *reNode {
	return &reNode{op: opLit, r: c, flags: ps.flags}
}

func (ps *reParser) group() (*reNode, error) {
	start := ps.i
	ps.i++ // (
	if !ps.has("?") {
		ps.ngroups++
		g := ps.ngroups
		return ps.groupBody(start, &reNode{op: opGroup, group: g}, g)
	}
	ps.i++ // ?
	if !ps.more() {
		return nil, ps.errf("unexpected end of pattern")
	}
	c := ps.peek()
	switch {
	case c == ':':
		ps.i++
		return ps.groupBody(start, &reNode{op: opGroup}, 0)
	case c == 'P' && ps.has("P<"):
		ps.i += 2
		j := ps.i
		for j < len(ps.s) && ps.s[j] != '>' {
			j++
		}
		if j >= len(ps.s) {
			return nil, ps.errf("missing >, unterminated name")
		}
		name := string(ps.s[ps.i:j])
		if !validGroupName(name) {
			return nil, ps.errf("bad character in group name %q", name)
		}
		if _, dup := ps.names[name]; dup {
			return nil, ps.errf("redefinition of group name %q", name)
		}
		ps.i = j + 1
		ps.ngroups++
		ps.names[name] = ps.ngroups
		return ps.groupBody(start, &reNode{op: opGroup, group: ps.ngroups}, ps.ngroups)
	case c == 'P' && ps.has("P="):
		ps.i += 2
		j := ps.i
		for j < len(ps.s) && ps.s[j] != ')' {
			j++
		}
		if j >= len(ps.s) {
			return nil, ps.errf("missing ), unterminated name")
		}
		name := string(ps.s[ps.i:j])
		g, ok := ps.names[name]
		if !ok {
			return nil, ps.errf("unknown group name %q", name)
		}
		if ps.open[g] {
			return nil, ps.errf("cannot refer to an open group")
		}
		ps.i = j + 1
		return &reNode{op: opBackref, group: g, flags: ps.flags}, nil
	case c == '#':
		for ps.more() && ps.peek() != ')' {
			ps.i++
		}
		if !ps.more() {
			return nil, ps.errf("missing ), unterminated comment")
		}
		ps.i++
		return nil, nil
	case c == '=' || c == '!':
		ps.i++
		return ps.groupBody(start, &reNode{op: opLook, neg: c == '!'}, 0)
	case c == '<' && (ps.has("<=") || ps.has("<!")):
		neg := ps.s[ps.i+1] == '!'
		ps.i += 2
		n, err := ps.groupBody(start, &reNode{op: opLook, neg: neg, back: true}, 0)
		if err != nil {
			return nil, err
		}
		w, ok := fixedWidth(n.sub)
		if !ok {
			return nil, ps.errf("look-behind requires fixed-width pattern")
		}
		n.width = w
		return n, nil
	case c == '>':
		ps.i++
		return ps.groupBody(start, &reNode{op: opAtomic}, 0)
	case c == '(':
		return nil, ps.errf("a conditional group (?(...)...) is not supported")
	case c == 'P':
		return nil, ps.errf("unknown extension ?P%c", ps.s[min(ps.i+1, len(ps.s)-1)])
	case c == '<':
		return nil, ps.errf("unknown extension ?<")
	}
	// Scoped flags (?i:...), (?-i:...), (?i-s:...); a global (?i) here is
	// an error in Python 3.11.
	var on, off int
	neg := false
	for ps.more() {
		c := ps.peek()
		if c == ':' || c == ')' {
			break
		}
		ps.i++
		if c == '-' {
			if neg {
				return nil, ps.errf("bad inline flags")
			}
			neg = true
			continue
		}
		b, ok := flagBit(c)
		switch {
		case c == 'u' && !neg:
			continue
		case c == 'x':
			return nil, ps.errf("the verbose flag (?x) is not supported; write the pattern without whitespace and comments")
		case c == 'L':
			return nil, ps.errf("the locale flag (?L) is not allowed in a str pattern")
		case !ok || (neg && c == 'a'):
			return nil, ps.errf("unknown flag %q at position %d", c, ps.i-1)
		}
		if neg {
			off |= b
		} else {
			on |= b
		}
	}
	if !ps.more() {
		return nil, ps.errf("missing -, : or )")
	}
	if ps.peek() == ')' {
		return nil, ps.errf("global flags not at the start of the expression at position %d", start)
	}
	if neg && off == 0 {
		return nil, ps.errf("missing flag")
	}
	ps.i++ // :
	saved := ps.flags
	ps.flags = (ps.flags | on) &^ off
	n, err := ps.groupBody(start, &reNode{op: opGroup}, 0)
	ps.flags = saved
	return n, err
}

func validGroupName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)))) {
			return false
		}
	}
	return true
}

// groupBody parses up to the closing parenthesis into n.sub.
func (ps *reParser) groupBody(start int, n *reNode, capture int) (*reNode, error) {
	if capture > 0 {
		ps.open[capture] = true
	}
	saved := ps.flags
	sub, err := ps.alt()
	ps.flags = saved
	if err != nil {
		return nil, err
	}
	if !ps.more() || ps.peek() != ')' {
		return nil, ps.errf("missing ), unterminated subpattern at position %d", start)
	}
	ps.i++
	if capture > 0 {
		delete(ps.open, capture)
	}
	n.sub = sub
	return n, nil
}

// fixedWidth is the width in code points of what n matches, if fixed.
func fixedWidth(n *reNode) (int, bool) {
	switch n.op {
	case opEmpty, opAt, opLook:
		return 0, true
	case opLit, opAny, opClass:
		return 1, true
	case opConcat:
		w := 0
		for _, s := range n.subs {
			x, ok := fixedWidth(s)
			if !ok {
				return 0, false
			}
			w += x
		}
		return w, true
	case opAlt:
		w := -1
		for _, s := range n.subs {
			x, ok := fixedWidth(s)
			if !ok || (w >= 0 && x != w) {
				return 0, false
			}
			w = x
		}
		return w, true
	case opRepeat:
		if n.max != n.min {
			return 0, false
		}
		x, ok := fixedWidth(n.sub)
		return x * n.min, ok
	case opGroup, opAtomic:
		return fixedWidth(n.sub)
	}
	return 0, false // backreference
}

// escape reads an escape outside a class.
func (ps *reParser) escape() (*reNode, error) {
	ps.i++ // backslash
	if !ps.more() {
		return nil, ps.errf("bad escape (end of pattern)")
	}
	c := ps.peek()
	ps.i++
	at := func(k atKind) (*reNode, error) { return &reNode{op: opAt, at: k, flags: ps.flags}, nil }
	switch c {
	case 'A':
		return at(atBeginText)
	case 'Z':
		return at(atEndText)
	case 'b':
		return at(atBoundary)
	case 'B':
		return at(atNonBoundary)
	case 'w', 'W', 'd', 'D', 's', 'S':
		return &reNode{op: opClass, flags: ps.flags, cls: &reClass{cats: []reCat{catOf(c)}}}, nil
	}
	if c >= '1' && c <= '9' {
		// A backreference, or an octal escape of three digits.
		j := ps.i - 1
		k := j
		for k < len(ps.s) && k < j+3 && ps.s[k] >= '0' && ps.s[k] <= '7' {
			k++
		}
		if k == j+3 && ps.s[j] <= '3' {
			v, _ := strconv.ParseUint(string(ps.s[j:k]), 8, 32)
			ps.i = k
			return ps.lit(rune(v)), nil
		}
		k = j
		for k < len(ps.s) && k < j+2 && ps.s[k] >= '0' && ps.s[k] <= '9' {
			k++
		}
		g, _ := strconv.Atoi(string(ps.s[j:k]))
		ps.i = k
		if g > ps.ngroups {
			return nil, ps.errf("invalid group reference %d", g)
		}
		if ps.open[g] {
			return nil, ps.errf("cannot refer to an open group")
		}
		return &reNode{op: opBackref, group: g, flags: ps.flags}, nil
	}
	r, err := ps.charEscape(c)
	if err != nil {
		return nil, err
	}
	return ps.lit(r), nil
}

func catOf(c rune) reCat {
	return map[rune]reCat{'w': catWord, 'W': catNotWord, 'd': catDigit, 'D': catNotDigit, 's': catSpace, 'S': catNotSpace}[c]
}

// charEscape reads the escapes that stand for one character, in and out
// of classes; c (already consumed) follows the backslash.
func (ps *reParser) charEscape(c rune) (rune, error) {
	switch c {
	case 'a':
		return '\a', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case '\\':
		return '\\', nil
	case 'x', 'u', 'U':
		n := map[rune]int{'x': 2, 'u': 4, 'U': 8}[c]
		if ps.i+n > len(ps.s) {
			return 0, ps.errf("incomplete escape \\%c", c)
		}
		v, err := strconv.ParseUint(string(ps.s[ps.i:ps.i+n]), 16, 32)
		if err != nil {
			return 0, ps.errf("incomplete escape \\%c%s", c, string(ps.s[ps.i:ps.i+n]))
		}
		if v > unicode.MaxRune {
			return 0, ps.errf("bad escape \\%c%s", c, string(ps.s[ps.i:ps.i+n]))
		}
		ps.i += n
		return rune(v), nil
	case 'N':
		return 0, ps.errf(`a named character escape \N{...} is not supported; write the character itself`)
	case '0':
		j := ps.i
		for ps.i < len(ps.s) && ps.i < j+2 && ps.s[ps.i] >= '0' && ps.s[ps.i] <= '7' {
			ps.i++
		}
		v, _ := strconv.ParseUint("0"+string(ps.s[j:ps.i]), 8, 32)
		return rune(v), nil
	}
	if c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
		return 0, ps.errf("bad escape \\%c", c)
	}
	return c, nil
}

// class reads a [...] set.
func (ps *reParser) class() (*reClass, error) {
	start := ps.i
	ps.i++ // [
	cls := &reClass{}
	if ps.more() && ps.peek() == '^' {
		cls.neg = true
		ps.i++
	}
	first := true
	for {
		if !ps.more() {
			return nil, ps.errf("unterminated character set at position %d", start)
		}
		c := ps.peek()
		if c == ']' && !first {
			ps.i++
			return cls, nil
		}
		first = false
		lo, isCat, err := ps.classAtom(cls)
		if err != nil {
			return nil, err
		}
		if isCat {
			continue
		}
		if ps.i+1 < len(ps.s) && ps.peek() == '-' && ps.s[ps.i+1] != ']' {
			ps.i++
			hi, isCat, err := ps.classAtom(cls)
			if err != nil {
				return nil, err
			}
			if isCat {
				return nil, ps.errf("bad character range at position %d", ps.i)
			}
			if hi < lo {
				return nil, ps.errf("bad character range %c-%c", lo, hi)
			}
			cls.ranges = append(cls.ranges, reRange{lo, hi})
			continue
		}
		cls.ranges = append(cls.ranges, reRange{lo, lo})
	}
}

// classAtom reads one member of a set: a character, or a category escape
// added to cls (isCat).
func (ps *reParser) classAtom(cls *reClass) (r rune, isCat bool, err error) {
	c := ps.peek()
	ps.i++
	if c != '\\' {
		return c, false, nil
	}
	if !ps.more() {
		return 0, false, ps.errf("bad escape (end of pattern)")
	}
	e := ps.peek()
	ps.i++
	switch e {
	case 'w', 'W', 'd', 'D', 's', 'S':
		cls.cats = append(cls.cats, catOf(e))
		return 0, true, nil
	case 'b':
		return '\b', false, nil
	}
	if e >= '1' && e <= '7' {
		j := ps.i - 1
		for ps.i < len(ps.s) && ps.i < j+3 && ps.s[ps.i] >= '0' && ps.s[ps.i] <= '7' {
			ps.i++
		}
		v, _ := strconv.ParseUint(string(ps.s[j:ps.i]), 8, 32)
		if v > 0o377 {
			return 0, false, ps.errf("octal escape value \\%s outside of range 0-0o377", string(ps.s[j:ps.i]))
		}
		return rune(v), false, nil
	}
	if e >= '8' && e <= '9' {
		return 0, false, ps.errf("bad escape \\%c", e)
	}
	r, err = ps.charEscape(e)
	return r, false, err
}

// extraCases is CPython 3.11's re._casefix._EXTRA_CASES: characters that
// match each other under IGNORECASE although their simple lowercase
// mappings differ (i and dotless ı, s and long ſ, Greek symbol variants,
// Cyrillic historic forms, the st ligatures).
var extraCases = map[rune][]rune{
	105: {305}, 115: {383}, 181: {956}, 305: {105}, 383: {115}, 837: {953, 8126}, 912: {8147}, 944: {8163},
	946: {976}, 949: {1013}, 952: {977}, 953: {837, 8126}, 954: {1008}, 956: {181}, 960: {982}, 961: {1009},
	962: {963}, 963: {962}, 966: {981}, 976: {946}, 977: {952}, 981: {966}, 982: {960}, 1008: {954}, 1009: {961},
	1013: {949}, 1074: {7296}, 1076: {7297}, 1086: {7298}, 1089: {7299}, 1090: {7300, 7301}, 1098: {7302},
	1123: {7303}, 7296: {1074}, 7297: {1076}, 7298: {1086}, 7299: {1089}, 7300: {1090, 7301}, 7301: {1090, 7300},
	7302: {1098}, 7303: {1123}, 7304: {42571}, 7777: {7835}, 7835: {7777}, 8126: {837, 953}, 8147: {912},
	8163: {944}, 42571: {7304}, 64261: {64262}, 64262: {64261},
}

// pyLower is sre's lower(): the simple lowercase mapping (ASCII only with
// (?a)).
func pyLower(r rune, flags int) rune {
	if flags&flagA != 0 {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

// pyCasedRune is sre's iscased: lower or upper differs from the character.
func pyCasedRune(r rune, flags int) bool {
	if flags&flagA != 0 {
		return (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')
	}
	return unicode.ToLower(r) != r || unicode.ToUpper(r) != r
}

// litMatch is LITERAL, LITERAL_UNI_IGNORE and IN_UNI_IGNORE of a literal.
func litMatch(n *reNode, c rune) bool {
	if c == n.r {
		return true
	}
	if n.flags&flagI == 0 || !pyCasedRune(n.r, n.flags) {
		return false
	}
	lo, x := pyLower(n.r, n.flags), pyLower(c, n.flags)
	if x == lo {
		return true
	}
	if n.flags&flagA == 0 {
		for _, e := range extraCases[lo] {
			if x == e {
				return true
			}
		}
	}
	return false
}

func catMatch(k reCat, c rune, ascii bool) bool {
	switch k {
	case catWord, catNotWord:
		w := IsPyWord(c)
		if ascii {
			w = c < utf8.RuneSelf && IsPyWord(c)
		}
		return w == (k == catWord)
	case catDigit, catNotDigit:
		d := unicode.Is(unicode.Nd, c)
		if ascii {
			d = c >= '0' && c <= '9'
		}
		return d == (k == catDigit)
	}
	s := IsPySpace(c)
	if ascii {
		s = c == ' ' || (c >= '\t' && c <= '\r')
	}
	return s == (k == catSpace)
}

// rawContains is membership of c in the set's ranges, as written.
func (cl *reClass) rawContains(c rune) bool {
	for _, r := range cl.ranges {
		if c >= r.lo && c <= r.hi {
			return true
		}
	}
	return false
}

// classMatch is IN and IN_UNI_IGNORE: with IGNORECASE, sre tests the
// lowercased character against the set of the members' lowercase forms and
// their extra cases, and the categories against the lowercased character.
func classMatch(n *reNode, c rune) bool {
	cl := n.cls
	ascii := n.flags&flagA != 0
	if n.flags&flagI == 0 {
		in := cl.rawContains(c)
		for _, k := range cl.cats {
			in = in || catMatch(k, c, ascii)
		}
		return in != cl.neg
	}
	x := pyLower(c, n.flags)
	in := false
	for _, k := range cl.cats {
		in = in || catMatch(k, x, ascii)
	}
	if !in {
		in = cl.lowerHas(x, n.flags)
		if !in && !ascii {
			for _, e := range extraCases[x] {
				if cl.lowerHas(e, n.flags) {
					in = true
					break
				}
			}
		}
	}
	return in != cl.neg
}

// lowerHas reports whether some member m of the set's ranges has
// lower(m) == y. The characters whose simple lowercase is y are y, its
// case-fold orbit members that lower to it, and U+0130 for i.
func (cl *reClass) lowerHas(y rune, flags int) bool {
	if pyLower(y, flags) == y && cl.rawContains(y) {
		return true
	}
	if flags&flagA != 0 {
		return y >= 'a' && y <= 'z' && cl.rawContains(y-'a'+'A')
	}
	for f := unicode.SimpleFold(y); f != y; f = unicode.SimpleFold(f) {
		if unicode.ToLower(f) == y && cl.rawContains(f) {
			return true
		}
	}
	return y == 'i' && cl.rawContains(0x130)
}

// reMatcher holds one search's state.
type reMatcher struct {
	re    *pyre
	text  []rune
	caps  []int // 2 per group, -1 when unset
	steps int
	limit int
	ctx   context.Context
	err   error
}

// errBudget stops a match that ran out of steps or whose context is done.
func (m *reMatcher) tick() bool {
	m.steps++
	if m.steps > m.limit {
		if m.err == nil {
			m.err = fmt.Errorf("%w: matching needed more than %d steps on a text of %d characters (catastrophic backtracking)",
				ErrPattern, m.limit, len(m.text))
		}
		return false
	}
	if m.steps&4095 == 0 && m.ctx != nil {
		if err := m.ctx.Err(); err != nil {
			m.err = err
			return false
		}
	}
	return true
}

func isWordAt(text []rune, i int, ascii bool) bool {
	if i < 0 || i >= len(text) {
		return false
	}
	return catMatch(catWord, text[i], ascii)
}

func (m *reMatcher) atMatch(n *reNode, i int) bool {
	t := m.text
	switch n.at {
	case atBegin, atBeginText:
		return i == 0
	case atBeginLine:
		return i == 0 || t[i-1] == '\n'
	case atEnd:
		return i == len(t) || (i == len(t)-1 && t[i] == '\n')
	case atEndLine:
		return i == len(t) || t[i] == '\n'
	case atEndText:
		return i == len(t)
	case atBoundary, atNonBoundary:
		if len(t) == 0 {
			return false
		}
		a := n.flags&flagA != 0
		b := isWordAt(t, i-1, a) != isWordAt(t, i, a)
		return b == (n.at == atBoundary)
	}
	return false
}

// match matches n at i and calls k with the end; it returns what k
// returned on the first success, false when no way through n satisfies k.
func (m *reMatcher) match(n *reNode, i int, k func(int) bool) bool {
	if !m.tick() {
		return false
	}
	t := m.text
	switch n.op {
	case opEmpty:
		return k(i)
	case opLit:
		return i < len(t) && litMatch(n, t[i]) && k(i+1)
	case opAny:
		return i < len(t) && (t[i] != '\n' || n.flags&flagS != 0) && k(i+1)
	case opClass:
		return i < len(t) && classMatch(n, t[i]) && k(i+1)
	case opAt:
		return m.atMatch(n, i) && k(i)
	case opConcat:
		return m.seq(n.subs, i, k)
	case opAlt:
		for _, s := range n.subs {
			if m.match(s, i, k) {
				return true
			}
			if m.err != nil {
				return false
			}
		}
		return false
	case opGroup:
		if n.group == 0 {
			return m.match(n.sub, i, k)
		}
		g := n.group
		return m.match(n.sub, i, func(e int) bool {
			s0, e0 := m.caps[2*g], m.caps[2*g+1]
			m.caps[2*g], m.caps[2*g+1] = i, e
			if k(e) {
				return true
			}
			m.caps[2*g], m.caps[2*g+1] = s0, e0
			return false
		})
	case opRepeat:
		return m.repeat(n, 0, i, -1, k)
	case opAtomic:
		end := -1
		saved := append([]int(nil), m.caps...)
		if !m.match(n.sub, i, func(e int) bool { end = e; return true }) {
			return false
		}
		if k(end) {
			return true
		}
		copy(m.caps, saved)
		return false
	case opLook:
		start := i
		if n.back {
			start = i - n.width
			if start < 0 {
				return !m.err0() && n.neg && k(i)
			}
		}
		saved := append([]int(nil), m.caps...)
		ok := m.match(n.sub, start, func(e int) bool { return !n.back || e == i })
		if m.err != nil {
			return false
		}
		if ok == n.neg {
			copy(m.caps, saved)
			return false
		}
		if n.neg {
			copy(m.caps, saved)
		}
		if k(i) {
			return true
		}
		copy(m.caps, saved)
		return false
	case opBackref:
		s, e := m.caps[2*n.group], m.caps[2*n.group+1]
		if s < 0 {
			return false
		}
		if i+(e-s) > len(t) {
			return false
		}
		for j := 0; j < e-s; j++ {
			a, b := t[s+j], t[i+j]
			if a != b && (n.flags&flagI == 0 || pyLower(a, n.flags) != pyLower(b, n.flags)) {
				return false
			}
		}
		return k(i + e - s)
	}
	return false
}

func (m *reMatcher) err0() bool { return m.err != nil }

func (m *reMatcher) seq(subs []*reNode, i int, k func(int) bool) bool {
	if len(subs) == 0 {
		return k(i)
	}
	return m.match(subs[0], i, func(e int) bool { return m.seq(subs[1:], e, k) })
}

// repeat matches iterations count.. of n from i; last is where the previous
// iteration started. As sre's MAX_UNTIL/MIN_UNTIL, an iteration that
// matched nothing ends the loop once min is reached.
func (m *reMatcher) repeat(n *reNode, count, i, last int, k func(int) bool) bool {
	canMore := (n.max < 0 || count < n.max) && (count < n.min || i != last)
	iterate := func() bool {
		return m.match(n.sub, i, func(e int) bool { return m.repeat(n, count+1, e, i, k) })
	}
	if count < n.min {
		return canMore && iterate()
	}
	if n.lazy {
		if k(i) {
			return true
		}
		return m.err == nil && canMore && iterate()
	}
	if canMore && iterate() {
		return true
	}
	return m.err == nil && k(i)
}

// findAll calls emit with the byte offsets of each token in text, as
// Python's findall returns them (group 1 when the pattern has one group,
// "" for a group that did not take part).
func (re *pyre) findAll(ctx context.Context, text []byte, emit func(start, end int)) error {
	runes := make([]rune, 0, len(text))
	offs := make([]int, 0, len(text)+1)
	for i, r := range string(text) {
		runes = append(runes, r)
		offs = append(offs, i)
	}
	offs = append(offs, len(text))
	m := &reMatcher{re: re, text: runes, caps: make([]int, 2*(re.ngroups+1)), ctx: ctx,
		limit: 1_000_000 + 1_000*len(runes)}
	mustAdvance := false
	for pos := 0; pos <= len(runes); {
		found, end := -1, -1
		for s := pos; s <= len(runes); s++ {
			for j := range m.caps {
				m.caps[j] = -1
			}
			start := s
			if m.match(re.root, s, func(e int) bool {
				if mustAdvance && start == pos && e == pos {
					return false
				}
				end = e
				return true
			}) {
				found = s
				break
			}
			if m.err != nil {
				return m.err
			}
		}
		if found < 0 {
			return nil
		}
		if re.group > 0 {
			gs, ge := m.caps[2], m.caps[3]
			if gs < 0 {
				emit(offs[found], offs[found])
			} else {
				emit(offs[gs], offs[ge])
			}
		} else {
			emit(offs[found], offs[end])
		}
		mustAdvance = end == found
		pos = end
	}
	return nil
}

// capturesInRepeat reports whether a capturing group occurs under a
// quantifier in n (in is whether n itself is under one).
func capturesInRepeat(n *reNode, in bool) bool {
	if n == nil {
		return false
	}
	if n.op == opGroup && n.group > 0 && in {
		return true
	}
	in = in || n.op == opRepeat
	for _, s := range n.subs {
		if capturesInRepeat(s, in) {
			return true
		}
	}
	return capturesInRepeat(n.sub, in)
}
