package preprocess

import (
	"errors"
	"slices"
	"testing"
)

func TestTokenPatternRefused(t *testing.T) {
	for _, p := range []string{
		// Lookaround, \B, backreferences, (?i), (?a), \b anywhere, [\W],
		// [\S], empty matches, $ and atomic groups are matched by pyre now
		// (TestPyreRecorded); these remain refused.
		`(?x)\w+`, `(\w+) (\w+)`, `[abc`, `\N{DASH}`, `(?(1)a|b)`, `(?<=a+)b`, `a(?i)b`,
	} {
		t.Run(p, func(t *testing.T) {
			_, err := NewAnalyzer(AnalyzerConfig{TokenPattern: p})
			if !errors.Is(err, ErrPattern) {
				t.Fatalf("NewAnalyzer(%q) err = %v, want ErrPattern", p, err)
			}
		})
	}
}

func TestTokenPatternTranslated(t *testing.T) {
	for _, c := range []struct {
		pattern, text string
		want          []string
	}{
		{`\S+`, "a\x1cb c\u00a0d", []string{"a", "b", "c", "d"}},
		{`\d+`, "x 12 ٣٤ ½", []string{"12", "٣٤"}},
		{`[\w']+`, "don't é_1", []string{"don't", "é_1"}},
		{`(\w+)@\w+`, "me@x you@y", []string{"me", "you"}},
		{`\w{2,}`, "a bb ccc", []string{"bb", "ccc"}},
		{`a{,x}`, "a{,x}", []string{"a{,x}"}},
		{`x\ y{,2}`, "x yyy x", []string{"x yy"}},
		{`[^\w\s]+`, "a!? b\x1c--", []string{"!?", "--"}},
		{`(?u)\b\w\w+\b`, "e\u0301t\u00e9 x yz", []string{"té", "yz"}}, // U+0301 is not \w: "e" is a 1-char token,
	} {
		t.Run(c.pattern, func(t *testing.T) {
			a, err := NewAnalyzer(AnalyzerConfig{TokenPattern: c.pattern})
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Analyze(c.text); !slices.Equal(got, c.want) {
				t.Errorf("%q on %q = %q, want %q", c.pattern, c.text, got, c.want)
			}
		})
	}
}

func TestAnalyzerConfigErrors(t *testing.T) {
	for name, cfg := range map[string]AnalyzerConfig{
		"ngram order":   {NgramMin: 3, NgramMax: 2},
		"ngram zero":    {NgramMin: 0, NgramMax: 2},
		"accents":       {StripAccents: "latin"},
		"callable kind": {Kind: "custom_fn"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewAnalyzer(cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestMurmur3(t *testing.T) {
	// Reference values of the published MurmurHash3_x86_32 test vectors.
	for _, c := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0}, {"", 1, 0x514e28b7}, {"\xff\xff\xff\xff", 0, 0x76293b50},
		{"!Ce\x87", 0, 0xf55b516b}, {"!Ce", 0, 0x7e4a8634}, {"!C", 0, 0xa0f7b07a}, {"!", 0, 0x72661cf4},
		{"Hello, world!", 0x9747b28c, 0x24884cba},
	} {
		if got := Murmur3([]byte(c.in), c.seed); got != c.want {
			t.Errorf("Murmur3(%q, %#x) = %#x, want %#x", c.in, c.seed, got, c.want)
		}
	}
}
