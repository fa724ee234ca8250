package tokenizer

import (
	"path/filepath"
	"testing"
)

// benchFamilies are the tokenizers the benchmarks time, one per family;
// python/bench_tokenizers.py times Rust tokenizers on the same files and
// texts.
var benchFamilies = []string{"roberta_bpe", "llama2_bytefallback", "xlmr_spm", "t5_unigram", "wordlevel", "bert_wordpiece"}

// BenchmarkEncode reports µs per text for each family over the held-out
// sample texts, one text at a time on one goroutine.
func BenchmarkEncode(b *testing.B) {
	texts := loadGoldenTexts(b).Heldout
	bytes := 0
	for _, s := range texts {
		bytes += len(s)
	}
	for _, name := range benchFamilies {
		tk, err := LoadFile(filepath.Join("testdata", name, "tokenizer.json"), Options{NoTruncation: true, NoPadding: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(bytes / len(texts)))
			benchEncode(b, tk, texts)
		})
	}
}

// benchEncode encodes texts one at a time, round robin, reporting
// allocations and µs per text.
func benchEncode(b *testing.B, tk *Tokenizer, texts []string) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := tk.Encode(texts[n%len(texts)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/text")
}
