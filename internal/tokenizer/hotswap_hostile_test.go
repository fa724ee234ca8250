package tokenizer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// writeAtLimit writes a WordPiece tokenizer.json (the bert_wordpiece
// fixture's, its vocabulary grown to lim.Vocab entries) of exactly size
// bytes: the file a loader with lim accepts when size is lim.FileBytes, and
// must refuse one byte beyond.
func writeAtLimit(t *testing.T, path string, lim Limits, size int64) {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/bert_wordpiece/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(tmpl, []byte(`"vocab":{`))
	if at < 0 {
		t.Fatal(`no "vocab":{ in the fixture`)
	}
	at += len(`"vocab":{`)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(tmpl[:at])
	const fixtureVocab = 1500
	pad := bytes.Repeat([]byte("q"), 48)
	for id := fixtureVocab; id < lim.Vocab; id++ {
		fmt.Fprintf(w, "\"##%s%07d\":%d,", pad, id, id)
	}
	w.Write(tmpl[at:])
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > size {
		t.Fatalf("generated %d bytes, more than the %d wanted", fi.Size(), size)
	}
	// JSON allows trailing white space: fill up to the exact size.
	if _, err := f.Write(bytes.Repeat([]byte(" "), int(size-fi.Size()))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHotSwapAtSizeLimit: a tokenizer.json of exactly the size limit is
// loaded as a hot swap does, the next one while the current one serves,
// over and over. Heap in use after a collection does not grow with the
// number of swaps: nothing of an unloaded tokenizer stays reachable (a
// global cache, an interned vocabulary). One byte more is refused.
//
// Without the race detector (`make test` runs it so) the file is the ONNX/HF
// loader's real limit, 64 MiB with a million-entry vocabulary, swapped 5
// times (1.5 s a load); under -race, 10 times slower, the same code runs on
// a 2 MiB limit, swapped 20 times.
func TestHotSwapAtSizeLimit(t *testing.T) {
	lim, swaps := Limits{}, 5
	if raceEnabled {
		lim, swaps = Limits{FileBytes: 2 << 20, Vocab: 30_000}, 20
	}
	opts := Options{NoPadding: true, Limits: lim} // the ONNX/HF loader's options, but for the limits under -race
	lim = lim.withDefaults()
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	writeAtLimit(t, path, lim, lim.FileBytes)
	over := filepath.Join(dir, "over.json")
	writeAtLimit(t, over, lim, lim.FileBytes+1)
	if _, err := LoadFile(over, opts); !errors.Is(err, ErrInvalid) {
		t.Errorf("a file one byte over the limit: %v, want ErrInvalid", err)
	}

	base := heapInUse()
	load := func() *Tokenizer {
		t.Helper()
		tk, err := LoadFile(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := tk.Encode("hello world, hostile swaps")
		if err != nil || len(enc.IDs) == 0 {
			t.Fatalf("encode: %v %v", enc.IDs, err)
		}
		return tk
	}
	start := time.Now()
	cur := load()
	if cur.VocabSize() != lim.Vocab {
		t.Fatalf("vocabulary of %d, want %d", cur.VocabSize(), lim.Vocab)
	}
	one := heapInUse()
	footprint := int64(one) - int64(base)
	heaps := []uint64{one}
	for range swaps {
		next := load()
		cur = next // the old one is dropped, as the registry does after the swap
		heaps = append(heaps, heapInUse())
	}
	runtime.KeepAlive(cur)
	grown := int64(heaps[len(heaps)-1]) - int64(one)
	t.Logf("one tokenizer: %d MiB; after %d swaps heap grew %d MiB (%s); per swap: %v MiB", footprint>>20, swaps, grown>>20,
		time.Since(start).Round(time.Millisecond), mib(heaps))
	if footprint < lim.FileBytes/4 {
		t.Fatalf("one tokenizer takes only %d MiB: the test does not load what it means to", footprint>>20)
	}
	if grown > footprint/2 {
		t.Errorf("heap in use grew %d MiB over %d swaps; one tokenizer is %d MiB", grown>>20, swaps, footprint>>20)
	}
}

func mib(h []uint64) []uint64 {
	out := make([]uint64, len(h))
	for i, v := range h {
		out[i] = v >> 20
	}
	return out
}
