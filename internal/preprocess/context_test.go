package preprocess

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNgramBound checks the analyzer's bounds: ngram_range must have
// 1 <= min <= max <= MaxNgram.
func TestNgramBound(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int
		ok     bool
	}{
		{1, 1, true}, {1, MaxNgram, true}, {MaxNgram, MaxNgram, true},
		{1, MaxNgram + 1, false}, {1, 1_000_000, false}, {0, 2, false}, {3, 2, false}, {-1, 1, false},
	} {
		for _, kind := range []string{KindWord, KindChar, KindCharWB} {
			_, err := NewAnalyzer(AnalyzerConfig{Kind: kind, NgramMin: tc.lo, NgramMax: tc.hi})
			if (err == nil) != tc.ok {
				t.Errorf("%s (%d, %d): error %v, want ok=%v", kind, tc.lo, tc.hi, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("%s (%d, %d): error %v does not wrap ErrConfig", kind, tc.lo, tc.hi, err)
			}
		}
	}
}

// TestLongestTerm checks the longest matchable n-gram of a vocabulary in
// each kind's units.
func TestLongestTerm(t *testing.T) {
	vocab := map[string]int32{"goal": 0, "goal team": 1, "a b c": 2, "café": 3}
	for _, tc := range []struct {
		kind string
		want int
	}{{KindWord, 3}, {KindChar, 9}, {KindCharWB, 9}} {
		if got := LongestTerm(tc.kind, vocab); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.kind, got, tc.want)
		}
	}
	if got := LongestTerm(KindWord, nil); got != 0 {
		t.Errorf("empty vocabulary: %d", got)
	}
}

// longText is about n bytes of words, punctuation and non-ASCII letters.
func longText(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"goal", "team", "café", "naïve", "x", "e-mail", "über", "42", "a_b", "日本語", "ok!", "\t", "\n\n"}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(4) > 0 {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// TestSpansChunked checks that the word-run tokenizer, which takes a long
// text in chunks so that it can look at the context between them, finds
// the tokens it finds in one pass.
func TestSpansChunked(t *testing.T) {
	a, err := NewAnalyzer(AnalyzerConfig{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.tok.minRun == 0 {
		t.Fatal("the default pattern should take the word-run path")
	}
	for _, text := range []string{longText(5 * runChunk), strings.Repeat("é", runChunk) + " ab " + strings.Repeat("z", 2*runChunk)} {
		var sc Scratch
		a.preprocess(text, &sc)
		if err := a.spans(context.Background(), &sc); err != nil {
			t.Fatal(err)
		}
		want := a.tok.appendRuns(nil, sc.text)
		if !slices.Equal(sc.spans, want) {
			t.Fatalf("chunked: %d spans, one pass: %d", len(sc.spans)/2, len(want)/2)
		}
	}
}

// TestTransformContext checks each vectorizer's context-taking transform:
// with a live context it writes Transform's row, and with a cancelled or
// expired one it returns the context's error, for every analyzer kind.
func TestTransformContext(t *testing.T) {
	text := longText(16 << 10)
	for _, kind := range []string{KindWord, KindChar, KindCharWB} {
		a, err := NewAnalyzer(AnalyzerConfig{Kind: kind, Lowercase: true, NgramMin: 1, NgramMax: 4})
		if err != nil {
			t.Fatal(err)
		}
		vocab := map[string]int32{}
		for _, term := range a.Analyze(text[:4000]) {
			if _, ok := vocab[term]; !ok {
				vocab[term] = int32(len(vocab))
			}
		}
		cv, err := NewCountVectorizer(a, vocab, false)
		if err != nil {
			t.Fatal(err)
		}
		tv, err := NewTfidfVectorizer(cv, TfidfTransformer{Norm: "l2"})
		if err != nil {
			t.Fatal(err)
		}
		hv, err := NewHashingVectorizer(a, 1<<10, true, false, "l2")
		if err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel2()
		for name, v := range map[string]TextVectorizer{"count": cv, "tfidf": tv, "hashing": hv} {
			var want, got Sparse
			v.Transform(text, &want)
			if err := v.TransformContext(context.Background(), text, &got); err != nil {
				t.Fatalf("%s/%s: %v", kind, name, err)
			}
			if !slices.Equal(got.Idx, want.Idx) || !slices.Equal(got.Val, want.Val) || len(want.Idx) == 0 {
				t.Fatalf("%s/%s: TransformContext's row differs from Transform's (%d, %d columns)", kind, name, len(got.Idx), len(want.Idx))
			}
			if err := v.TransformContext(cancelled, text, &got); !errors.Is(err, context.Canceled) {
				t.Errorf("%s/%s: cancelled: %v", kind, name, err)
			}
			if err := v.TransformContext(expired, text, &got); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s/%s: expired: %v", kind, name, err)
			}
		}
		words, out, ok, err := cv.TransformOOVContext(cancelled, text, new(Sparse))
		if !errors.Is(err, context.Canceled) || words != 0 || out != 0 || ok {
			t.Errorf("%s: TransformOOVContext cancelled: %d %d %v %v", kind, words, out, ok, err)
		}
		w1, o1, ok1 := cv.TransformOOV(text, new(Sparse))
		w2, o2, ok2, err := tv.TransformOOVContext(context.Background(), text, new(Sparse))
		if err != nil || w1 != w2 || o1 != o2 || ok1 != ok2 {
			t.Errorf("%s: TransformOOVContext (%d %d %v %v), TransformOOV (%d %d %v)", kind, w2, o2, ok2, err, w1, o1, ok1)
		}
	}
}

// TestEachContextStops cancels the analysis of one long text with long
// n-grams part way: EachContext returns context.Canceled well before it
// would have finished, having emitted only part of the terms.
func TestEachContextStops(t *testing.T) {
	text := longText(1 << 20)
	for _, kind := range []string{KindWord, KindChar, KindCharWB} {
		a, err := NewAnalyzer(AnalyzerConfig{Kind: kind, NgramMin: 1, NgramMax: MaxNgram})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var sc Scratch
		n := 0
		err = a.EachContext(ctx, text, &sc, func([]byte) {
			if n++; n == 50_000 {
				cancel()
			}
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: error %v after %d terms", kind, err, n)
		}
		if n > 50_000+2*checkEvery {
			t.Errorf("%s: %d terms emitted after the cancellation", kind, n-50_000)
		}
	}
}

// TestWordPieceCharsBound checks that max_input_chars_per_word, which sets
// the cost of one long word, is bounded.
func TestWordPieceCharsBound(t *testing.T) {
	v, err := NewVocab(map[string]int{"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "a": 4})
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultWordPieceOptions()
	for _, tc := range []struct {
		n  int
		ok bool
	}{{100, true}, {MaxInputCharsPerWordLimit, true}, {MaxInputCharsPerWordLimit + 1, false}, {1 << 30, false}, {0, false}} {
		o.MaxInputCharsPerWord = tc.n
		_, err := NewWordPiece(v, o)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("max_input_chars_per_word %d: error %v, want ok=%v", tc.n, err, tc.ok)
		}
	}
}
