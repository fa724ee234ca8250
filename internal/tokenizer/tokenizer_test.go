package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tiny is a minimal WordLevel tokenizer.json; tests patch it with fields.
func tiny(fields string) string {
	base := `{"version":"1.0","added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
"normalizer":null,"pre_tokenizer":{"type":"WhitespaceSplit"},"post_processor":null,"decoder":null,
"model":{"type":"WordLevel","vocab":{"[UNK]":0,"a":1,"b":2},"unk_token":"[UNK]"}`
	if fields != "" {
		base += "," + fields
	}
	return base + "}"
}

func load(t *testing.T, js string, opts Options) (*Tokenizer, error) {
	t.Helper()
	return Load(strings.NewReader(js), opts)
}

func mustLoadFile(t testing.TB, name string, opts Options) *Tokenizer {
	t.Helper()
	tk, err := LoadFile(filepath.Join("testdata", name, "tokenizer.json"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestLoadRefusesUnsupported: every component this package lacks is
// refused at load, naming it.
func TestLoadRefusesUnsupported(t *testing.T) {
	bpe := `"model":{"type":"BPE","vocab":{"a":0},"merges":[]`
	cases := []struct {
		name, js, want string
	}{
		{"model", `{"model":{"type":"Mystery","vocab":{}}}`, `model "Mystery"`},
		{"normalizer", tiny(`"normalizer":{"type":"Nmt"}`), `normalizer "Nmt"`},
		{"nested normalizer", tiny(`"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"ByteLevel"}]}`), `normalizer "ByteLevel"`},
		{"pre_tokenizer", tiny(`"pre_tokenizer":{"type":"UnicodeScripts"}`), `pre_tokenizer "UnicodeScripts"`},
		{"post_processor", tiny(`"post_processor":{"type":"Fancy"}`), `post_processor "Fancy"`},
		{"dropout", `{` + bpe + `,"dropout":0.1}}`, "dropout"},
		{"lookahead regex", tiny(`"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated","invert":false}`), "lookaround"},
		{"backreference", tiny(`"normalizer":{"type":"Replace","pattern":{"Regex":"(a)\\1"},"content":""}`), "backreferences"},
		{"behavior", tiny(`"pre_tokenizer":{"type":"Split","pattern":{"String":"a"},"behavior":"Sideways","invert":false}`), `behavior "Sideways"`},
		{"prepend_scheme", tiny(`"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"}`), "prepend_scheme"},
		{"padding strategy", tiny(`"padding":{"strategy":"Weird","direction":"Right","pad_id":0,"pad_type_id":0,"pad_token":"[UNK]"}`), "padding strategy"},
		{"truncation strategy", tiny(`"truncation":{"direction":"Right","max_length":5,"strategy":"Random","stride":0}`), "truncation strategy"},
		{"pair template", tiny(`"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"B","type_id":0}}],"special_tokens":{}}`), "sequence \"B\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.js, Options{})
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrUnsupported naming %q", err, c.want)
			}
		})
	}
}

// TestLoadRefusesHostile: malformed and hostile files fail with ErrInvalid
// and a message that says what is wrong.
func TestLoadRefusesHostile(t *testing.T) {
	deep := strings.Repeat(`{"type":"Sequence","normalizers":[`, 40) + `{"type":"NFC"}` + strings.Repeat(`]}`, 40)
	manyAdded := `"added_tokens":[` + strings.TrimSuffix(strings.Repeat(`{"id":1,"content":"x","special":true},`, 50), ",") + `]`
	cases := []struct {
		name, js string
		lim      Limits
		want     string
	}{
		{"not json", `{"model":`, Limits{}, "unexpected end"},
		{"no model", `{"normalizer":null}`, Limits{}, "no model"},
		{"file size", tiny(""), Limits{FileBytes: 100}, "larger than 100 bytes"},
		{"vocab size", tiny(""), Limits{Vocab: 2}, "3 vocabulary entries (limit 2)"},
		{"token size", `{"model":{"type":"WordLevel","vocab":{"` + strings.Repeat("x", 2000) + `":0},"unk_token":"x"}}`, Limits{}, "vocabulary entry of 2000 bytes"},
		{"negative id", `{"model":{"type":"WordLevel","vocab":{"a":-1},"unk_token":"a"}}`, Limits{}, `"a" has id -1`},
		{"merge unknown token", `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a c"]}}`, Limits{}, "not in the vocabulary"},
		{"merge result unknown", `{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}}`, Limits{}, `makes "ab"`},
		{"merge malformed", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}}`, Limits{}, "not two tokens"},
		{"too many merges", `{"model":{"type":"BPE","vocab":{"a":0,"aa":1},"merges":["a a","a a","a a"]}}`, Limits{Merges: 2}, "3 merges (limit 2)"},
		{"unigram unk_id", `{"model":{"type":"Unigram","unk_id":5,"vocab":[["a",-1.0]]}}`, Limits{}, "unk_id 5"},
		{"unigram piece bytes", `{"model":{"type":"Unigram","vocab":[["aaaa",-1.0],["bbbb",-1.0],["cccc",-1.0]]}}`, Limits{PieceBytes: 10}, "more than 10 bytes in all"},
		{"unigram entry", `{"model":{"type":"Unigram","vocab":[["a","high"]]}}`, Limits{}, "entry 0"},
		{"deep sequence", tiny(`"normalizer":` + deep), Limits{}, "nested deeper"},
		{"added tokens", tiny(manyAdded), Limits{AddedTokens: 10}, "50 added tokens (limit 10)"},
		{"charsmap base64", tiny(`"normalizer":{"type":"Precompiled","precompiled_charsmap":"***"}`), Limits{}, "precompiled_charsmap"},
		{"charsmap empty", tiny(`"normalizer":{"type":"Precompiled","precompiled_charsmap":""}`), Limits{}, "is 0 bytes"},
		{"charsmap truncated", tiny(`"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAEAAAAA"}`), Limits{}, "does not fit"},
		{"template unknown special", tiny(`"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[X]","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{}}`), Limits{}, `"[X]"`},
		{"huge padding", tiny(`"padding":{"strategy":{"Fixed":1000000000},"direction":"Right","pad_id":0,"pad_type_id":0,"pad_token":"[UNK]"}`), Limits{}, "more than 65536"},
		{"metaspace replacement", tiny(`"pre_tokenizer":{"type":"Metaspace","replacement":"ab"}`), Limits{}, "not one character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.js, Options{Limits: c.lim})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tk := mustLoadFile(t, "roberta_bpe", Options{})
	if _, err := tk.Encode("bad \xff utf-8"); !errors.Is(err, ErrEncode) {
		t.Fatalf("invalid UTF-8: got %v", err)
	}
	// A Unigram model with no unk_id cannot encode an unknown character.
	u, err := load(t, `{"model":{"type":"Unigram","vocab":[["a",-1.0]]}}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Encode("ab"); !errors.Is(err, ErrEncode) || !strings.Contains(err.Error(), "unk_id") {
		t.Fatalf("unknown char: got %v", err)
	}
	if e, err := u.Encode("aa"); err != nil || len(e.IDs) != 2 {
		t.Fatalf("known chars: %v %v", e.IDs, err)
	}
	// OnlySecond truncation cannot cut a single text (tokenizers: "Second
	// sequence not provided"); a text that fits is fine.
	o, err := load(t, tiny(`"truncation":{"direction":"Right","max_length":2,"strategy":"OnlySecond","stride":0}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Encode("a b a"); !errors.Is(err, ErrEncode) || !strings.Contains(err.Error(), "OnlySecond") {
		t.Fatalf("OnlySecond over length: %v", err)
	}
	if e, err := o.Encode("a b"); err != nil || len(e.IDs) != 2 {
		t.Fatalf("OnlySecond within length: %v %v", e.IDs, err)
	}
}

// TestOptionsOverride: model.yaml's truncation and padding replace the
// file's.
func TestOptionsOverride(t *testing.T) {
	text := strings.Repeat("The delivery arrived a day early. ", 20)
	file := mustLoadFile(t, "roberta_bpe", Options{})
	if tr := file.Truncation(); tr == nil || tr.MaxLength != 128 || tr.Direction != Right {
		t.Fatalf("file truncation: %+v", tr)
	}
	e, err := file.Encode(text)
	if err != nil || len(e.IDs) != 128 {
		t.Fatalf("file truncation: %d ids, %v", len(e.IDs), err)
	}
	cls, _ := file.TokenID("<s>")
	sep, _ := file.TokenID("</s>")
	pad, _ := file.TokenID("<pad>")

	short := mustLoadFile(t, "roberta_bpe", Options{Truncation: &Truncation{MaxLength: 10}})
	e, _ = short.Encode(text)
	if len(e.IDs) != 10 || e.IDs[0] != cls || e.IDs[9] != sep {
		t.Fatalf("override truncation: %v", e.IDs)
	}
	if e.Offsets[1] != [2]int{0, 3} || text[e.Offsets[1][0]:e.Offsets[1][1]] != "The" {
		t.Fatalf("offsets: %v", e.Offsets)
	}

	none := mustLoadFile(t, "roberta_bpe", Options{NoTruncation: true})
	full, _ := none.Encode(text)
	if len(full.IDs) <= 128 {
		t.Fatalf("no truncation: %d ids", len(full.IDs))
	}
	// A max_length under the two special tokens wraps around in tokenizers:
	// nothing is cut.
	wrap := mustLoadFile(t, "roberta_bpe", Options{Truncation: &Truncation{MaxLength: 1}})
	if e, _ := wrap.Encode(text); len(e.IDs) != len(full.IDs) {
		t.Fatalf("max_length 1: %d ids, want all %d", len(e.IDs), len(full.IDs))
	}

	padded := mustLoadFile(t, "roberta_bpe", Options{Padding: &Padding{Length: 16, Direction: Left, ID: pad}})
	e, _ = padded.Encode("Great value")
	if len(e.IDs) != 16 || e.IDs[0] != pad || e.AttentionMask[0] != 0 || e.AttentionMask[15] != 1 || e.IDs[15] != sep {
		t.Fatalf("left padding: ids %v mask %v", e.IDs, e.AttentionMask)
	}

	batch, err := file.EncodeBatch([]string{"Great value", text, "ok"}, 12)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range batch {
		if len(b.IDs) != 12 || len(b.AttentionMask) != 12 || len(b.Offsets) != 12 || len(b.TypeIDs) != 12 {
			t.Fatalf("batch %d: %d ids", i, len(b.IDs))
		}
	}
	if batch[2].AttentionMask[11] != 0 || batch[1].AttentionMask[11] != 1 || batch[2].IDs[11] != 0 {
		t.Fatalf("batch padding: %v %v", batch[2].IDs, batch[2].AttentionMask)
	}
}

// TestHostileTextBounded: long hostile texts encode in bounded time on
// every tokenizer (no quadratic path).
func TestHostileTextBounded(t *testing.T) {
	texts := []string{
		strings.Repeat("a", 40_000),
		strings.Repeat("😀", 10_000),
		strings.Repeat(" ", 40_000),
		strings.Repeat("-", 40_000),
		strings.Repeat("e\u0301", 10_000),
		strings.Repeat("<mask>", 6_000),
		strings.Repeat("ab ", 12_000),
	}
	for _, name := range goldenNames(t) {
		tk := mustLoadFile(t, name, Options{NoTruncation: true})
		for i, s := range texts {
			start := time.Now()
			e, err := tk.Encode(s)
			if err != nil {
				t.Fatalf("%s text %d: %v", name, i, err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("%s text %d (%d bytes): %v", name, i, len(s), d)
			}
			for _, o := range e.Offsets {
				if o[0] < 0 || o[1] > len(s) || o[0] > o[1] {
					t.Fatalf("%s text %d: offsets %v out of range", name, i, o)
				}
			}
		}
	}
}

func TestVocabAndModel(t *testing.T) {
	for _, c := range []struct {
		name, model string
		size        int
	}{
		{"roberta_bpe", "BPE", 2000}, {"xlmr_spm", "Unigram", 1002}, {"wordlevel", "WordLevel", 2000}, {"bert_wordpiece", "WordPiece", 1501},
	} {
		tk := mustLoadFile(t, c.name, Options{})
		if tk.Model() != c.model || tk.VocabSize() != c.size {
			t.Errorf("%s: %s %d, want %s %d", c.name, tk.Model(), tk.VocabSize(), c.model, c.size)
		}
	}
	if _, err := LoadFile(filepath.Join("testdata", "nope.json"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCompileOnig: Oniguruma's Unicode \s \d \w are rewritten, what RE2
// cannot mean the same is refused.
func TestCompileOnig(t *testing.T) {
	ok := []struct{ pattern, text, want string }{
		{`\s+`, "a\u00a0\u3000b", "\u00a0\u3000"},
		{`\d+`, "x٣4y", "٣4"},
		{`\w+`, "--été_1--", "été_1"},
		{`[\s,]+`, "a ,\u2003b", " ,\u2003"},
		{`\p{L}+`, "12abc", "abc"},
		{`[^\r\n\p{L}\p{N}]?\p{L}+`, "1 word", " word"},
		{`[]a]+`, "x]a]y", "]a]"},
	}
	for _, c := range ok {
		re, err := compileOnig(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := re.FindString(c.text); got != c.want {
			t.Errorf("%q on %q: %q, want %q", c.pattern, c.text, got, c.want)
		}
	}
	for _, p := range []string{`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `(?>ab)`, `(a)\1`, `\bword\b`, `a++`, `[\S]`} {
		if _, err := compileOnig(p); err == nil {
			t.Errorf("%q: accepted", p)
		}
	}
}

// TestSplitFinderWhitespaceTail: a pattern ending in \s+(?!\S)|\s+ leaves
// the last space of a run to the next word, as Oniguruma does.
func TestSplitFinderWhitespaceTail(t *testing.T) {
	find, err := splitFinder(`\p{L}+|\s+(?!\S)|\s+`)
	if err != nil {
		t.Fatal(err)
	}
	s := "ab   cd \tx  "
	var got []string
	for _, sp := range find(s) {
		got = append(got, s[sp[0]:sp[1]])
	}
	want := []string{"ab", "  ", " ", "cd", " ", "\t", "x", "  "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCharOffsets(t *testing.T) {
	text := "é😀a"
	got := CharOffsets(text, [][2]int{{0, 2}, {2, 6}, {6, 7}, {0, 0}, {7, 7}})
	want := [][2]int{{0, 1}, {1, 2}, {2, 3}, {0, 0}, {3, 3}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// TestConcurrentEncode: one Tokenizer shared by goroutines (its word caches
// included) gives each the encodings it gives alone.
func TestConcurrentEncode(t *testing.T) {
	texts := loadGoldenTexts(t).Heldout[:60]
	for _, name := range []string{"roberta_bpe", "xlmr_spm"} {
		tk := mustLoadFile(t, name, Options{})
		want := make([][]int, len(texts))
		for i, s := range texts {
			e, err := tk.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			want[i] = e.IDs
		}
		fresh := mustLoadFile(t, name, Options{})
		errs := make(chan string, 8)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for k := range texts {
					i := (k + g*7) % len(texts)
					e, err := fresh.Encode(texts[i])
					if err != nil || !slices.Equal(e.IDs, want[i]) {
						errs <- fmt.Sprintf("%s goroutine %d text %d: %v", name, g, i, err)
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}
