package preprocess

import (
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"gopkg.in/yaml.v3"
)

// StepSpec is one cleaning step as declared in model.yaml's preprocessing
// list: either a bare step name or a one-key map from the name to its
// options.
//
//	preprocessing:
//	  - strip_html
//	  - unicode_normalize: {form: NFKC}
//	  - lowercase
//	  - remove_special_chars: {keep: "'-!?"}
//	  - collapse_whitespace
//	  - truncate: {max_chars: 5000}
type StepSpec struct {
	// Name is the step name.
	Name string
	// Options are the step's options, by name; nil for a bare step.
	Options map[string]yaml.Node
}

// UnmarshalYAML reads either item form.
func (s *StepSpec) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		s.Name, s.Options = n.Value, nil
		return nil
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return fmt.Errorf("%w: line %d: a preprocessing step is one name or a map with one key", ErrConfig, n.Line)
		}
		s.Name = n.Content[0].Value
		opts := n.Content[1]
		switch opts.Kind {
		case yaml.MappingNode:
			s.Options = make(map[string]yaml.Node, len(opts.Content)/2)
			for i := 0; i+1 < len(opts.Content); i += 2 {
				s.Options[opts.Content[i].Value] = *opts.Content[i+1]
			}
		case yaml.ScalarNode:
			if opts.Tag != "!!null" {
				return fmt.Errorf("%w: line %d: options of step %q must be a map", ErrConfig, n.Line, s.Name)
			}
		default:
			return fmt.Errorf("%w: line %d: options of step %q must be a map", ErrConfig, n.Line, s.Name)
		}
		return nil
	}
	return fmt.Errorf("%w: line %d: a preprocessing step is one name or a map with one key", ErrConfig, n.Line)
}

// Cleaner applies a model's cleaning steps in order. Safe for concurrent
// use.
type Cleaner struct {
	steps []func(string) string
	names []string
}

// NewCleaner builds the steps. The known steps are:
//
//   - lowercase: Python's str.lower (see Lower).
//   - unicode_normalize {form: NFC|NFKC|NFD|NFKD}: Unicode normalization,
//     NFKC by default.
//   - strip_html: removes tags (<...>), comments, and the content of script
//     and style elements, then decodes HTML entities (&amp; -> &). A removed
//     tag leaves nothing behind, as re.sub(r"<[^>]+>", "", text) would.
//   - remove_special_chars {keep: "chars"}: drops every character that is
//     not a letter, a digit (Unicode N*), Python whitespace, or one of keep.
//   - collapse_whitespace: replaces every run of Python whitespace with one
//     space and trims both ends.
//   - truncate {max_chars: N}: keeps the first N code points (N > 0).
//
// An unknown step or option, or a bad option value, is an error naming it.
func NewCleaner(specs []StepSpec) (*Cleaner, error) {
	c := &Cleaner{}
	for i, s := range specs {
		f, err := buildStep(s)
		if err != nil {
			return nil, fmt.Errorf("preprocessing step %d (%s): %w", i+1, s.Name, err)
		}
		c.steps = append(c.steps, f)
		c.names = append(c.names, s.Name)
	}
	return c, nil
}

// Steps returns the step names in order.
func (c *Cleaner) Steps() []string { return append([]string(nil), c.names...) }

// Clean applies every step to text.
func (c *Cleaner) Clean(text string) string {
	for _, f := range c.steps {
		text = f(text)
	}
	return text
}

// options decodes the allowed options of a step, refusing unknown ones.
func options(s StepSpec, allowed ...string) (map[string]*yaml.Node, error) {
	out := map[string]*yaml.Node{}
	for k, v := range s.Options {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, fmt.Errorf("%w: unknown option %q", ErrConfig, k)
		}
		out[k] = &v
	}
	return out, nil
}

func buildStep(s StepSpec) (func(string) string, error) {
	switch s.Name {
	case "lowercase":
		if _, err := options(s); err != nil {
			return nil, err
		}
		return Lower, nil
	case "unicode_normalize":
		o, err := options(s, "form")
		if err != nil {
			return nil, err
		}
		form := "NFKC"
		if n := o["form"]; n != nil {
			if err := n.Decode(&form); err != nil {
				return nil, fmt.Errorf("%w: form: %v", ErrConfig, err)
			}
		}
		f, ok := map[string]norm.Form{"NFC": norm.NFC, "NFKC": norm.NFKC, "NFD": norm.NFD, "NFKD": norm.NFKD}[strings.ToUpper(form)]
		if !ok {
			return nil, fmt.Errorf("%w: form %q (want NFC, NFKC, NFD or NFKD)", ErrConfig, form)
		}
		return f.String, nil
	case "strip_html":
		if _, err := options(s); err != nil {
			return nil, err
		}
		return StripHTML, nil
	case "remove_special_chars":
		o, err := options(s, "keep")
		if err != nil {
			return nil, err
		}
		var keep string
		if n := o["keep"]; n != nil {
			if err := n.Decode(&keep); err != nil {
				return nil, fmt.Errorf("%w: keep: %v", ErrConfig, err)
			}
		}
		return func(t string) string { return removeSpecial(t, keep) }, nil
	case "collapse_whitespace":
		if _, err := options(s); err != nil {
			return nil, err
		}
		return CollapseWhitespace, nil
	case "truncate":
		o, err := options(s, "max_chars")
		if err != nil {
			return nil, err
		}
		n := o["max_chars"]
		if n == nil {
			return nil, fmt.Errorf("%w: truncate needs max_chars", ErrConfig)
		}
		var max int
		if err := n.Decode(&max); err != nil || max < 1 {
			return nil, fmt.Errorf("%w: max_chars %q must be a positive integer", ErrConfig, n.Value)
		}
		return func(t string) string { return Truncate(t, max) }, nil
	case "":
		return nil, fmt.Errorf("%w: empty step name", ErrConfig)
	}
	return nil, fmt.Errorf("%w: unknown step %q", ErrConfig, s.Name)
}

// StripHTML removes tags, comments and script/style content, then decodes
// entities.
func StripHTML(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		rest := s[i:]
		if strings.HasPrefix(rest, "<!--") {
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		// A '<' not followed by a tag start is text ("a < b").
		if len(rest) < 2 || !(isASCIILetter(rest[1]) || rest[1] == '/' || rest[1] == '!' || rest[1] == '?') {
			b.WriteByte('<')
			i++
			continue
		}
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			// An unterminated tag runs to the end of the text.
			break
		}
		tag := strings.ToLower(tagName(rest[1:end]))
		i += end + 1
		if tag == "script" || tag == "style" {
			closing := "</" + tag
			k := strings.Index(strings.ToLower(s[i:]), closing)
			if k < 0 {
				i = len(s)
				continue
			}
			i += k
		}
	}
	return html.UnescapeString(b.String())
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// tagName returns the element name at the start of a tag's inside.
func tagName(in string) string {
	j := 0
	for j < len(in) && (isASCIILetter(in[j]) || (in[j] >= '0' && in[j] <= '9')) {
		j++
	}
	return in[:j]
}

// removeSpecial keeps letters, digits, Python whitespace and keep.
func removeSpecial(s, keep string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || IsPySpace(r) || (r < utf8.RuneSelf && strings.IndexByte(keep, byte(r)) >= 0) || (r >= utf8.RuneSelf && strings.ContainsRune(keep, r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CollapseWhitespace replaces runs of Python whitespace with one space and
// trims both ends, as " ".join(text.split()).
func CollapseWhitespace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if IsPySpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Truncate keeps the first max code points of s.
func Truncate(s string, max int) string {
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}
