package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlserve/mlserve/internal/preprocess"
)

// sentimentV3 is the sentiment-v3 model's tokenizer.json, which the ONNX
// backend reads today with preprocess.LoadTokenizerJSON (model.yaml's
// tokenizer type wordpiece) and which this package reads too: the two must
// give the same ids before that path can move here.
var sentimentV3 = filepath.Join("..", "..", "models", "sentiment", "v3", "tokenizer.json")

// wordPieceBoth loads sentiment-v3's tokenizer.json with both readers.
func wordPieceBoth(t testing.TB) (*preprocess.WordPiece, *Tokenizer) {
	t.Helper()
	f, err := os.Open(sentimentV3)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old, _, err := preprocess.LoadTokenizerJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := LoadFile(sentimentV3, Options{NoTruncation: true, NoPadding: true})
	if err != nil {
		t.Fatal(err)
	}
	return old, tk
}

// textIDs are the ids Encode gives text, the post-processor's special
// tokens left out (what the ONNX backend's wordpiece path takes from
// preprocess.WordPiece.Tokenize).
func textIDs(t testing.TB, tk *Tokenizer, text string) []int {
	t.Helper()
	e, err := tk.Encode(text)
	if err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	var ids []int
	for i, id := range e.IDs {
		if e.SpecialTokensMask[i] == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestWordPieceMatchesPreprocess: on sentiment-v3's tokenizer.json, this
// package and preprocess's WordPiece give the same ids for every held-out,
// hard and random sample text (this package's own goldens prove it against Hugging
// Face tokenizers), and Encode's specials are the [CLS] and [SEP] that
// preprocess wraps sequences in.
func TestWordPieceMatchesPreprocess(t *testing.T) {
	old, tk := wordPieceBoth(t)
	g := loadGoldenTexts(t)
	texts := slices.Concat(g.Heldout, g.Hard, g.Random)
	if len(texts) < 100 {
		t.Fatalf("%d sample texts", len(texts))
	}
	for _, s := range texts {
		want := old.Tokenize(s, nil)
		if got := textIDs(t, tk, s); !slices.Equal(got, want) {
			t.Errorf("%q:\n tokenizer  %v\n preprocess %v", s, got, want)
		}
	}
	e, err := tk.Encode("good")
	if err != nil {
		t.Fatal(err)
	}
	sp := old.Special()
	if n := len(e.IDs); n < 2 || e.IDs[0] != sp.CLS || e.IDs[n-1] != sp.SEP {
		t.Errorf("Encode(good) = %v, want [CLS]=%d ... [SEP]=%d", e.IDs, sp.CLS, sp.SEP)
	}
}

// BenchmarkWordPieceVsPreprocess times the two readers of sentiment-v3's
// tokenizer.json side by side in one run over the held-out texts, in µs per
// text: "preprocess" as the ONNX backend's wordpiece path calls it
// (Tokenize into a reused slice), "tokenizer" as its huggingface path does
// (Encode, specials then dropped).
func BenchmarkWordPieceVsPreprocess(b *testing.B) {
	old, tk := wordPieceBoth(b)
	texts := loadGoldenTexts(b).Heldout
	b.Run("preprocess", func(b *testing.B) {
		b.ReportAllocs()
		var dst []int
		n := 0
		for b.Loop() {
			dst = old.Tokenize(texts[n%len(texts)], dst[:0])
			n++
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/text")
	})
	b.Run("tokenizer", func(b *testing.B) { benchEncode(b, tk, texts) })
}
