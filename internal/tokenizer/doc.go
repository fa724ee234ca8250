// Package tokenizer encodes text as a Hugging Face tokenizer.json says,
// giving the ids, type ids, attention mask and offsets the Rust `tokenizers`
// library gives, id for id, so that a transformer exported with its
// tokenizer.json (optimum, torch.onnx.export) serves without Python.
//
// # The pipeline
//
// [Tokenizer.Encode] runs the stages of tokenizers' Tokenizer::encode in
// order, each over a piece of text that remembers, for every byte, the
// range of the original text it came from (so offsets survive every
// rewrite):
//
//  1. added_tokens: tokens with normalized=false are found in the raw text
//     (leftmost, longest; single_word, lstrip, rstrip honoured) and kept
//     whole; the rest of the text is normalized and searched again for the
//     tokens with normalized=true.
//  2. normalizer: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents,
//     Replace, Prepend, Precompiled (SentencePiece's character map: a
//     double-array trie read as SentencePiece reads it, grapheme by
//     grapheme), BertNormalizer, Sequence.
//  3. pre_tokenizer: ByteLevel (GPT-2's regex, hand-written because it
//     needs a lookahead; add_prefix_space; use_regex), Metaspace
//     (replacement, prepend_scheme always/first/never, split), Whitespace,
//     WhitespaceSplit, Punctuation, Digits, Split (literal or regex,
//     behaviour, invert), BertPreTokenizer, Sequence.
//  4. model, on each split: BPE (merges by rank, byte-level or with
//     continuing_subword_prefix/end_of_word_suffix, ignore_merges,
//     byte_fallback, unk and fuse_unk; dropout must be off), Unigram (Viterbi
//     over the pieces' scores, unknown characters fused, byte_fallback),
//     WordLevel, WordPiece.
//  5. truncation (leaving room for the special tokens), then the
//     post_processor: BertProcessing, RobertaProcessing (with trim_offsets),
//     TemplateProcessing (single sequence), ByteLevel, Sequence; then
//     padding.
//
// Decoders are read past and ignored: this package only encodes.
//
// Anything else in a file is refused at [Load] with an error wrapping
// [ErrUnsupported] that names the component. A Split or Replace regex is
// Oniguruma's; it runs on Go's regexp with \s \d \w rewritten to their
// Unicode meaning. The lookahead that ends the GPT-2 family of patterns
// (`...|\s+(?!\S)|\s+`: GPT-2, Llama 3, Qwen 2) is matched by hand; any
// other lookaround, backreference, \b or possessive form is refused.
//
// # Offsets
//
// [Encoding.Offsets] are byte offsets into the text given to Encode;
// [CharOffsets] converts them to code-point offsets, which is what the
// Python binding reports. A byte-level token that holds part of a
// character's bytes covers the whole character.
//
// # Unicode versions
//
// tokenizers classifies characters with tables of several Unicode versions
// (Rust's standard library is current; the crates it uses for punctuation
// categories and normalization alignments are years older), and this package uses
// Go's (15.0). A character assigned in between can be read differently
// (punctuation or not, letter or not), so ids can differ on text holding
// such characters; the parity suite's random texts draw arbitrary code
// points only from those assigned in Unicode 3.2, plus emoji, CJK and
// combining marks. Unigram scores are read as serde_json reads them (not
// always the nearest float64), since Viterbi ties turn on the last bit.
//
// # Limits
//
// A tokenizer.json is untrusted input: [Limits] bound its size, its
// vocabulary, merges and added tokens, the length of one token, the bytes
// its prefix tries hold and the nesting of Sequence components; padding is
// bounded too. A merge naming a token outside the vocabulary, an id out of
// range or a malformed charsmap are errors wrapping [ErrInvalid]. Encoding time is linear in the text's length
// (BPE's merges are O(n log n) per word, Unigram's lattice O(n·longest
// piece)).
package tokenizer
