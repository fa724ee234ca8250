package preprocess

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// The golden files under testdata/tokenizer are written by
// python/fixtures/make_tokenizer_fixtures.py with Hugging Face tokenizers and
// scikit-learn.

type wordpieceGolden struct {
	Tokenizers string             `json:"tokenizers"`
	Texts      []string           `json:"texts"`
	JSON       [][]int            `json:"json"`
	Configs    map[string][][]int `json:"configs"`
	Batch      struct {
		Texts     []string  `json:"texts"`
		MaxLength int       `json:"max_length"`
		IDs       [][]int64 `json:"ids"`
		Mask      [][]int64 `json:"attention_mask"`
		TypeIDs   [][]int64 `json:"type_ids"`
	} `json:"batch"`
	BatchFixed struct {
		IDs  [][]int64 `json:"ids"`
		Mask [][]int64 `json:"attention_mask"`
	} `json:"batch_fixed"`
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "tokenizer", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

var (
	bertOnce  sync.Once
	bertVocab *Vocab
	bertErr   error
)

// loadBertVocab reads the bert-base-uncased vocab.txt once.
func loadBertVocab(t testing.TB) *Vocab {
	t.Helper()
	bertOnce.Do(func() {
		f, err := os.Open(filepath.Join("testdata", "tokenizer", "vocab.txt"))
		if err != nil {
			bertErr = err
			return
		}
		defer f.Close()
		bertVocab, bertErr = LoadVocab(f)
	})
	if bertErr != nil {
		t.Fatal(bertErr)
	}
	return bertVocab
}

func loadTokenizerJSON(t testing.TB) *WordPiece {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _, err := LoadTokenizerJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func boolPtr(b bool) *bool { return &b }

// configOptions are the WordPieceOptions for the configurations the fixture
// script builds with BertWordPieceTokenizer.
func configOptions(name string) WordPieceOptions {
	o := DefaultWordPieceOptions()
	switch name {
	case "uncased":
	case "cased":
		o.Lowercase = false
	case "cased_strip":
		o.Lowercase, o.StripAccents = false, boolPtr(true)
	case "uncased_nostrip":
		o.StripAccents = boolPtr(false)
	case "raw":
		o.CleanText, o.HandleChineseChars = false, false
	case "short_words":
		o.MaxInputCharsPerWord = 8
	default:
		panic("unknown config " + name)
	}
	return o
}

// describe shows ids with their tokens for a failure message.
func describe(v *Vocab, ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%q", id, v.Token(id))
	}
	return b.String()
}

func TestWordPieceGolden(t *testing.T) {
	var g wordpieceGolden
	readJSON(t, "wordpiece.json", &g)
	if len(g.Texts) < 250 {
		t.Fatalf("golden file has %d texts", len(g.Texts))
	}
	v := loadBertVocab(t)
	check := func(t *testing.T, w *WordPiece, want [][]int) {
		t.Helper()
		if len(want) != len(g.Texts) {
			t.Fatalf("%d expected rows for %d texts", len(want), len(g.Texts))
		}
		bad := 0
		for i, text := range g.Texts {
			got := w.Tokenize(text, nil)
			if !slices.Equal(got, want[i]) {
				bad++
				if bad <= 8 {
					t.Errorf("text %d %+q:\n got %s\nwant %s", i, text, describe(v, got), describe(v, want[i]))
				}
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d texts differ from Hugging Face tokenizers %s", bad, len(g.Texts), g.Tokenizers)
		}
	}
	t.Run("tokenizer.json", func(t *testing.T) {
		check(t, loadTokenizerJSON(t), g.JSON)
	})
	for name, want := range g.Configs {
		t.Run("vocab.txt/"+name, func(t *testing.T) {
			w, err := NewWordPiece(v, configOptions(name))
			if err != nil {
				t.Fatal(err)
			}
			check(t, w, want)
		})
	}
}

func TestTokenizerJSONSpecials(t *testing.T) {
	w := loadTokenizerJSON(t)
	want := SpecialTokens{CLS: 101, SEP: 102, PAD: 0, UNK: 100}
	if got := w.Special(); got != want {
		t.Errorf("Special() = %+v, want %+v", got, want)
	}
	if w.MaxLength() != 128 {
		t.Errorf("MaxLength() = %d, the file's truncation says 128", w.MaxLength())
	}
	if w.Vocab().Len() != 30522 {
		t.Errorf("vocab size %d, want 30522", w.Vocab().Len())
	}
	o := w.Options()
	if !o.Lowercase || o.StripAccents != nil || !o.CleanText || !o.HandleChineseChars || o.MaxInputCharsPerWord != 100 {
		t.Errorf("options %+v do not match the file's BertNormalizer/WordPiece", o)
	}
}

func TestEncodeBatchGolden(t *testing.T) {
	var g wordpieceGolden
	readJSON(t, "wordpiece.json", &g)
	w := loadTokenizerJSON(t)
	sp := w.Special()
	o := EncodeOptions{MaxLength: g.Batch.MaxLength, AddSpecial: true, CLS: sp.CLS, SEP: sp.SEP, PAD: sp.PAD}
	cases := []struct {
		name      string
		padding   string
		ids, mask [][]int64
	}{
		{"longest", PadLongest, g.Batch.IDs, g.Batch.Mask},
		{"max_length", PadMaxLength, g.BatchFixed.IDs, g.BatchFixed.Mask},
	}
	var b Batch // reused across cases
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o.Padding = c.padding
			if err := b.Encode(w, g.Batch.Texts, o); err != nil {
				t.Fatal(err)
			}
			if b.Rows != len(c.ids) || b.Cols != len(c.ids[0]) {
				t.Fatalf("batch %dx%d, want %dx%d", b.Rows, b.Cols, len(c.ids), len(c.ids[0]))
			}
			for i := range c.ids {
				row := b.IDs[i*b.Cols : (i+1)*b.Cols]
				mask := b.Mask[i*b.Cols : (i+1)*b.Cols]
				types := b.TypeIDs[i*b.Cols : (i+1)*b.Cols]
				if !slices.Equal(row, c.ids[i]) || !slices.Equal(mask, c.mask[i]) {
					t.Errorf("row %d %+q:\n ids %v mask %v\nwant %v mask %v", i, g.Batch.Texts[i], row, mask, c.ids[i], c.mask[i])
				}
				if c.padding == PadLongest && !slices.Equal(types, g.Batch.TypeIDs[i]) {
					t.Errorf("row %d type ids %v, want %v", i, types, g.Batch.TypeIDs[i])
				}
				n := 0
				for _, m := range c.mask[i] {
					n += int(m)
				}
				if b.Lens[i] != n || len(b.Row(i)) != n {
					t.Errorf("row %d length %d, want %d", i, b.Lens[i], n)
				}
			}
		})
	}
}

