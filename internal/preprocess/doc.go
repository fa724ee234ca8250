// Package preprocess turns raw text into model features exactly as
// scikit-learn's feature extraction does, and cleans text before a model sees
// it.
//
// It holds four groups of parts, shared by every backend:
//
//   - Text analysis ([Analyzer]): Python's str.lower, scikit-learn's accent
//     stripping, token patterns with Python re semantics (Go's RE2 where its
//     translation is exact, else pyre, a small backtracking matcher of
//     CPython's sre rules, checked against recorded re.findall output),
//     stop words, and word,
//     char and char_wb n-grams.
//   - Vectorizers ([CountVectorizer], [TfidfVectorizer], [HashingVectorizer])
//     that map a text to one [Sparse] row, and dense transforms on a row
//     ([TruncatedSVD], [Normalizer], [StandardScaler], [Concat] for a
//     FeatureUnion).
//   - Cleaning steps ([Cleaner]) declared in a model's model.yaml.
//   - Tokenizers that turn a text into vocabulary ids for neural models
//     ([Tokenizer]): BERT WordPiece exactly as Hugging Face tokenizers runs it
//     ([WordPiece], from vocab.txt or [LoadTokenizerJSON]), regex and
//     whitespace word tokenizers with the analyzers' Python rules
//     ([NewWordTokenizer], [NewWhitespaceTokenizer]), and [EncodeBatch],
//     which truncates, adds special tokens, pads and builds attention masks.
//
// The vectorizers are plain structs: the scikit-learn translator fills their
// exported fields from pickled attributes. They are safe for concurrent use
// once built, and their per-text path reuses pooled scratch space.
package preprocess
