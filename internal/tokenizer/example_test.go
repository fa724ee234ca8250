package tokenizer_test

import (
	"fmt"
	"strings"

	"github.com/mlserve/mlserve/internal/tokenizer"
)

// A WordLevel tokenizer.json with a BERT-style template, written inline.
const exampleJSON = `{
  "added_tokens": [
    {"id": 0, "content": "[CLS]", "special": true},
    {"id": 1, "content": "[SEP]", "special": true}
  ],
  "normalizer": {"type": "Lowercase"},
  "pre_tokenizer": {"type": "Whitespace"},
  "model": {"type": "WordLevel", "unk_token": "[UNK]",
            "vocab": {"[CLS]": 0, "[SEP]": 1, "[UNK]": 2, "great": 3, "value": 4, "!": 5}},
  "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 0], "sep": ["[SEP]", 1]}
}`

func Example() {
	tk, err := tokenizer.Load(strings.NewReader(exampleJSON), tokenizer.Options{})
	if err != nil {
		panic(err)
	}
	text := "Great value, really!"
	enc, err := tk.Encode(text)
	if err != nil {
		panic(err)
	}
	fmt.Println(enc.IDs)
	fmt.Println(enc.AttentionMask)
	for _, o := range enc.Offsets[1 : len(enc.Offsets)-1] {
		fmt.Printf("%q ", text[o[0]:o[1]])
	}
	fmt.Println()
	// Output:
	// [0 3 4 2 2 5 1]
	// [1 1 1 1 1 1 1]
	// "Great" "value" "," "really" "!"
}
