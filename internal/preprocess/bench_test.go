package preprocess

import (
	"strings"
	"testing"
)

// text300 is a 300-character email-like text.
var text300 = func() string {
	s := strings.Repeat("Dear customer, your account was selected for a FREE offer! Visit http://example.com now. Café résumé 123. ", 3)
	return string([]rune(s)[:300])
}()

func benchTfidf(b *testing.B) *TfidfVectorizer {
	a, err := NewAnalyzer(AnalyzerConfig{Lowercase: true, NgramMin: 1, NgramMax: 2})
	if err != nil {
		b.Fatal(err)
	}
	vocab := map[string]int32{}
	for _, t := range a.Analyze(text300 + " " + strings.Repeat("filler words of a bigger vocabulary ", 10)) {
		if _, ok := vocab[t]; !ok {
			vocab[t] = int32(len(vocab))
		}
	}
	idf := make([]float64, len(vocab))
	for i := range idf {
		idf[i] = 1 + float64(i%7)/3
	}
	cv, _ := NewCountVectorizer(a, vocab, false)
	tv, err := NewTfidfVectorizer(cv, TfidfTransformer{IDF: idf, Norm: "l2"})
	if err != nil {
		b.Fatal(err)
	}
	return tv
}

func BenchmarkAnalyze(b *testing.B) {
	for _, kind := range []string{KindWord, KindChar, KindCharWB} {
		b.Run(kind, func(b *testing.B) {
			cfg := AnalyzerConfig{Kind: kind, Lowercase: true, NgramMin: 1, NgramMax: 2}
			if kind != KindWord {
				cfg.NgramMin, cfg.NgramMax = 2, 5
			}
			a, _ := NewAnalyzer(cfg)
			var sc Scratch
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				a.Each(text300, &sc, func([]byte) { n++ })
			}
		})
	}
}

func BenchmarkTfidfTransform300(b *testing.B) {
	tv := benchTfidf(b)
	var row Sparse
	b.ReportAllocs()
	for b.Loop() {
		tv.Transform(text300, &row)
	}
}

func BenchmarkHashingTransform300(b *testing.B) {
	a, _ := NewAnalyzer(AnalyzerConfig{Lowercase: true, NgramMin: 1, NgramMax: 2})
	h, _ := NewHashingVectorizer(a, 1<<20, true, false, "l2")
	var row Sparse
	b.ReportAllocs()
	for b.Loop() {
		h.Transform(text300, &row)
	}
}

func BenchmarkClean300(b *testing.B) {
	c, _ := NewCleaner([]StepSpec{{Name: "strip_html"}, {Name: "unicode_normalize"}, {Name: "lowercase"},
		{Name: "remove_special_chars"}, {Name: "collapse_whitespace"}})
	b.ReportAllocs()
	for b.Loop() {
		c.Clean(text300)
	}
}
