package preprocess

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/memtest"
)

// The benchmarks of this file use only LoadVocab, LoadTokenizerJSON, ID
// and Tokenize, so that the same file measures the map-backed Vocab it
// replaced (copied onto that commit) in interleaved rounds:
//
//	go test -run '^$' -bench 'Vocab' ./internal/preprocess/

func benchSample(b *testing.B, path string) []byte {
	raw, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkVocabLoad loads the sample vocabularies; retained-B is the live
// heap the loaded vocabulary keeps (for tokenizer.json, with its WordPiece).
func BenchmarkVocabLoad(b *testing.B) {
	loads := []struct {
		name string
		path string
		load func([]byte) (any, error)
	}{
		{"vocab.txt", "models/spam/v2/vocab.txt", func(raw []byte) (any, error) { return LoadVocab(bytes.NewReader(raw)) }},
		{"tokenizer.json", "models/sentiment/v3/tokenizer.json", func(raw []byte) (any, error) {
			w, _, err := LoadTokenizerJSON(bytes.NewReader(raw))
			return w, err
		}},
	}
	for _, l := range loads {
		b.Run(l.name, func(b *testing.B) {
			raw := benchSample(b, l.path)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.load(raw); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(memtest.HeapKept(func() any { k, _ := l.load(raw); return k })), "retained-B")
		})
	}
}

// BenchmarkVocabID looks up the tokens the WordPiece hot path asks for:
// hits (every token of vocab.txt, in file order) and misses (each token
// with "zq" appended, the long-match-first probes that fail).
func BenchmarkVocabID(b *testing.B) {
	raw := benchSample(b, "models/spam/v2/vocab.txt")
	v, err := LoadVocab(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	toks := strings.Split(strings.TrimSpace(string(raw)), "\n")
	miss := make([]string, len(toks))
	for i, t := range toks {
		miss[i] = t + "zq"
	}
	for _, c := range []struct {
		name string
		keys []string
	}{{"hit", toks}, {"miss", miss}} {
		b.Run(c.name, func(b *testing.B) {
			i, n := 0, 0
			for b.Loop() {
				if _, ok := v.ID(c.keys[i]); ok {
					n++
				}
				if i++; i == len(c.keys) {
					i = 0
				}
			}
			if c.name == "hit" && n == 0 || c.name == "miss" && n > b.N/100 {
				b.Fatalf("%d of %d found", n, b.N)
			}
		})
	}
}

// idTokenizer is what BenchmarkVocabTokenize runs: WordPiece's and
// WordTokenizer's Tokenize.
type idTokenizer interface{ Tokenize(string, []int) []int }

// BenchmarkVocabTokenize tokenizes a 300-character text with each sample
// vocabulary as its model uses it: spam/v2's vocab.txt through the regex
// word tokenizer (one lookup a word), sentiment/v3's tokenizer.json through
// WordPiece (longest match first: misses before each hit).
func BenchmarkVocabTokenize(b *testing.B) {
	v, err := LoadVocab(bytes.NewReader(benchSample(b, "models/spam/v2/vocab.txt")))
	if err != nil {
		b.Fatal(err)
	}
	unk, _ := v.ID("<unk>")
	re, err := NewWordTokenizer(`(?u)\b\w\w+\b`, true, "", v, unk)
	if err != nil {
		b.Fatal(err)
	}
	wp, _, err := LoadTokenizerJSON(bytes.NewReader(benchSample(b, "models/sentiment/v3/tokenizer.json")))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tok  idTokenizer
	}{{"regex-vocab.txt", re}, {"wordpiece-tokenizer.json", wp}} {
		b.Run(c.name, func(b *testing.B) {
			dst := c.tok.Tokenize(text300, nil)
			b.SetBytes(int64(len(text300)))
			for b.Loop() {
				dst = c.tok.Tokenize(text300, dst[:0])
			}
		})
	}
}
