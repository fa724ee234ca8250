package tokenizer

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"unicode/utf8"
)

var (
	fuzzOnce sync.Once
	fuzzToks []*Tokenizer
)

func fuzzTokenizers(t testing.TB) []*Tokenizer {
	fuzzOnce.Do(func() {
		for _, name := range goldenNames(t) {
			fuzzToks = append(fuzzToks, mustLoadFile(t, name, Options{}))
		}
	})
	return fuzzToks
}

// FuzzEncode: hostile text never panics on any sample tokenizer, encodes
// the same way twice, and keeps the encoding's slices parallel and its
// offsets inside the text.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello, world!", "e\u0301\u0327", "😀👍🏽", "<mask>x", "a\r\n\tb", "\x00\u0085", "İ ß ﬁ", "中文"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range fuzzTokenizers(t) {
			e, err := tk.Encode(s)
			if !utf8.ValidString(s) {
				if err == nil {
					t.Fatalf("%s: invalid UTF-8 accepted", tk.Model())
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tk.Model(), err)
			}
			n := len(e.IDs)
			if len(e.TypeIDs) != n || len(e.AttentionMask) != n || len(e.SpecialTokensMask) != n || len(e.Offsets) != n {
				t.Fatalf("%s: slices of different lengths", tk.Model())
			}
			for _, o := range e.Offsets {
				if o[0] < 0 || o[0] > o[1] || o[1] > len(s) {
					t.Fatalf("%s: offsets %v outside %d bytes", tk.Model(), o, len(s))
				}
			}
			for _, id := range e.IDs {
				if id < 0 || id >= tk.VocabSize() {
					t.Fatalf("%s: id %d outside vocabulary of %d", tk.Model(), id, tk.VocabSize())
				}
			}
			e2, _ := tk.Encode(s)
			if !slices.Equal(e.IDs, e2.IDs) || !slices.Equal(e.Offsets, e2.Offsets) {
				t.Fatalf("%s: not deterministic", tk.Model())
			}
			// A batch of one is the text alone (padded to itself).
			if b, err := tk.EncodeBatch([]string{s}, 0); err != nil || !slices.Equal(b[0].IDs, e.IDs) {
				t.Fatalf("%s: batch of one differs: %v", tk.Model(), err)
			}
		}
	})
}

// FuzzLoad: a hostile tokenizer.json never panics Load, and whatever loads
// encodes without panicking.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(tiny("")))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"],"unk_token":"a","byte_fallback":true,"fuse_unk":true,"continuing_subword_prefix":"","end_of_word_suffix":""},"pre_tokenizer":{"type":"ByteLevel"},"post_processor":{"type":"RobertaProcessing","sep":["b",1],"cls":["a",0]}}`))
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0],["a",-1.5],["▁a",-2.0]],"byte_fallback":true},"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Precompiled","precompiled_charsmap":"AAEAAAAA"}]},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2},"unk_token":"[UNK]"},"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[UNK]","type_id":1}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"[UNK]":{"id":"[UNK]","ids":[0],"tokens":["[UNK]"]}}},"padding":{"strategy":{"Fixed":4},"direction":"Left","pad_to_multiple_of":3,"pad_id":0,"pad_type_id":0,"pad_token":"[UNK]"},"truncation":{"direction":"Left","max_length":3,"strategy":"LongestFirst","stride":0}}`))
	f.Add([]byte(`{"added_tokens":[{"id":3,"content":"ab","single_word":true,"lstrip":true,"rstrip":true,"normalized":true,"special":false}],"model":{"type":"WordLevel","vocab":{"a":0},"unk_token":"a"},"normalizer":{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"MergedWithNext","invert":true}}`))
	texts := []string{"", "ab a b  ab", "héllo wörld", "😀\u0301", "ab\r\nab", strings16()}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Load(bytes.NewReader(data), Options{Limits: Limits{FileBytes: 1 << 16, Vocab: 1000, Merges: 1000, AddedTokens: 100, TokenBytes: 64, Depth: 4}})
		if err != nil {
			return
		}
		for _, s := range texts {
			_, _ = tk.Encode(s)
		}
		_, _ = tk.EncodeBatch(texts, 4)
	})
}

func strings16() string {
	var b []byte
	for i := 0; i < 16; i++ {
		b = append(b, "a b"...)
	}
	return string(b)
}
