package tokenizer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The goldens are written by python/make_tokenizer_goldens.py with the
// pinned `tokenizers` (python/requirements-tokenizers.txt): small tokenizers
// of every family trained on the repository's text, and what they give for
// held-out texts, a hard set and 10,000 random Unicode texts.

type goldenTexts struct {
	Heldout []string `json:"heldout"`
	Hard    []string `json:"hard"`
	Random  []string `json:"random"`
}

type goldenRecord struct {
	IDs     []int  `json:"ids"`
	TypeIDs string `json:"type_ids"`
	Mask    string `json:"mask"`
	Special string `json:"special"`
	Offsets []int  `json:"offsets"`
}

type goldenFile struct {
	Heldout []*goldenRecord `json:"heldout"`
	Hard    []*goldenRecord `json:"hard"`
	Random  string          `json:"random"`
	Batch   []*goldenRecord `json:"batch"`
}

func readGzipJSON(t testing.TB, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(z).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadGoldenTexts(t testing.TB) goldenTexts {
	var g goldenTexts
	readGzipJSON(t, filepath.Join("testdata", "texts.json.gz"), &g)
	return g
}

// goldenNames are the tokenizers under testdata.
func goldenNames(t testing.TB) []string {
	ms, err := filepath.Glob(filepath.Join("testdata", "goldens", "*.json.gz"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".json.gz"))
	}
	return names
}

func digits(xs []int) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func flatOffsets(text string, e *Encoding) []int {
	var out []int
	for _, o := range CharOffsets(text, e.Offsets) {
		out = append(out, o[0], o[1])
	}
	return out
}

// digest is the Python script's digest(): the first 8 hex digits of the
// SHA-256 of ids|type_ids|mask|offsets.
func digest(text string, e *Encoding) string {
	s := joinInts(e.IDs) + "|" + joinInts(e.TypeIDs) + "|" + joinInts(e.AttentionMask) + "|" + joinInts(flatOffsets(text, e))
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:8]
}

// compare reports how e differs from the golden record, "" when identical.
func compare(text string, e *Encoding, g *goldenRecord) string {
	if g.IDs == nil {
		g.IDs = []int{}
	}
	var diffs []string
	if joinInts(e.IDs) != joinInts(g.IDs) {
		diffs = append(diffs, "ids\n  go: "+joinInts(e.IDs)+"\n  hf: "+joinInts(g.IDs))
	}
	if digits(e.TypeIDs) != g.TypeIDs {
		diffs = append(diffs, "type ids go "+digits(e.TypeIDs)+" hf "+g.TypeIDs)
	}
	if digits(e.AttentionMask) != g.Mask {
		diffs = append(diffs, "mask go "+digits(e.AttentionMask)+" hf "+g.Mask)
	}
	if digits(e.SpecialTokensMask) != g.Special {
		diffs = append(diffs, "special tokens mask go "+digits(e.SpecialTokensMask)+" hf "+g.Special)
	}
	if got := joinInts(flatOffsets(text, e)); got != joinInts(g.Offsets) {
		diffs = append(diffs, "offsets\n  go: "+got+"\n  hf: "+joinInts(g.Offsets))
	}
	return strings.Join(diffs, "\n")
}

func short(s string) string {
	if len(s) > 120 {
		return strconv.Quote(s[:120]) + "..."
	}
	return strconv.Quote(s)
}

// TestGoldenParity asserts ids, type ids, attention masks, special-tokens
// masks and character offsets identical to Hugging Face tokenizers for every tokenizer under
// testdata, on held-out texts, the hard set, 10,000 random texts (by
// digest) and one padded batch.
func TestGoldenParity(t *testing.T) {
	texts := loadGoldenTexts(t)
	if len(texts.Random) != 10000 || len(texts.Hard) < 40 || len(texts.Heldout) < 100 {
		t.Fatalf("texts: %d held-out, %d hard, %d random", len(texts.Heldout), len(texts.Hard), len(texts.Random))
	}
	for _, name := range goldenNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tk, err := LoadFile(filepath.Join("testdata", name, "tokenizer.json"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var g goldenFile
			readGzipJSON(t, filepath.Join("testdata", "goldens", name+".json.gz"), &g)
			fails := 0
			check := func(part string, i int, text string, want *goldenRecord) {
				e, err := tk.Encode(text)
				if want == nil {
					if err == nil {
						fails++
						t.Errorf("%s %d %s: hf refused, go encoded", part, i, short(text))
					}
					return
				}
				if err != nil {
					fails++
					t.Errorf("%s %d %s: %v", part, i, short(text), err)
					return
				}
				if d := compare(text, &e, want); d != "" {
					fails++
					if fails <= 8 {
						t.Errorf("%s %d %s:\n%s", part, i, short(text), d)
					}
				}
			}
			for i, s := range texts.Heldout {
				check("heldout", i, s, g.Heldout[i])
			}
			for i, s := range texts.Hard {
				check("hard", i, s, g.Hard[i])
			}
			if len(g.Random) != 8*len(texts.Random) {
				t.Fatalf("random digests: %d chars", len(g.Random))
			}
			rfails := 0
			for i, s := range texts.Random {
				want := g.Random[8*i : 8*i+8]
				e, err := tk.Encode(s)
				got := "xxxxxxxx"
				if err == nil {
					got = digest(s, &e)
				}
				if got != want {
					rfails++
					if rfails <= 5 {
						t.Errorf("random %d %s: digest go %s hf %s; ids %v offsets %v", i, short(s), got, want, e.IDs, CharOffsets(s, e.Offsets))
					}
				}
			}
			if rfails > 0 {
				t.Errorf("%d of %d random texts differ", rfails, len(texts.Random))
			}
			batch, err := tk.EncodeBatch(texts.Heldout[:len(g.Batch)], 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range batch {
				if d := compare(texts.Heldout[i], &batch[i], g.Batch[i]); d != "" {
					t.Errorf("batch %d: %s", i, d)
				}
			}
		})
	}
}