func TestEncodeOptions(t *testing.T) {
	v, err := NewVocab(map[string]int{"<pad>": 0, "<unk>": 1, "a": 2, "b": 3, "c": 4})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewWhitespaceTokenizer(true, "", v, 1)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a b c a b", "", "c x"}
	cases := []struct {
		name string
		o    EncodeOptions
		ids  [][]int64
		err  bool
	}{
		{"no truncation", EncodeOptions{PAD: 0}, [][]int64{{2, 3, 4, 2, 3}, {0, 0, 0, 0, 0}, {4, 1, 0, 0, 0}}, false},
		{"truncate", EncodeOptions{MaxLength: 3, PAD: 0}, [][]int64{{2, 3, 4}, {0, 0, 0}, {4, 1, 0}}, false},
		{"max_length pads", EncodeOptions{MaxLength: 6, Padding: PadMaxLength, PAD: 9}, [][]int64{{2, 3, 4, 2, 3, 9}, {9, 9, 9, 9, 9, 9}, {4, 1, 9, 9, 9, 9}}, false},
		{"specials", EncodeOptions{MaxLength: 4, AddSpecial: true, CLS: 7, SEP: 8}, [][]int64{{7, 2, 3, 8}, {7, 8, 0, 0}, {7, 4, 1, 8}}, false},
		{"specials exact fit", EncodeOptions{MaxLength: 2, AddSpecial: true, CLS: 7, SEP: 8}, [][]int64{{7, 8}, {7, 8}, {7, 8}}, false},
		{"bad padding", EncodeOptions{Padding: "left"}, nil, true},
		{"max_length without length", EncodeOptions{Padding: PadMaxLength}, nil, true},
		{"too short for specials", EncodeOptions{MaxLength: 1, AddSpecial: true}, nil, true},
		{"negative", EncodeOptions{MaxLength: -1}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := EncodeBatch(tok, texts, c.o)
			if c.err {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]int64
			for i := 0; i < b.Rows; i++ {
				got = append(got, b.IDs[i*b.Cols:(i+1)*b.Cols])
				for j := 0; j < b.Cols; j++ {
					if want := int64(0); j < b.Lens[i] {
						want = 1
						if b.Mask[i*b.Cols+j] != want {
							t.Errorf("mask[%d][%d] = %d", i, j, b.Mask[i*b.Cols+j])
						}
					} else if b.Mask[i*b.Cols+j] != want {
						t.Errorf("mask[%d][%d] = %d", i, j, b.Mask[i*b.Cols+j])
					}
				}
			}
			if !slices.EqualFunc(got, c.ids, slices.Equal) {
				t.Errorf("ids %v, want %v", got, c.ids)
			}
		})
	}
	t.Run("empty batch", func(t *testing.T) {
		b, err := EncodeBatch(tok, nil, EncodeOptions{})
		if err != nil || b.Rows != 0 || b.Cols != 0 || len(b.IDs) != 0 {
			t.Errorf("got %+v, %v", b, err)
		}
	})
}

