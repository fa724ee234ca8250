package preprocess_test

import (
	"fmt"
	"os"

	"github.com/mlserve/mlserve/internal/preprocess"
)

func ExampleLoadTokenizerJSON() {
	f, err := os.Open("testdata/tokenizer/tokenizer.json")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	w, v, err := preprocess.LoadTokenizerJSON(f)
	if err != nil {
		panic(err)
	}
	ids := w.Tokenize("Unaffable CAFÉ!", nil)
	for _, id := range ids {
		fmt.Print(v.Token(id), " ")
	}
	fmt.Println(ids)
	// Hugging Face tokenizers gives the same ids for this text.
	// Output: una ##ffa ##ble cafe ! [14477 20961 3468 7668 999]
}

func ExampleBatch_Encode() {
	v, err := preprocess.NewVocab(map[string]int{"<pad>": 0, "<unk>": 1, "free": 2, "money": 3})
	if err != nil {
		panic(err)
	}
	tok, err := preprocess.NewWordTokenizer(preprocess.DefaultTokenPattern, true, "", v, 1)
	if err != nil {
		panic(err)
	}
	var b preprocess.Batch
	if err := b.Encode(tok, []string{"FREE money, free!", "Hi"}, preprocess.EncodeOptions{MaxLength: 8, PAD: 0}); err != nil {
		panic(err)
	}
	fmt.Println(b.Rows, b.Cols, b.IDs, b.Mask)
	// Output: 2 3 [2 3 2 1 0 0] [1 1 1 1 0 0]
}
