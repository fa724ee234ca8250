package preprocess

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/mlserve/mlserve/internal/memtest"
)

// The sample repository's WordPiece vocabularies: spam/v2's vocab.txt and
// sentiment/v3's tokenizer.json (bert-base-uncased's 30,522 tokens).
var (
	sampleVocabTxt   = filepath.Join("..", "..", "models", "spam", "v2", "vocab.txt")
	sampleTokenizerJ = filepath.Join("..", "..", "models", "sentiment", "v3", "tokenizer.json")
)

func readSample(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sample vocabulary: %v", err)
	}
	return raw
}

// mapVocabTxt is LoadVocab written with a Go map, as it was before the
// compact table: the reference of the differential tests.
func mapVocabTxt(raw []byte) (ids map[string]int, tokens []string) {
	ids = map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, maxVocabLine)
	for sc.Scan() {
		tok := strings.TrimRightFunc(sc.Text(), unicode.IsSpace)
		ids[tok] = len(tokens)
		tokens = append(tokens, tok)
	}
	return ids, tokens
}

// probes are strings near the vocabulary's tokens: every token with its
// last byte cut, a byte added, the "##" prefix toggled, upper-cased, plus
// random bytes (invalid UTF-8 among them) and the empty string.
func probes(tokens []string) []string {
	rng := rand.New(rand.NewPCG(7, 7))
	out := []string{"", " ", "\xff", "##", "[UNK]x"}
	for _, t := range tokens {
		if t == "" {
			continue
		}
		out = append(out, t[:len(t)-1], t+"s", strings.ToUpper(t))
		if rest, ok := strings.CutPrefix(t, "##"); ok {
			out = append(out, rest)
		} else {
			out = append(out, "##"+t)
		}
	}
	for range 5000 {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		out = append(out, string(b))
	}
	return out
}

func diffVocab(t *testing.T, v *Vocab, ids map[string]int, tokens []string, extra ...string) {
	t.Helper()
	if v.Len() != len(tokens) || v.t.Distinct() != len(ids) {
		t.Fatalf("Len %d Distinct %d, map has %d ids %d tokens", v.Len(), v.t.Distinct(), len(tokens), len(ids))
	}
	for id, tok := range tokens {
		if got := v.Token(id); got != tok {
			t.Fatalf("Token(%d) = %q, map %q", id, got, tok)
		}
	}
	check := func(s string) {
		want, wok := ids[s]
		got, ok := v.ID(s)
		bgot, bok := v.idBytes([]byte(s))
		if ok != wok || bok != wok || (wok && (got != want || bgot != want)) {
			t.Fatalf("%q: ID %d %v, idBytes %d %v; map %d %v", s, got, ok, bgot, bok, want, wok)
		}
	}
	for s := range ids {
		check(s)
	}
	for _, s := range append(probes(tokens), extra...) {
		check(s)
	}
}

// TestVocabTableSamples compares the table-backed Vocab with a Go map on
// the real vocabularies of models/ (hits, near misses, random bytes).
func TestVocabTableSamples(t *testing.T) {
	t.Run("vocab.txt", func(t *testing.T) {
		raw := readSample(t, sampleVocabTxt)
		v, err := LoadVocab(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		ids, tokens := mapVocabTxt(raw)
		diffVocab(t, v, ids, tokens)
	})
	t.Run("tokenizer.json", func(t *testing.T) {
		var j struct {
			Model struct {
				Vocab map[string]int `json:"vocab"`
			} `json:"model"`
		}
		raw := readSample(t, sampleTokenizerJ)
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatal(err)
		}
		_, v, err := LoadTokenizerJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		tokens := make([]string, len(j.Model.Vocab))
		for s, id := range j.Model.Vocab {
			tokens[id] = s
		}
		diffVocab(t, v, j.Model.Vocab, tokens)
	})
}