type wordsGolden struct {
	Texts []string `json:"texts"`
	Cases []struct {
		Pattern      string     `json:"pattern"`
		Lowercase    bool       `json:"lowercase"`
		StripAccents string     `json:"strip_accents"`
		Words        [][]string `json:"words"`
		IDs          [][]int    `json:"ids"`
	} `json:"cases"`
}

// wordsVocab is the vocabulary the word-tokenizer golden file was made with.
func wordsVocab(t testing.TB) *Vocab {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "tokenizer", "words_vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := LoadVocab(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWordTokenizerGolden(t *testing.T) {
	var g wordsGolden
	readJSON(t, "words.json", &g)
	v := wordsVocab(t)
	for _, c := range g.Cases {
		name := fmt.Sprintf("%s/lower=%v/strip=%q", c.Pattern, c.Lowercase, c.StripAccents)
		t.Run(name, func(t *testing.T) {
			var tok *WordTokenizer
			var err error
			if c.Pattern == "whitespace" {
				tok, err = NewWhitespaceTokenizer(c.Lowercase, c.StripAccents, v, 1)
			} else {
				tok, err = NewWordTokenizer(c.Pattern, c.Lowercase, c.StripAccents, v, 1)
			}
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, text := range g.Texts {
				words := tok.Words(text)
				if len(words) == 0 {
					words = []string{}
				}
				if !slices.Equal(words, c.Words[i]) {
					bad++
					if bad <= 5 {
						t.Errorf("text %d %+q:\n got %q\nwant %q", i, text, words, c.Words[i])
					}
				}
				if c.IDs != nil {
					if got := tok.Tokenize(text, nil); !slices.Equal(got, c.IDs[i]) {
						t.Errorf("text %d ids %v, want %v", i, got, c.IDs[i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d texts differ from Python", bad, len(g.Texts))
			}
		})
	}
}

func TestWordTokenizerUnknown(t *testing.T) {
	v, err := NewVocab(map[string]int{"<pad>": 0, "<unk>": 1, "spam": 2})
	if err != nil {
		t.Fatal(err)
	}
	drop, err := NewWordTokenizer("", true, "", v, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := drop.Tokenize("SPAM and eggs spam", nil); !slices.Equal(got, []int{2, 2}) {
		t.Errorf("dropping unknown words: %v", got)
	}
	if _, err := NewWordTokenizer("", true, "", v, 3); !errors.Is(err, ErrConfig) {
		t.Errorf("unk id outside the vocabulary: err = %v", err)
	}
	// Lookahead is matched by pyre now; a conditional group is still refused.
	if _, err := NewWordTokenizer(`(\w)?(?(1)a|b)`, true, "", v, 1); !errors.Is(err, ErrPattern) {
		t.Errorf("conditional pattern: err = %v", err)
	}
	look, err := NewWordTokenizer(`\w+(?=\s)`, true, "", v, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := look.Tokenize("SPAM and spam", nil); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("lookahead pattern: %v, want [2 1] (the last word has no space after it)", got)
	}
}

func TestLoadVocab(t *testing.T) {
	var want map[string]int
	readJSON(t, "vocab_edge.json", &want)
	f, err := os.Open(filepath.Join("testdata", "tokenizer", "vocab_edge.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := LoadVocab(f)
	if err != nil {
		t.Fatal(err)
	}
	for tok, id := range want {
		if got, ok := v.ID(tok); !ok || got != id {
			t.Errorf("ID(%q) = %d, %v; tokenizers says %d", tok, got, ok, id)
		}
	}
	if v.t.Distinct() != len(want) {
		t.Errorf("%d distinct tokens, tokenizers reads %d", v.t.Distinct(), len(want))
	}
	if v.Len() != 9 || v.Token(8) != "last" || v.Token(2) != "hello" || v.Token(9) != "" || v.Token(-1) != "" {
		t.Errorf("Len %d, Token(8) %q, Token(2) %q", v.Len(), v.Token(8), v.Token(2))
	}

	bad := []struct{ name, in string }{
		{"empty", ""},
		{"not utf-8", "a\n\xff\n"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := LoadVocab(strings.NewReader(c.in)); !errors.Is(err, ErrVocab) {
				t.Errorf("err = %v, want ErrVocab", err)
			}
		})
	}
}

func TestNewVocabErrors(t *testing.T) {
	cases := []struct {
		name string
		ids  map[string]int
	}{
		{"empty", nil},
		{"negative", map[string]int{"a": -1}},
		{"shared id", map[string]int{"a": 0, "b": 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewVocab(c.ids); !errors.Is(err, ErrVocab) {
				t.Errorf("err = %v, want ErrVocab", err)
			}
		})
	}
}

func TestLoadTokenizerJSONRefuses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		edit   func(d map[string]any)
		substr string
	}{
		{"bpe model", func(d map[string]any) { d["model"].(map[string]any)["type"] = "BPE" }, `model type "BPE"`},
		{"no normalizer", func(d map[string]any) { d["normalizer"] = nil }, "normalizer (none)"},
		{"sequence normalizer", func(d map[string]any) { d["normalizer"] = map[string]any{"type": "Sequence"} }, `normalizer "Sequence"`},
		{"metaspace", func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }, `pre_tokenizer "Metaspace"`},
		{"roberta post", func(d map[string]any) { d["post_processor"] = map[string]any{"type": "RobertaProcessing"} }, "RobertaProcessing"},
		{"lstrip added token", func(d map[string]any) {
			d["added_tokens"].([]any)[4].(map[string]any)["lstrip"] = true
		}, `added token "[MASK]"`},
		{"unk missing", func(d map[string]any) { d["model"].(map[string]any)["unk_token"] = "<unk>" }, `unk token "<unk>"`},
		{"not json", nil, "tokenizer.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := "{not json"
			if c.edit != nil {
				var d map[string]any
				_ = json.Unmarshal(b, &d)
				c.edit(d)
				out, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				in = string(out)
			}
			_, _, err := LoadTokenizerJSON(strings.NewReader(in))
			if err == nil || !strings.Contains(err.Error(), c.substr) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.substr)
			}
			if !errors.Is(err, ErrVocab) && !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v wraps neither ErrVocab nor ErrConfig", err)
			}
		})
	}
}

