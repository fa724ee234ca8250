package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlserve/mlserve/api"
)

// ANSI colours of the rendering: a span that pushes towards the explained
// class on green, one that pushes away on red.
const (
	ansiFor     = "\x1b[30;42m"
	ansiAgainst = "\x1b[37;41m"
	ansiReset   = "\x1b[0m"
)

// colorOut says whether w is a terminal that should get colour: not when
// NO_COLOR is set (https://no-color.org), nor when w is not a character
// device (a pipe, a file).
func colorOut(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// renderExplanation writes ex for text: the text with each code point
// marked by the sign of the contributions whose spans cover it (colour on
// a terminal; [+ ...] and [- ...] otherwise), then the contributions, one a
// line, and the sum they make.
func renderExplanation(w io.Writer, text string, ex *api.Explanation, color bool) {
	r := []rune(text)
	score := make([]float64, len(r))
	for _, c := range ex.Contributions {
		for _, s := range c.Spans {
			for i := max(s.Start, 0); i < min(s.End, len(r)); i++ {
				score[i] += c.Value
			}
		}
	}
	sign := func(x float64) int {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}
	var b strings.Builder
	b.WriteString("  ")
	cur := 0
	open := func(s int) {
		switch {
		case s > 0 && color:
			b.WriteString(ansiFor)
		case s < 0 && color:
			b.WriteString(ansiAgainst)
		case s > 0:
			b.WriteString("[+")
		case s < 0:
			b.WriteString("[-")
		}
	}
	closeSpan := func(s int) {
		if s == 0 {
			return
		}
		if color {
			b.WriteString(ansiReset)
		} else {
			b.WriteString("]")
		}
	}
	for i, c := range r {
		if s := sign(score[i]); s != cur {
			closeSpan(cur)
			open(s)
			cur = s
		}
		switch c {
		case '\n':
			closeSpan(cur)
			b.WriteString("\n  ")
			open(cur)
		case '\r', '\t':
			b.WriteRune(' ')
		default:
			b.WriteRune(c)
		}
	}
	closeSpan(cur)
	fmt.Fprintln(w, b.String())
	kind := ex.Method
	if ex.Approximate {
		kind += ", approximate"
	}
	fmt.Fprintf(w, "  %s of %q = %.4f (%s)\n", ex.Score, ex.Class, ex.Value, kind)
	width := 0
	for _, c := range ex.Contributions {
		width = max(width, len([]rune(c.Feature)))
	}
	width = min(width, 40)
	for _, c := range ex.Contributions {
		mark := "+"
		if c.Value < 0 {
			mark = "-"
		}
		line := fmt.Sprintf("  %s %-*s %+.4f", mark, width, c.Feature, c.Value)
		if len(c.Hashed) > 1 {
			line += "  (hashed with " + strings.Join(c.Hashed[1:], ", ") + ")"
		}
		if color && c.Value != 0 {
			col := ansiFor
			if c.Value < 0 {
				col = ansiAgainst
			}
			line = "  " + col + mark + ansiReset + line[3:]
		}
		fmt.Fprintln(w, line)
	}
	if ex.Method == "exact" {
		fmt.Fprintf(w, "  base %+.4f, %d other features %+.4f\n", ex.Base, max(ex.Features-len(ex.Contributions), 0), ex.Rest)
	} else if n := ex.Features - len(ex.Contributions); n > 0 {
		fmt.Fprintf(w, "  %d other words\n", n)
	}
}
