package tokenizer

import (
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkLoadVocab loads the vocabulary families' tokenizer.json files
// (retained-B: the live heap the loaded tokenizer keeps). It uses only
// LoadFile, so that the same file measures an older commit in interleaved
// rounds.
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
			best := int64(-1)
			for range 3 {
				var before, after runtime.MemStats
				runtime.GC() // twice: the first moves sync.Pool contents to the victim cache
				runtime.GC()
				runtime.ReadMemStats(&before)
				keep, _ := LoadFile(path, Options{})
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(keep)
				if d := int64(after.HeapAlloc) - int64(before.HeapAlloc); best < 0 || d < best {
					best = d
				}
			}
			b.ReportMetric(float64(best), "retained-B")
		})
	}
}
