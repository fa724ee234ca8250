package onnx

import (
	"sync"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// idsPool holds OOVRate's token id buffers.
var idsPool = sync.Pool{New: func() any { return new([]int) }}

// OOVRate is the out-of-vocabulary rate of text, the drift signal
// monitoring watches: the share of unknown-token ids among the word ids the
// model sees, that is after truncation to max_length, with [CLS]/[SEP] and
// padding left out; a text without word ids has rate 0. For a regex or
// whitespace tokenizer the unknown ids are the words missing from
// vocab.txt (python/train_torch.py oov_rate); for WordPiece, the pieces
// that are the unknown token (python/train_two_stage.py unk_rate). Both
// scripts define model.yaml's reference histogram so. text is the text
// after model.yaml's cleaning steps. Predict measures the same rate from
// its encoded batch (Prediction.OOV); OOVRate is for a text not run
// through Predict, such as a cached answer. ok is always true.
func (m *Model) OOVRate(text string) (rate float64, ok bool) {
	p := idsPool.Get().(*[]int)
	defer idsPool.Put(p)
	*p = m.tok.TokenizeN(text, (*p)[:0], m.wordLimit())
	unknown := 0
	for _, id := range *p {
		if id == m.unk {
			unknown++
		}
	}
	if len(*p) == 0 {
		return 0, true
	}
	return float64(unknown) / float64(len(*p)), true
}

// wordLimit is how many word ids of a text the model sees: max_length less
// the special tokens, or 0 (no limit) without max_length.
func (m *Model) wordLimit() int {
	if m.enc.MaxLength <= 0 {
		return 0
	}
	if m.enc.AddSpecial {
		return m.enc.MaxLength - 2
	}
	return m.enc.MaxLength
}

// batchOOV writes to oov the out-of-vocabulary rate of each row of the
// encoded batch b, as OOVRate defines it: unknown ids among the row's word
// ids, special tokens and padding aside.
func (m *Model) batchOOV(b *preprocess.Batch, oov []model.OOVRate) {
	for i := range oov {
		row := b.Row(i)
		if m.enc.AddSpecial && len(row) >= 2 {
			row = row[1 : len(row)-1]
		}
		unknown := 0
		for _, id := range row {
			if id == int64(m.unk) {
				unknown++
			}
		}
		rate := 0.0
		if len(row) > 0 {
			rate = float64(unknown) / float64(len(row))
		}
		oov[i] = model.OOVRate{Rate: rate, Measured: true}
	}
}
