package tokenizer

import (
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/memtest"
)

// BenchmarkLoadVocab loads the vocabulary families' tokenizer.json files
// (retained-B: the live heap the loaded tokenizer keeps). It uses only
// LoadFile (and internal/memtest), so that the same file measures an older
// commit in interleaved rounds.
func BenchmarkLoadVocab(b *testing.B) {
	for _, name := range []string{"bert_wordpiece", "roberta_bpe", "wordlevel"} {
		path := filepath.Join("testdata", name, "tokenizer.json")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadFile(path, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(memtest.HeapKept(func() any { t, _ := LoadFile(path, Options{}); return t })), "retained-B")
		})
	}
}