// FuzzWordPiece checks that any input tokenizes without panicking, to ids in
// the vocabulary, the same way twice, and that cutting a text at a space
// never changes the ids of a text of plain ASCII words.
func FuzzWordPiece(f *testing.F) {
	var g wordpieceGolden
	readJSON(f, "wordpiece.json", &g)
	for _, s := range g.Texts[:120] {
		f.Add(s)
	}
	f.Add("\xff\xfe invalid utf-8 [SEP")
	w := loadTokenizerJSON(f)
	v := w.Vocab()
	f.Fuzz(func(t *testing.T, s string) {
		a := w.Tokenize(s, nil)
		for _, id := range a {
			if id < 0 || id >= v.Len() {
				t.Fatalf("id %d outside the vocabulary", id)
			}
		}
		if b := w.Tokenize(s, make([]int, 3)); !slices.Equal(a, b[3:]) {
			t.Fatalf("second call differs: %v vs %v", a, b[3:])
		}
		if utf8.ValidString(s) && strings.TrimSpace(s) == "" && len(a) != 0 {
			t.Fatalf("whitespace-only %q gave %v", s, a)
		}
		var batch Batch
		if err := batch.Encode(w, []string{s, s}, EncodeOptions{MaxLength: 8, AddSpecial: true, CLS: 101, SEP: 102}); err != nil {
			t.Fatal(err)
		}
		if n := min(len(a)+2, 8); batch.Lens[0] != n || batch.Cols != n {
			t.Fatalf("batch row length %d, cols %d, want %d", batch.Lens[0], batch.Cols, n)
		}
	})
}

// FuzzWordTokenizer checks the regex and whitespace tokenizers on any input.
func FuzzWordTokenizer(f *testing.F) {
	for _, s := range hardTexts {
		f.Add(s)
	}
	f.Add("a\x1cb\u3000c\u0085d")
	v, err := NewVocab(map[string]int{"<pad>": 0, "<unk>": 1, "the": 2, "a": 3})
	if err != nil {
		f.Fatal(err)
	}
	re, err := NewWordTokenizer("", true, "unicode", v, 1)
	if err != nil {
		f.Fatal(err)
	}
	ws, err := NewWhitespaceTokenizer(true, "", v, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range []*WordTokenizer{re, ws} {
			ids := tok.Tokenize(s, nil)
			words := tok.Words(s)
			if len(ids) != len(words) {
				t.Fatalf("%d ids for %d words", len(ids), len(words))
			}
			for _, id := range ids {
				if id < 1 || id > 3 {
					t.Fatalf("id %d", id)
				}
			}
			for _, w := range words {
				if w == "" {
					t.Fatalf("empty word in %q", words)
				}
			}
		}
	})
}
