package preprocess

import (
	"fmt"
	"testing"
	"unicode/utf8"
)

// hardTexts seed the fuzzers: the texts that gave trouble elsewhere.
var hardTexts = []string{
	"", "   ", "a", "café", "cafe\u0301", "東京都", "😀👍🏽", "İstanbul", "ΟΔΟΣ ΟΔΟΣ.", "a\tb", "a\r\nb",
	"\x1c\x1d\x1e\x1f", "1,000 ٣٤٥", "https://x.org/?a=1", "<b>x</b> &amp;", "\xff\xfe", "Σ'Σ",
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range hardTexts {
		f.Add(s, uint8(0))
	}
	var analyzers []*Analyzer
	for _, cfg := range []AnalyzerConfig{
		{Kind: KindWord, Lowercase: true, NgramMin: 1, NgramMax: 3, StopWords: EnglishStopWords},
		{Kind: KindWord, StripAccents: "unicode", TokenPattern: `\S+`},
		{Kind: KindChar, Lowercase: true, StripAccents: "ascii", NgramMin: 1, NgramMax: 4},
		{Kind: KindCharWB, Lowercase: true, NgramMin: 2, NgramMax: 5},
	} {
		a, err := NewAnalyzer(cfg)
		if err != nil {
			f.Fatal(err)
		}
		analyzers = append(analyzers, a)
	}
	f.Fuzz(func(t *testing.T, text string, which uint8) {
		a := analyzers[int(which)%len(analyzers)]
		valid := utf8.ValidString(text)
		for _, term := range a.Analyze(text) {
			if valid && !utf8.ValidString(term) {
				t.Fatalf("invalid UTF-8 term %q from %q", term, text)
			}
			if term == "" && a.cfg.Kind != KindWord {
				t.Fatalf("empty term from %q", text)
			}
		}
		h, _ := NewHashingVectorizer(a, 1<<10, true, false, "l2")
		var row Sparse
		h.Transform(text, &row)
		for k := 1; k < len(row.Idx); k++ {
			if row.Idx[k] <= row.Idx[k-1] {
				t.Fatalf("unsorted columns %v", row.Idx)
			}
		}
	})
}

func FuzzClean(f *testing.F) {
	for _, s := range hardTexts {
		f.Add(s)
	}
	c, err := NewCleaner([]StepSpec{{Name: "strip_html"}, {Name: "unicode_normalize"}, {Name: "lowercase"},
		{Name: "remove_special_chars"}, {Name: "collapse_whitespace"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out := c.Clean(text)
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 %q from %q", out, text)
		}
		if out != CollapseWhitespace(out) {
			t.Fatalf("whitespace left in %q", out)
		}
		if got := Truncate(out, 5); utf8.RuneCountInString(got) > 5 {
			t.Fatalf("Truncate kept %d runes", utf8.RuneCountInString(got))
		}
	})
}

// TestConcurrentTransform shares one vectorizer between goroutines (run with
// -race): results must not depend on the pooled scratch.
func TestConcurrentTransform(t *testing.T) {
	a, _ := NewAnalyzer(AnalyzerConfig{Lowercase: true, NgramMin: 1, NgramMax: 2})
	h, _ := NewHashingVectorizer(a, 1<<12, true, false, "l2")
	want := make([]Sparse, len(hardTexts))
	for i, s := range hardTexts {
		h.Transform(s, &want[i])
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var row Sparse
			for n := 0; n < 50; n++ {
				for i, s := range hardTexts {
					h.Transform(s, &row)
					if len(row.Idx) != len(want[i].Idx) {
						done <- fmt.Errorf("text %q: %d columns, want %d", s, len(row.Idx), len(want[i].Idx))
						return
					}
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
