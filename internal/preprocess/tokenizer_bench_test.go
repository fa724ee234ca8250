package preprocess

import (
	"strings"
	"sync"
	"testing"
)

// BenchmarkWordPiece tokenizes a 300-character text with the
// bert-base-uncased vocabulary; the figure that matters is ns/op with 0
// allocs/op once dst has room.
func BenchmarkWordPiece(b *testing.B) {
	w := loadTokenizerJSON(b)
	cases := map[string]string{
		"ascii300":   text300,
		"unicode300": string([]rune(strings.Repeat("Ωμέγα ΣΟΦΙΑ İstanbul Straße 我爱北京 😀 naïve ", 10))[:300]),
	}
	for name, text := range cases {
		b.Run(name, func(b *testing.B) {
			dst := w.Tokenize(text, nil)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				dst = w.Tokenize(text, dst[:0])
			}
		})
	}
}

// BenchmarkWordTokenizer is the regex (default pattern) and whitespace
// tokenizers on a 300-character text.
func BenchmarkWordTokenizer(b *testing.B) {
	v, err := NewVocab(map[string]int{"<pad>": 0, "<unk>": 1, "dear": 2, "customer": 3, "free": 4})
	if err != nil {
		b.Fatal(err)
	}
	re, err := NewWordTokenizer("", true, "", v, 1)
	if err != nil {
		b.Fatal(err)
	}
	ws, err := NewWhitespaceTokenizer(true, "", v, 1)
	if err != nil {
		b.Fatal(err)
	}
	for name, tok := range map[string]*WordTokenizer{"regex": re, "whitespace": ws} {
		b.Run(name, func(b *testing.B) {
			dst := tok.Tokenize(text300, nil)
			b.ReportAllocs()
			for b.Loop() {
				dst = tok.Tokenize(text300, dst[:0])
			}
		})
	}
}

// BenchmarkEncodeBatch builds a padded batch of 32 texts of 300 characters,
// reusing the Batch as a server does.
func BenchmarkEncodeBatch(b *testing.B) {
	w := loadTokenizerJSON(b)
	sp := w.Special()
	texts := make([]string, 32)
	for i := range texts {
		texts[i] = text300[i%50:]
	}
	o := EncodeOptions{MaxLength: 128, AddSpecial: true, CLS: sp.CLS, SEP: sp.SEP, PAD: sp.PAD}
	var batch Batch
	b.ReportAllocs()
	for b.Loop() {
		if err := batch.Encode(w, texts, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(texts)), "ns/text")
}

// TestWordPieceConcurrent tokenizes from many goroutines at once; with -race
// it proves the pooled scratch space is not shared.
func TestWordPieceConcurrent(t *testing.T) {
	var g wordpieceGolden
	readJSON(t, "wordpiece.json", &g)
	w := loadTokenizerJSON(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for k := 0; k < 8; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			var dst []int
			for i := k; i < len(g.Texts); i += 3 {
				dst = w.Tokenize(g.Texts[i], dst[:0])
				if len(dst) != len(g.JSON[i]) {
					errs <- g.Texts[i]
					return
				}
				for j := range dst {
					if dst[j] != g.JSON[i][j] {
						errs <- g.Texts[i]
						return
					}
				}
			}
		}(k)
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("concurrent tokenization of %+q differs", s)
	}
}
