package preprocess

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func mustAnalyzer(t testing.TB, cfg AnalyzerConfig) *Analyzer {
	t.Helper()
	a, err := NewAnalyzer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runeSlice is original[s:e] in code points, as Python slices a str.
func runeSlice(s string, span TermSpan) string {
	r := []rune(s)
	return string(r[span.Start:span.End])
}

// TestLocateWords pins spans into the original text through a cleaning
// step (HTML stripped), lowercasing and accent stripping, a stop word
// inside a bigram and a repeated term.
func TestLocateWords(t *testing.T) {
	a := mustAnalyzer(t, AnalyzerConfig{Lowercase: true, StripAccents: "unicode", NgramMin: 1, NgramMax: 2, StopWords: []string{"the"}})
	orig := "Héllo <b>WORLD</b>, the héllo!\n東京 ok"
	clean := StripHTML(orig)
	l, err := NewLocator(context.Background(), a, orig, clean)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		term string
		want []string
	}{
		{"hello", []string{"Héllo", "héllo"}},
		{"world", []string{"WORLD"}},
		{"hello world", []string{"Héllo <b>WORLD"}},
		{"world hello", []string{"WORLD</b>, the héllo"}},
		{"東京", []string{"東京"}},
		{"b", nil}, // a tag's name: the cleaning removed it, the model never saw it
		{"absent", nil},
	} {
		var got []string
		for _, s := range l.Spans(tc.term) {
			got = append(got, runeSlice(orig, s))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: spans cover %q, want %q", tc.term, got, tc.want)
		}
	}
}

// TestLocateChars: char_wb n-grams match across runs of white space and
// without their padding.
func TestLocateChars(t *testing.T) {
	a := mustAnalyzer(t, AnalyzerConfig{Kind: KindCharWB, Lowercase: true, NgramMin: 2, NgramMax: 3})
	orig := "FREE  money\tfree"
	l, err := NewLocator(context.Background(), a, orig, orig)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range l.Spans(" fr") {
		got = append(got, runeSlice(orig, s))
	}
	if want := []string{"FR", "fr"}; !slices.Equal(got, want) {
		t.Errorf("' fr': %q, want %q", got, want)
	}
	c := mustAnalyzer(t, AnalyzerConfig{Kind: KindChar, Lowercase: true, NgramMin: 3, NgramMax: 3})
	l, err = NewLocator(context.Background(), c, orig, orig)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, s := range l.Spans("e m") {
		got = append(got, runeSlice(orig, s))
	}
	if want := []string{"E  m"}; !slices.Equal(got, want) {
		t.Errorf("'e m': %q, want %q", got, want)
	}
}

// TestLocateHardTexts: on the parity suite's hard texts, every span of
// every word n-gram covers original text whose own analysis holds that
// n-gram, and every n-gram the analyzer produced is located.
func TestLocateHardTexts(t *testing.T) {
	b, err := os.ReadFile("../../python/tests/hard_texts.json")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(b, &texts); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []AnalyzerConfig{
		{Lowercase: true, NgramMin: 1, NgramMax: 2},
		{Lowercase: true, StripAccents: "unicode", NgramMin: 1, NgramMax: 3},
		{Lowercase: false, StripAccents: "ascii", TokenPattern: `(?u)\b\w+\b`},
	} {
		a := mustAnalyzer(t, cfg)
		for i, text := range texts {
			l, err := NewLocator(context.Background(), a, text, text)
			if err != nil {
				t.Fatal(err)
			}
			for _, term := range a.Analyze(text) {
				spans := l.Spans(term)
				if len(spans) == 0 {
					t.Errorf("%+v text %d %q: %q not located", cfg, i, text, term)
				}
				for _, s := range spans {
					sub := runeSlice(text, s)
					if !slices.Contains(a.Analyze(sub), term) && !strings.Contains(strings.ToLower(text), "σ") {
						t.Errorf("%+v text %d: span %v of %q covers %q, whose terms are %q", cfg, i, s, term, sub, a.Analyze(sub))
					}
				}
			}
		}
	}
}

// FuzzLocate: on any text, cleaned or not, the locator does not panic and
// every span lies within the original text.
func FuzzLocate(f *testing.F) {
	for _, s := range []string{"Héllo <b>WORLD</b>", "İstanbul ΟΔΟΣ", "a\x00\xff b", "  \t\n", "don't e-mail"} {
		f.Add(s, true)
	}
	word := mustAnalyzer(f, AnalyzerConfig{Lowercase: true, StripAccents: "unicode", NgramMin: 1, NgramMax: 2})
	char := mustAnalyzer(f, AnalyzerConfig{Kind: KindCharWB, Lowercase: true, NgramMin: 2, NgramMax: 3})
	f.Fuzz(func(t *testing.T, text string, clean bool) {
		seen := text
		if clean {
			seen = StripHTML(text)
		}
		n := len([]rune(text))
		for _, a := range []*Analyzer{word, char} {
			l, err := NewLocator(context.Background(), a, text, seen)
			if err != nil {
				t.Fatal(err)
			}
			for _, term := range a.Analyze(seen) {
				for _, s := range l.Spans(term) {
					if s.Start < 0 || s.End > n || s.Start >= s.End {
						t.Fatalf("%q: span %v of %q outside [0, %d]", text, s, term, n)
					}
				}
			}
		}
	})
}
