package preprocess

import (
	"fmt"
	"strings"
	"sync"
)

// Padding strategies for [EncodeOptions].
const (
	// PadLongest pads every row to the longest row of the batch.
	PadLongest = "longest"
	// PadMaxLength pads every row to MaxLength.
	PadMaxLength = "max_length"
)

// EncodeOptions say how token ids become a model's input batch.
type EncodeOptions struct {
	// MaxLength truncates each row to this many ids, special tokens
	// included; 0 means no truncation (Padding must then be PadLongest).
	MaxLength int
	// Padding is PadLongest (the default when empty) or PadMaxLength.
	Padding string
	// AddSpecial wraps each row as [CLS] ids [SEP].
	AddSpecial bool
	// CLS, SEP and PAD are the special ids; CLS and SEP are used only with
	// AddSpecial.
	CLS, SEP, PAD int
}

// Validate checks the options.
func (o EncodeOptions) Validate() error {
	switch o.Padding {
	case "", PadLongest:
	case PadMaxLength:
		if o.MaxLength <= 0 {
			return fmt.Errorf("%w: padding %q needs max_length > 0", ErrConfig, o.Padding)
		}
	default:
		return fmt.Errorf("%w: padding %q (want %q or %q)", ErrConfig, o.Padding, PadLongest, PadMaxLength)
	}
	if o.MaxLength < 0 {
		return fmt.Errorf("%w: max_length %d", ErrConfig, o.MaxLength)
	}
	if o.AddSpecial && o.MaxLength > 0 && o.MaxLength < 2 {
		return fmt.Errorf("%w: max_length %d leaves no room for [CLS] and [SEP]", ErrConfig, o.MaxLength)
	}
	return nil
}

// Batch is a padded batch of token ids, row-major [Rows x Cols], in the
// int64 layout ONNX graphs take. Reuse one Batch across calls to
// [Batch.Encode] to avoid allocating.
type Batch struct {
	Rows, Cols int
	// IDs holds the token ids, PAD after each row's end.
	IDs []int64
	// Mask is 1 over a row's tokens and 0 over its padding.
	Mask []int64
	// TypeIDs are the segment ids: all 0 for one sequence.
	TypeIDs []int64
	// Lens is each row's length before padding (after truncation).
	Lens []int
}

// Row returns the unpadded ids of row i; the slice aliases b.IDs.
func (b *Batch) Row(i int) []int64 {
	return b.IDs[i*b.Cols : i*b.Cols+b.Lens[i]]
}

// encScratch holds the per-text ids while a batch is built.
type encScratch struct {
	ids  []int
	ends []int // end offset of each text's ids in ids
}

var encPool = sync.Pool{New: func() any { return new(encScratch) }}

// EncodeBatch tokenizes texts with t and returns them as a new padded batch.
func EncodeBatch(t Tokenizer, texts []string, o EncodeOptions) (*Batch, error) {
	b := new(Batch)
	if err := b.Encode(t, texts, o); err != nil {
		return nil, err
	}
	return b, nil
}

// Encode tokenizes texts with t into b, reusing b's memory. Each row is
// truncated to o.MaxLength as Hugging Face truncates one sequence: the first
// MaxLength-2 ids, then [SEP] (with AddSpecial), or the first MaxLength ids.
// Cols is 0 when every row is empty.
func (b *Batch) Encode(t Tokenizer, texts []string, o EncodeOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	sc := encPool.Get().(*encScratch)
	defer encPool.Put(sc)
	sc.ids, sc.ends = sc.ids[:0], sc.ends[:0]
	extra := 0
	if o.AddSpecial {
		extra = 2
	}
	// Only the first MaxLength-extra ids of a text are kept: tokenize no
	// further (0: no truncation).
	limit := 0
	if o.MaxLength > 0 {
		limit = o.MaxLength - extra
	}
	for _, s := range texts {
		sc.ids = t.TokenizeN(s, sc.ids, limit)
		sc.ends = append(sc.ends, len(sc.ids))
	}
	b.Rows = len(texts)
	b.Lens = b.Lens[:0]
	cols, start := 0, 0
	for _, end := range sc.ends {
		n := end - start + extra
		if o.MaxLength > 0 && n > o.MaxLength {
			n = o.MaxLength
		}
		b.Lens = append(b.Lens, n)
		cols = max(cols, n)
		start = end
	}
	if o.Padding == PadMaxLength {
		cols = o.MaxLength
	}
	b.Cols = cols
	size := b.Rows * cols
	b.IDs = grow64(b.IDs, size)
	b.Mask = grow64(b.Mask, size)
	b.TypeIDs = grow64(b.TypeIDs, size)
	start = 0
	for i, end := range sc.ends {
		row := b.IDs[i*cols : (i+1)*cols]
		mask := b.Mask[i*cols : (i+1)*cols]
		n := b.Lens[i]
		k := 0
		words := n
		if o.AddSpecial {
			row[0] = int64(o.CLS)
			k = 1
			words = n - 2
		}
		for _, id := range sc.ids[start : start+words] {
			row[k] = int64(id)
			k++
		}
		if o.AddSpecial {
			row[k] = int64(o.SEP)
			k++
		}
		for j := range row {
			if j < k {
				mask[j] = 1
			} else {
				row[j] = int64(o.PAD)
				mask[j] = 0
			}
		}
		start = end
	}
	clear(b.TypeIDs)
	return nil
}

// chunkSpaces are the bytes before which TokenizeN may cut a text: ASCII
// whitespace that every tokenizer here treats as a word boundary and that
// no normalization joins to its neighbours (\f and \v are not among them:
// BertNormalizer's clean_text deletes them).
const chunkSpaces = " \t\n\r"

// firstChunk is the least number of bytes TokenizeN tokenizes at once;
// chunkBytesPerID is its guess of the text needed per id.
const (
	firstChunk      = 512
	chunkBytesPerID = 6
)

// tokenizeChunks appends to dst the first limit ids of text as tok would
// give them for the whole text, calling tok on successive stretches of text
// cut before a byte of chunkSpaces, and stopping as soon as limit ids
// exist. tok must give for a text the concatenation of what it gives for
// such stretches. The first stretch is limit×chunkBytesPerID bytes (at
// least firstChunk); each next one is sized by the bytes per id seen so
// far, with a quarter to spare, so a text far longer than needed costs
// little more than the part that yields its ids.
func tokenizeChunks(text string, dst []int, limit int, tok func(s string, dst []int) []int) []int {
	n0 := len(dst)
	size := max(firstChunk, limit*chunkBytesPerID)
	done := 0 // bytes of text tokenized
	for done < len(text) {
		end := len(text)
		if done+size < len(text) {
			if j := strings.IndexAny(text[done+size:], chunkSpaces); j >= 0 {
				end = done + size + j
			}
		}
		dst = tok(text[done:end], dst)
		done = end
		have := len(dst) - n0
		if have >= limit {
			return dst[:n0+limit]
		}
		if have == 0 {
			size *= 2
		} else {
			size = max(firstChunk/4, (limit-have)*done/have*5/4)
		}
	}
	return dst
}

// truncate cuts dst to n0+limit ids when it holds more (limit > 0).
func truncate(dst []int, n0, limit int) []int {
	if limit > 0 && len(dst)-n0 > limit {
		return dst[:n0+limit]
	}
	return dst
}

// grow64 returns s resized to n, reusing its memory when large enough.
func grow64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}
