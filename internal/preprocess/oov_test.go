package preprocess

import (
	"slices"
	"testing"
)

// TestTransformOOV checks that TransformOOV writes Transform's row and
// counts the unigrams a (1, 1) analyzer of the same configuration yields,
// and those outside the vocabulary, for word analyzers of several n-gram
// ranges and stop words; character analyzers and n-grams from 2 up are not
// counted.
func TestTransformOOV(t *testing.T) {
	texts := append([]string{"", "! ? .", "the the qqq", "Free FREE free prize, the prize of the year!"}, hardTexts...)
	texts = append(texts, text300)
	for _, tc := range []struct {
		name string
		cfg  AnalyzerConfig
		ok   bool
	}{
		{"unigrams", AnalyzerConfig{Lowercase: true}, true},
		{"1-2 grams", AnalyzerConfig{Lowercase: true, NgramMin: 1, NgramMax: 2}, true},
		{"1-3 grams stop words", AnalyzerConfig{Lowercase: true, NgramMin: 1, NgramMax: 3, StopWords: EnglishStopWords}, true},
		{"no lowercase accents", AnalyzerConfig{StripAccents: "unicode", NgramMin: 1, NgramMax: 2}, true},
		{"2-3 grams", AnalyzerConfig{Lowercase: true, NgramMin: 2, NgramMax: 3}, false},
		{"char_wb", AnalyzerConfig{Kind: KindCharWB, NgramMin: 1, NgramMax: 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAnalyzer(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			uni := tc.cfg
			uni.NgramMin, uni.NgramMax = 1, 1
			ua, err := NewAnalyzer(uni)
			if err != nil {
				t.Fatal(err)
			}
			// A vocabulary of every other term of the texts, so that some
			// unigrams and n-grams are in it and some are not.
			vocab := map[string]int32{}
			for _, s := range texts {
				for k, term := range a.Analyze(s) {
					if _, ok := vocab[term]; !ok && k%2 == 0 {
						vocab[term] = int32(len(vocab))
					}
				}
			}
			cv, err := NewCountVectorizer(a, vocab, false)
			if err != nil {
				t.Fatal(err)
			}
			tv, err := NewTfidfVectorizer(cv, TfidfTransformer{Norm: "l2", SublinearTF: true})
			if err != nil {
				t.Fatal(err)
			}
			somewhere := 0
			for _, s := range texts {
				var want, got, wantT, gotT Sparse
				cv.Transform(s, &want)
				words, out, ok := cv.TransformOOV(s, &got)
				tv.Transform(s, &wantT)
				tw, to, tok := tv.TransformOOV(s, &gotT)
				if !slices.Equal(got.Idx, want.Idx) || !slices.Equal(got.Val, want.Val) ||
					!slices.Equal(gotT.Idx, wantT.Idx) || !slices.Equal(gotT.Val, wantT.Val) {
					t.Fatalf("%q: TransformOOV's row differs from Transform's", s)
				}
				if tw != words || to != out || tok != ok {
					t.Fatalf("%q: tfidf counts %d/%d %v, count vectorizer %d/%d %v", s, to, tw, tok, out, words, ok)
				}
				if ok != tc.ok {
					t.Fatalf("%q: ok %v, want %v", s, ok, tc.ok)
				}
				if !ok {
					if words != 0 || out != 0 {
						t.Fatalf("%q: not counted, yet %d/%d", s, out, words)
					}
					continue
				}
				wantWords, wantOut := 0, 0
				for _, term := range ua.Analyze(s) {
					wantWords++
					if _, in := vocab[term]; !in {
						wantOut++
					}
				}
				if words != wantWords || out != wantOut {
					t.Errorf("%q: %d of %d words out of vocabulary, want %d of %d", s, out, words, wantOut, wantWords)
				}
				if out > 0 && out < words {
					somewhere++
				}
			}
			if tc.ok && somewhere == 0 {
				t.Error("no text had some but not all words in the vocabulary")
			}
		})
	}
}

// BenchmarkTfidfTransformOOV300 is BenchmarkTfidfTransform300 counting
// out-of-vocabulary words as it goes.
func BenchmarkTfidfTransformOOV300(b *testing.B) {
	tv := benchTfidf(b)
	var row Sparse
	b.ReportAllocs()
	for b.Loop() {
		tv.TransformOOV(text300, &row)
	}
}