// TestVocabTableDuplicatesAndHoles: LoadVocab's later line wins for ID
// while Token keeps each line; NewVocab's ids may leave holes that answer
// "" and are found by no lookup (not even of "").
func TestVocabTableDuplicatesAndHoles(t *testing.T) {
	raw := []byte("a\nb\n\na \n\xc3\xa9\n\nz")
	v, err := LoadVocab(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ids, tokens := mapVocabTxt(raw)
	diffVocab(t, v, ids, tokens)

	holes := map[string]int{"x": 0, "y": 3, "\xff": 5}
	v, err = NewVocab(holes)
	if err != nil {
		t.Fatal(err)
	}
	diffVocab(t, v, holes, []string{"x", "", "", "y", "", "\xff"})
}

// FuzzVocabTable loads fuzzed vocab.txt bytes and compares every lookup
// with the map reference.
func FuzzVocabTable(f *testing.F) {
	f.Add([]byte("[PAD]\n[UNK]\nhello\n##lo\nhello\n\n"), []byte("hello"))
	f.Add([]byte("a\r\nb\t\n \n"), []byte(""))
	f.Fuzz(func(t *testing.T, raw, probe []byte) {
		v, err := LoadVocab(bytes.NewReader(raw))
		if err != nil {
			return // empty, invalid UTF-8 or an overlong line: refused
		}
		ids, tokens := mapVocabTxt(raw)
		diffVocab(t, v, ids, tokens, string(probe), string(probe)+"\n")
	})
}

// TestVocabMemory bounds the heap a loaded vocabulary keeps: the tokens'
// bytes plus 4 bytes of offset per id and the index's slots, 4 bytes each,
// a power of two at least twice the tokens (under four times: < 16 bytes a
// token), so bytes + 20 per token + 4 KiB of slack covers it. The
// map[string]int and []string it replaced kept ~100 bytes a token (2.29 MB
// for spam/v2's 20,000 tokens in LoadVocab's 32K-entry map, 2.49 MB for
// the 30,522 of tokenizer.json: BenchmarkVocabLoad's retained-B), far past
// the bound.
func TestVocabMemory(t *testing.T) {
	cases := []struct {
		name  string
		path  string
		load  func(raw []byte) (*Vocab, error)
		n     int
		bytes int
	}{
		{"vocab.txt", sampleVocabTxt, func(raw []byte) (*Vocab, error) { return LoadVocab(bytes.NewReader(raw)) }, 20000, 136603},
		{"tokenizer.json", sampleTokenizerJ, func(raw []byte) (*Vocab, error) {
			_, v, err := LoadTokenizerJSON(bytes.NewReader(raw))
			return v, err
		}, 30522, 200986},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := readSample(t, c.path)
			v, err := c.load(raw)
			if err != nil {
				t.Fatal(err)
			}
			got := memtest.HeapKept(func() any { v, _ := c.load(raw); return v })
			if v.Len() != c.n {
				t.Fatalf("%d tokens, want %d (the sample changed: update the case)", v.Len(), c.n)
			}
			bound := int64(c.bytes + 20*c.n + 4<<10)
			t.Logf("%s: %d tokens, %d bytes of tokens: %d bytes retained (table %d), bound %d",
				c.name, c.n, c.bytes, got, v.t.Bytes(), bound)
			if got > bound {
				t.Errorf("retained %d bytes, bound %d", got, bound)
			}
		})
	}
}

// TestCountVectorizerColumns: Column and Term answer vocabulary_ exactly,
// the words the bigram index adds after the columns (here "only" and
// "pair", in no unigram key) included: Column does not find them and Term
// does not name them.
func TestCountVectorizerColumns(t *testing.T) {
	a, err := NewAnalyzer(AnalyzerConfig{Lowercase: true, NgramMin: 1, NgramMax: 2})
	if err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int32{"free": 0, "free prize": 1, "only pair": 2, "prize": 3, "a b c": 4, "": 5, "\xff": 6}
	cv, err := NewCountVectorizer(a, vocab, false)
	if err != nil {
		t.Fatal(err)
	}
	if cv.terms.Len() != len(vocab)+2 {
		t.Fatalf("%d ids, want the %d columns and 2 bigram-only words", cv.terms.Len(), len(vocab))
	}
	if cv.NumFeatures() != len(vocab) {
		t.Fatalf("NumFeatures %d, want %d", cv.NumFeatures(), len(vocab))
	}
	for term, col := range vocab {
		if got, ok := cv.Column([]byte(term)); !ok || got != col {
			t.Errorf("Column(%q) = %d, %v; want %d", term, got, ok, col)
		}
		if got := cv.Term(int(col)); got != term {
			t.Errorf("Term(%d) = %q, want %q", col, got, term)
		}
	}
	for _, miss := range []string{"only", "pair", "free prize ", "a b", "x"} {
		if got, ok := cv.Column([]byte(miss)); ok {
			t.Errorf("Column(%q) = %d, want absent", miss, got)
		}
	}
	for _, col := range []int{-1, len(vocab), len(vocab) + 1} {
		if got := cv.Term(col); got != "" {
			t.Errorf("Term(%d) = %q, want \"\"", col, got)
		}
	}
	var row Sparse
	words, out, _ := cv.TransformOOV("Only pair free prize only", &row)
	ref := referenceCounts(a, vocab, "Only pair free prize only")
	if !slices.Equal(row.Idx, ref.Idx) || !slices.Equal(row.Val, ref.Val) || words != 5 || out != 3 {
		t.Errorf("row %v (%d of %d words out), want %v (3 of 5)", row, out, words, ref)
	}
}
