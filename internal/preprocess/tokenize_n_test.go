package preprocess

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// limits are the truncation lengths TokenizeN is checked with.
var limits = []int{0, 1, 2, 7, 30, 126, 254, 510, 2000}

// longTexts joins random golden texts with random separators, some of them
// the chunk-boundary bytes and some not (\f \v, nothing, combining marks and
// a capital sigma after a space, never-split tokens next to spaces), into
// texts of 2-24 KB: long enough that TokenizeN cuts them into several
// stretches.
func longTexts(texts []string, n int, seed uint64) []string {
	seps := []string{" ", "\n", "\t", "\r\n", "  ", "", "\f", "\v", " \u0301", " Σ ", "Σ\n", " [SEP] ", "[MASK]\t", "\u00a0", "\u3000", "-", "\x00 "}
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		size := 2000 + r.IntN(22000)
		for b.Len() < size {
			b.WriteString(texts[r.IntN(len(texts))])
			b.WriteString(seps[r.IntN(len(seps))])
		}
		out[i] = b.String()
	}
	return out
}

// checkTokenizeN asserts that TokenizeN gives the first limit ids of
// Tokenize (all of them for limit 0), appended after whatever dst held.
func checkTokenizeN(t *testing.T, tok Tokenizer, texts []string) {
	t.Helper()
	bad := 0
	for i, text := range texts {
		full := tok.Tokenize(text, nil)
		for _, limit := range limits {
			want := full
			if limit > 0 && len(want) > limit {
				want = want[:limit]
			}
			got := tok.TokenizeN(text, []int{-1, -2}, limit)
			if !slices.Equal(got[:2], []int{-1, -2}) || !slices.Equal(got[2:], want) {
				bad++
				if bad <= 5 {
					t.Errorf("text %d (%d bytes), limit %d: %d ids differ from the first of Tokenize's %d", i, len(text), limit, len(got)-2, len(full))
				}
			}
		}
	}
}

func TestWordPieceTokenizeN(t *testing.T) {
	var g wordpieceGolden
	readJSON(t, "wordpiece.json", &g)
	long := longTexts(g.Texts, 10, 1)
	check := func(t *testing.T, w *WordPiece, want [][]int) {
		// The golden texts: TokenizeN is Hugging Face's ids, truncated.
		for i, text := range g.Texts {
			for _, limit := range limits {
				exp := want[i]
				if limit > 0 && len(exp) > limit {
					exp = exp[:limit]
				}
				if got := w.TokenizeN(text, nil, limit); !slices.Equal(got, exp) {
					t.Fatalf("text %d limit %d: got %v, want %v", i, limit, got, exp)
				}
			}
		}
		checkTokenizeN(t, w, long)
	}
	t.Run("tokenizer.json", func(t *testing.T) { check(t, loadTokenizerJSON(t), g.JSON) })
	for name, want := range g.Configs {
		t.Run("vocab.txt/"+name, func(t *testing.T) {
			w, err := NewWordPiece(loadBertVocab(t), configOptions(name))
			if err != nil {
				t.Fatal(err)
			}
			check(t, w, want)
		})
	}
	t.Run("never-split token with a space", func(t *testing.T) {
		o := DefaultWordPieceOptions()
		o.NeverSplit = append(o.NeverSplit, "new york")
		v, err := NewVocab(map[string]int{"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "new york": 4, "new": 5, "york": 6})
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWordPiece(v, o)
		if err != nil {
			t.Fatal(err)
		}
		if w.chunked {
			t.Fatal("a never-split token holding a space must disable chunking")
		}
		text := strings.Repeat("york new", 200) + " new york"
		checkTokenizeN(t, w, []string{text, strings.Repeat("new york new ", 500)})
	})
}

func TestWordTokenizerTokenizeN(t *testing.T) {
	var g wordsGolden
	readJSON(t, "words.json", &g)
	v := wordsVocab(t)
	long := longTexts(g.Texts, 6, 2)
	for _, c := range g.Cases {
		for _, unk := range []int{1, -1} {
			name := fmt.Sprintf("%s/lower=%v/strip=%q/unk=%d", c.Pattern, c.Lowercase, c.StripAccents, unk)
			t.Run(name, func(t *testing.T) {
				var tok *WordTokenizer
				var err error
				if c.Pattern == "whitespace" {
					tok, err = NewWhitespaceTokenizer(c.Lowercase, c.StripAccents, v, unk)
				} else {
					tok, err = NewWordTokenizer(c.Pattern, c.Lowercase, c.StripAccents, v, unk)
				}
				if err != nil {
					t.Fatal(err)
				}
				if c.IDs != nil && unk == 1 {
					for i, text := range g.Texts {
						exp := c.IDs[i]
						if len(exp) > 3 {
							exp = exp[:3]
						}
						if got := tok.TokenizeN(text, nil, 3); !slices.Equal(got, exp) {
							t.Fatalf("text %d: got %v, want scikit-learn's first %v", i, got, exp)
						}
					}
				}
				checkTokenizeN(t, tok, long)
			})
		}
	}
}

// FuzzTokenizeN checks, for any text repeated into a long document, that
// TokenizeN's ids are the first ids of Tokenize, for WordPiece and the
// default-pattern and whitespace tokenizers.
func FuzzTokenizeN(f *testing.F) {
	for _, s := range hardTexts {
		f.Add(s, uint8(40))
	}
	f.Add("Σ\u0301 ΣΑΣ\tx\u0345Σ [SEP]a", uint8(200))
	w := loadTokenizerJSON(f)
	v, err := NewVocab(map[string]int{"<pad>": 0, "<unk>": 1, "the": 2, "a": 3, "σ": 4, "ς": 5})
	if err != nil {
		f.Fatal(err)
	}
	re, err := NewWordTokenizer("", true, "unicode", v, 1)
	if err != nil {
		f.Fatal(err)
	}
	ws, err := NewWhitespaceTokenizer(true, "ascii", v, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, k uint8) {
		long := strings.Repeat(s, 1+int(k)*2000/(len(s)+1))
		for _, tok := range []Tokenizer{w, re, ws} {
			full := tok.Tokenize(long, nil)
			for _, limit := range []int{1, 64, 256, len(full) - 1} {
				if limit <= 0 {
					continue
				}
				got := tok.TokenizeN(long, nil, limit)
				if !slices.Equal(got, full[:min(limit, len(full))]) {
					t.Fatalf("%T limit %d: %d ids differ from Tokenize's first", tok, limit, len(got))
				}
			}
		}
	})
}
