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
				// The row from the analyzer's terms and the vocabulary map,
				// not through the vectorizer's index.
				ref := referenceCounts(a, vocab, s)
				if !slices.Equal(got.Idx, ref.Idx) || !slices.Equal(got.Val, ref.Val) {
					t.Fatalf("%q: row %v, from the analyzer's terms %v", s, got, ref)
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

// referenceCounts is the count row of text computed the plain way: every
// term of the analyzer looked up in the vocabulary map.
func referenceCounts(a *Analyzer, vocab map[string]int32, text string) Sparse {
	counts := map[int32]float64{}
	for _, term := range a.Analyze(text) {
		if j, ok := vocab[term]; ok {
			counts[j]++
		}
	}
	var row Sparse
	for j := range counts {
		row.Idx = append(row.Idx, j)
	}
	slices.Sort(row.Idx)
	for _, j := range row.Idx {
		row.Val = append(row.Val, counts[j])
	}
	return row
}

// FuzzCountVectorizer compares the indexed vocabulary lookups (word ids and
// bigram pairs) with the analyzer's terms looked up in the vocabulary map,
// for unigram-to-trigram analyzers and a vocabulary holding some of the
// fuzzed text's own n-grams, keys that split oddly, and absent ones.
func FuzzCountVectorizer(f *testing.F) {
	for _, s := range hardTexts {
		f.Add(s, "free prize", uint8(0))
	}
	f.Add("Free prize, free PRIZE now now now", "free prize now", uint8(1))
	f.Add("a b  c", " a b ", uint8(2))
	f.Fuzz(func(t *testing.T, text, extra string, which uint8) {
		cfgs := []AnalyzerConfig{
			{Lowercase: true, NgramMin: 1, NgramMax: 2},
			{Lowercase: true, NgramMin: 1, NgramMax: 3, StopWords: EnglishStopWords},
			{NgramMin: 2, NgramMax: 2, TokenPattern: `(?u)\b\w+\b`},
		}
		a, err := NewAnalyzer(cfgs[int(which)%len(cfgs)])
		if err != nil {
			t.Fatal(err)
		}
		vocab := map[string]int32{}
		add := func(term string) {
			if _, ok := vocab[term]; !ok {
				vocab[term] = int32(len(vocab))
			}
		}
		for k, term := range a.Analyze(text) {
			if k%3 != 1 {
				add(term)
			}
		}
		add(extra)
		add("")
		add(" ")
		cv, err := NewCountVectorizer(a, vocab, false)
		if err != nil {
			t.Fatal(err)
		}
		var got Sparse
		words, out, ok := cv.TransformOOV(text, &got)
		ref := referenceCounts(a, vocab, text)
		if !slices.Equal(got.Idx, ref.Idx) || !slices.Equal(got.Val, ref.Val) {
			t.Fatalf("%q: row %v, from the analyzer's terms %v", text, got, ref)
		}
		if !ok {
			return
		}
		uni := a.Config()
		uni.NgramMin, uni.NgramMax = 1, 1
		ua, _ := NewAnalyzer(uni)
		wantWords, wantOut := 0, 0
		for _, term := range ua.Analyze(text) {
			wantWords++
			if _, in := vocab[term]; !in {
				wantOut++
			}
		}
		if words != wantWords || out != wantOut {
			t.Fatalf("%q: %d of %d words out, want %d of %d", text, out, words, wantOut, wantWords)
		}
	})
}
