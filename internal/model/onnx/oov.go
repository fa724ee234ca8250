package onnx

// unknownCounter is a tokenizer that can count a text's out-of-vocabulary
// tokens: preprocess.WordTokenizer (words missing from vocab.txt) and
// preprocess.WordPiece (word pieces that are the unknown token).
type unknownCounter interface {
	CountUnknown(text string) (unknown, total int)
}

// OOVRate is the share of all of text's tokens (untruncated, special tokens
// aside) that are out of the vocabulary, the drift signal monitoring
// watches, defined as the training scripts define the reference histogram
// in model.yaml: for a regex or whitespace tokenizer, the words not in the
// vocabulary (python/train_torch.py oov_rate); for WordPiece, the pieces
// that are the unknown token (python/train_two_stage.py unk_rate). text is
// the text after model.yaml's cleaning steps; a text without tokens has
// rate 0. ok is false only for a tokenizer that cannot count.
func (m *Model) OOVRate(text string) (rate float64, ok bool) {
	c, ok := m.tok.(unknownCounter)
	if !ok {
		return 0, false
	}
	unknown, total := c.CountUnknown(text)
	if total == 0 {
		return 0, true
	}
	return float64(unknown) / float64(total), true
}
