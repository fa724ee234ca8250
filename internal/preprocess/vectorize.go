package preprocess

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/mlserve/mlserve/internal/strtab"
)

// Sparse is one sparse feature row: column indices in increasing order, no
// duplicates, with their values. Explicit zeros may occur where scikit-learn
// keeps them (hashing collisions that cancel).
type Sparse struct {
	Idx []int32
	Val []float64
}

// Reset empties the row, keeping its capacity.
func (s *Sparse) Reset() { s.Idx, s.Val = s.Idx[:0], s.Val[:0] }

// TextVectorizer maps one text to one sparse row of NumFeatures columns.
// Implementations are safe for concurrent use.
type TextVectorizer interface {
	// Transform overwrites dst with the features of text, reusing dst's memory.
	Transform(text string, dst *Sparse)
	// TransformContext is Transform that stops with ctx.Err() once ctx is
	// done, looking at it every few thousand terms; dst is then undefined.
	TransformContext(ctx context.Context, text string, dst *Sparse) error
	// NumFeatures is the number of columns.
	NumFeatures() int
}

var (
	_ TextVectorizer = (*CountVectorizer)(nil)
	_ TextVectorizer = (*TfidfVectorizer)(nil)
	_ TextVectorizer = (*HashingVectorizer)(nil)
)

// scratchPool holds Scratch values for the vectorizers' per-text path.
var scratchPool = sync.Pool{New: func() any { return new(Scratch) }}

// CountVectorizer is scikit-learn's fitted CountVectorizer: term counts over
// a fixed vocabulary; terms outside it are ignored.
type CountVectorizer struct {
	// Analyzer splits text into terms.
	Analyzer *Analyzer
	// Binary sets every non-zero count to 1.
	Binary bool

	// terms is the vocabulary (vocabulary_): ids [0, n) are the columns of
	// its terms. With ix, ids from n on are the words of bigram terms that
	// are no unigram term (vocabIndex); no lookup of a term in [0, n)
	// answers them, as no term has a space and such a word does not.
	terms *strtab.Table
	n     int
	// ix finds bigrams faster than terms; nil when the analyzer does not
	// allow it.
	ix *vocabIndex
}

// NewCountVectorizer checks that the vocabulary's columns are 0..len-1.
// The vectorizer keeps its own compact copy of vocab, not vocab.
func NewCountVectorizer(a *Analyzer, vocab map[string]int32, binary bool) (*CountVectorizer, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil analyzer", ErrConfig)
	}
	byCol := make([]string, len(vocab))
	seen := make([]bool, len(vocab))
	for t, j := range vocab {
		if j < 0 || int(j) >= len(vocab) || seen[j] {
			return nil, fmt.Errorf("%w: vocabulary column %d of %q is out of range or repeated", ErrConfig, j, t)
		}
		seen[j] = true
		byCol[j] = t
	}
	var extra []string
	ix := newVocabIndex(a, byCol, vocab, &extra)
	size := 0
	for _, t := range byCol {
		size += len(t)
	}
	for _, w := range extra {
		size += len(w)
	}
	var b strtab.Builder
	b.Grow(len(byCol)+len(extra), size)
	for _, t := range byCol {
		b.AddString(t)
	}
	for _, w := range extra {
		b.AddString(w)
	}
	terms, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("%w: vocabulary: %v", ErrConfig, err)
	}
	return &CountVectorizer{Analyzer: a, Binary: binary, terms: terms, n: len(byCol), ix: ix}, nil
}

// Column returns term's column and whether term is in the vocabulary.
func (c *CountVectorizer) Column(term []byte) (int32, bool) {
	id, ok := c.terms.IDBytes(term)
	if !ok || id >= c.n {
		return -1, false
	}
	return int32(id), true
}

// Term returns the vocabulary term of column col, "" when col is out of
// range. The string shares the vectorizer's memory.
func (c *CountVectorizer) Term(col int) string {
	if col < 0 || col >= c.n {
		return ""
	}
	return c.terms.Token(col)
}

// vocabIndex is the vocabulary of a word analyzer with bigrams whose
// tokens are runs of word characters, so that no token holds a space and a
// vocabulary key splits at its spaces back into the words it was joined
// from. Each word of a unigram or bigram key has an id in the vectorizer's
// terms: a unigram's is its column, any other word's one after the
// columns. A bigram is then found from its two words' ids, without
// building its string, and a bigram with a word outside every key is known
// absent without a lookup.
type vocabIndex struct {
	pairs pairTable
}

// newVocabIndex indexes vocab (byCol: its terms by column) for a, and
// appends to extra the words of bigram keys that are no unigram key,
// whose ids follow the columns; nil when a is not a word-run analyzer with
// n-grams of 2 words.
func newVocabIndex(a *Analyzer, byCol []string, vocab map[string]int32, extra *[]string) *vocabIndex {
	if a.cfg.Kind != KindWord || a.tok.minRun == 0 || a.min > 2 || a.max < 2 {
		return nil
	}
	ix := &vocabIndex{}
	more := map[string]int32{}
	word := func(w string) int32 {
		if col, ok := vocab[w]; ok {
			// A key without a space is a unigram: its column is its id.
			return col
		}
		id, ok := more[w]
		if !ok {
			id = int32(len(byCol) + len(more))
			more[w] = id
			*extra = append(*extra, w)
		}
		return id
	}
	type pair struct {
		key uint64
		col int32
	}
	var pairs []pair
	for col, term := range byCol {
		sp := strings.IndexByte(term, ' ')
		// A key with an empty side matches no bigram: tokens are not
		// empty.
		if sp > 0 && sp < len(term)-1 && strings.IndexByte(term[sp+1:], ' ') < 0 {
			pairs = append(pairs, pair{pairKey(word(term[:sp]), word(term[sp+1:])), int32(col)})
		}
	}
	ix.pairs.init(len(pairs))
	for _, p := range pairs {
		ix.pairs.put(p.key, p.col)
	}
	return ix
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// pairTable maps a pair key to a column: open addressing with linear
// probing, at most half full.
type pairTable struct {
	slots []pairSlot
	shift uint
}

type pairSlot struct {
	key uint64
	col int32 // -1: free
}

func (t *pairTable) init(n int) {
	size := 8
	for size < 2*n {
		size *= 2
	}
	t.slots = make([]pairSlot, size)
	for i := range t.slots {
		t.slots[i].col = -1
	}
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

func (t *pairTable) slot(key uint64) int { return int((key * 0x9e3779b97f4a7c15) >> t.shift) }

func (t *pairTable) put(key uint64, col int32) {
	mask := len(t.slots) - 1
	i := t.slot(key)
	for t.slots[i].col >= 0 && t.slots[i].key != key {
		i = (i + 1) & mask
	}
	t.slots[i] = pairSlot{key, col}
}

// get returns key's column, or -1.
func (t *pairTable) get(key uint64) int32 {
	mask := len(t.slots) - 1
	for i := t.slot(key); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s.key == key || s.col < 0 {
			return s.col
		}
	}
}

// indexed gathers the vocabulary columns of text's terms into sc.idx
// through c.ix, and returns its word count and how many words are no
// unigram of the vocabulary; it stops with ctx's error once ctx is done.
func (c *CountVectorizer) indexed(ctx context.Context, text string, sc *Scratch) (words, out int, err error) {
	a, ix := c.Analyzer, c.ix
	a.preprocess(text, sc)
	if err := a.spans(ctx, sc); err != nil {
		return 0, 0, err
	}
	t, sp := sc.text, sc.spans
	n := len(sp) / 2
	sc.ids = sc.ids[:0]
	for i := range n {
		if i%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
		}
		id, ok := c.terms.IDBytes(t[sp[2*i]:sp[2*i+1]])
		if !ok {
			id = -1
		}
		sc.ids = append(sc.ids, int32(id))
		if !ok || id >= c.n {
			out++
		} else if a.min == 1 {
			sc.idx = append(sc.idx, int32(id))
		}
	}
	if len(ix.pairs.slots) > 0 {
		for i := 0; i+1 < n; i++ {
			if x, y := sc.ids[i], sc.ids[i+1]; x >= 0 && y >= 0 {
				if col := ix.pairs.get(pairKey(x, y)); col >= 0 {
					sc.idx = append(sc.idx, col)
				}
			}
		}
	}
	for k := 3; k <= min(a.max, n); k++ {
		for i := 0; i+k <= n; i++ {
			if i%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return 0, 0, err
				}
			}
			sc.term = sc.term[:0]
			for j := i; j < i+k; j++ {
				if j > i {
					sc.term = append(sc.term, ' ')
				}
				sc.term = append(sc.term, t[sp[2*j]:sp[2*j+1]]...)
			}
			if col, ok := c.Column(sc.term); ok {
				sc.idx = append(sc.idx, col)
			}
		}
	}
	return n, out, nil
}

// NumFeatures is the vocabulary size.
func (c *CountVectorizer) NumFeatures() int { return c.n }

// Transform writes the term counts of text to dst.
func (c *CountVectorizer) Transform(text string, dst *Sparse) {
	_ = c.TransformContext(context.Background(), text, dst)
}

// TransformContext is Transform that stops with ctx.Err() once ctx is done.
func (c *CountVectorizer) TransformContext(ctx context.Context, text string, dst *Sparse) error {
	sc := scratchPool.Get().(*Scratch)
	defer scratchPool.Put(sc)
	sc.idx = sc.idx[:0]
	if c.ix != nil {
		if _, _, err := c.indexed(ctx, text, sc); err != nil {
			return err
		}
		c.counts(sc, dst)
		return nil
	}
	err := c.Analyzer.EachContext(ctx, text, sc, func(term []byte) {
		if j, ok := c.Column(term); ok {
			sc.idx = append(sc.idx, j)
		}
	})
	if err != nil {
		return err
	}
	c.counts(sc, dst)
	return nil
}

// TransformOOV is Transform that also counts, in the same pass, the text's
// word unigrams (after stop words) and how many of them the vocabulary
// lacks: the out-of-vocabulary rate is out/words, as the vectorizer's
// analyzer at ngram_range=(1, 1) with the same vocabulary would give it.
// ok is false, and the counts zero, when the analyzer is not a word
// analyzer or its n-grams do not start at 1 (it sees no unigrams).
func (c *CountVectorizer) TransformOOV(text string, dst *Sparse) (words, out int, ok bool) {
	words, out, ok, _ = c.TransformOOVContext(context.Background(), text, dst)
	return words, out, ok
}

// TransformOOVContext is TransformOOV that stops with ctx.Err() once ctx
// is done.
func (c *CountVectorizer) TransformOOVContext(ctx context.Context, text string, dst *Sparse) (words, out int, ok bool, err error) {
	if c.Analyzer.cfg.Kind != KindWord || c.Analyzer.min != 1 {
		return 0, 0, false, c.TransformContext(ctx, text, dst)
	}
	sc := scratchPool.Get().(*Scratch)
	defer scratchPool.Put(sc)
	sc.idx = sc.idx[:0]
	if c.ix != nil {
		if words, out, err = c.indexed(ctx, text, sc); err != nil {
			return 0, 0, false, err
		}
		c.counts(sc, dst)
		return words, out, true, nil
	}
	k := 0
	err = c.Analyzer.EachContext(ctx, text, sc, func(term []byte) {
		j, in := c.Column(term)
		if in {
			sc.idx = append(sc.idx, j)
		}
		// words emits every token (all of sc.spans, filled before the
		// first term) as a unigram before any longer n-gram.
		if k < len(sc.spans)/2 && !in {
			out++
		}
		k++
	})
	if err != nil {
		return 0, 0, false, err
	}
	words = len(sc.spans) / 2
	c.counts(sc, dst)
	return words, out, true, nil
}

// counts writes the column counts gathered in sc.idx to dst.
func (c *CountVectorizer) counts(sc *Scratch, dst *Sparse) {
	sc.idx, sc.tmp = sortColumns(sc.idx, sc.tmp, c.n)
	dst.Reset()
	for i := 0; i < len(sc.idx); {
		j := i + 1
		for j < len(sc.idx) && sc.idx[j] == sc.idx[i] {
			j++
		}
		v := float64(j - i)
		if c.Binary {
			v = 1
		}
		dst.Idx = append(dst.Idx, sc.idx[i])
		dst.Val = append(dst.Val, v)
		i = j
	}
}

// sortColumns sorts cols, column numbers below n, in increasing order. A
// long list is radix sorted a byte at a time through tmp (grown as needed),
// which beats comparison sorting the hundreds of columns of an e-mail; it
// returns the sorted list and the spare buffer.
func sortColumns(cols, tmp []int32, n int) (sorted, spare []int32) {
	if len(cols) < 64 {
		slices.Sort(cols)
		return cols, tmp
	}
	if cap(tmp) < len(cols) {
		tmp = make([]int32, len(cols))
	}
	tmp = tmp[:len(cols)]
	for shift := uint(0); shift < 32 && (n-1)>>shift > 0; shift += 8 {
		var count [257]int
		for _, c := range cols {
			count[uint32(c)>>shift&0xff+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, c := range cols {
			b := uint32(c) >> shift & 0xff
			tmp[count[b]] = c
			count[b]++
		}
		cols, tmp = tmp, cols
	}
	return cols, tmp
}

// TfidfTransformer is scikit-learn's fitted TfidfTransformer applied to one
// row of counts.
type TfidfTransformer struct {
	// IDF holds idf_ per column; nil when use_idf=False.
	IDF []float64
	// Norm is "", "l1" or "l2".
	Norm string
	// SublinearTF replaces tf with 1 + log(tf).
	SublinearTF bool
	// Float32 computes in float32 as scikit-learn does on a float32 matrix
	// (dtype=np.float32), see applyFloat32.
	Float32 bool
	// ProductOrder: with Float32, the IDF is applied as scikit-learn ≤1.4
	// applied it, a sparse product with a diagonal matrix whose result
	// lists a row's columns in descending order; the sums that follow
	// (the norm, the classifier's float32 dot product) run in that order.
	ProductOrder bool
}

// Apply transforms a row of counts in place.
func (t *TfidfTransformer) Apply(row *Sparse) {
	if t.Float32 {
		t.applyFloat32(row)
		return
	}
	for k, j := range row.Idx {
		v := row.Val[k]
		if t.SublinearTF && v != 0 {
			if c := int(v); float64(c) == v && c >= 1 && c < len(sublinear) {
				v = sublinear[c]
			} else {
				v = math.Log(v) + 1
			}
		}
		if t.IDF != nil {
			v *= t.IDF[j]
		}
		row.Val[k] = v
	}
	normalizeSparse(row, t.Norm)
}

// sublinear holds 1 + log(k) for the small counts k, the same values
// math.Log gives.
var sublinear = func() (t [64]float64) {
	for k := 1; k < len(t); k++ {
		t[k] = math.Log(float64(k)) + 1
	}
	return t
}()

// TfidfVectorizer is scikit-learn's fitted TfidfVectorizer: counts, then
// TF-IDF weighting and normalization.
type TfidfVectorizer struct {
	// Count produces the raw counts (its Binary is the vectorizer's binary).
	Count CountVectorizer
	// Tfidf weights and normalizes them.
	Tfidf TfidfTransformer
}

// NewTfidfVectorizer checks that IDF, when set, covers the vocabulary and
// that the norm is known.
func NewTfidfVectorizer(c *CountVectorizer, t TfidfTransformer) (*TfidfVectorizer, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil count vectorizer", ErrConfig)
	}
	if t.IDF != nil && len(t.IDF) != c.n {
		return nil, fmt.Errorf("%w: idf has %d entries for a vocabulary of %d", ErrConfig, len(t.IDF), c.n)
	}
	if err := checkNorm(t.Norm, false); err != nil {
		return nil, err
	}
	return &TfidfVectorizer{Count: *c, Tfidf: t}, nil
}

// NumFeatures is the vocabulary size.
func (v *TfidfVectorizer) NumFeatures() int { return v.Count.n }

// Transform writes the TF-IDF row of text to dst.
func (v *TfidfVectorizer) Transform(text string, dst *Sparse) {
	v.Count.Transform(text, dst)
	v.Tfidf.Apply(dst)
}

// TransformContext is Transform that stops with ctx.Err() once ctx is done.
func (v *TfidfVectorizer) TransformContext(ctx context.Context, text string, dst *Sparse) error {
	if err := v.Count.TransformContext(ctx, text, dst); err != nil {
		return err
	}
	v.Tfidf.Apply(dst)
	return nil
}

// TransformOOV is Transform that also counts the text's word unigrams and
// those outside the vocabulary, as CountVectorizer.TransformOOV.
func (v *TfidfVectorizer) TransformOOV(text string, dst *Sparse) (words, out int, ok bool) {
	words, out, ok = v.Count.TransformOOV(text, dst)
	v.Tfidf.Apply(dst)
	return words, out, ok
}

// TransformOOVContext is TransformOOV that stops with ctx.Err() once ctx
// is done.
func (v *TfidfVectorizer) TransformOOVContext(ctx context.Context, text string, dst *Sparse) (words, out int, ok bool, err error) {
	if words, out, ok, err = v.Count.TransformOOVContext(ctx, text, dst); err != nil {
		return 0, 0, false, err
	}
	v.Tfidf.Apply(dst)
	return words, out, ok, nil
}

// HashingVectorizer is scikit-learn's HashingVectorizer: each term goes to
// column abs(h) % NFeatures, h the signed MurmurHash3 (x86, 32-bit, seed 0)
// of its UTF-8 bytes, with the sign of h unless AlternateSign is false.
type HashingVectorizer struct {
	// Analyzer splits text into terms.
	Analyzer *Analyzer
	// NFeatures is n_features.
	NFeatures int
	// AlternateSign gives each term the sign of its hash.
	AlternateSign bool
	// Binary sets every stored value (even a cancelled zero) to 1 before
	// normalization, as scikit-learn does.
	Binary bool
	// Norm is "", "l1" or "l2".
	Norm string
}

// NewHashingVectorizer validates the parameters.
func NewHashingVectorizer(a *Analyzer, nFeatures int, alternateSign, binary bool, norm string) (*HashingVectorizer, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil analyzer", ErrConfig)
	}
	if nFeatures < 1 || nFeatures > math.MaxInt32 {
		return nil, fmt.Errorf("%w: n_features %d", ErrConfig, nFeatures)
	}
	if err := checkNorm(norm, false); err != nil {
		return nil, err
	}
	return &HashingVectorizer{Analyzer: a, NFeatures: nFeatures, AlternateSign: alternateSign, Binary: binary, Norm: norm}, nil
}

// NumFeatures is n_features.
func (h *HashingVectorizer) NumFeatures() int { return h.NFeatures }

// Transform writes the hashed row of text to dst.
func (h *HashingVectorizer) Transform(text string, dst *Sparse) {
	_ = h.TransformContext(context.Background(), text, dst)
}

// TransformContext is Transform that stops with ctx.Err() once ctx is done.
func (h *HashingVectorizer) TransformContext(ctx context.Context, text string, dst *Sparse) error {
	sc := scratchPool.Get().(*Scratch)
	defer scratchPool.Put(sc)
	sc.hv = sc.hv[:0]
	n := uint32(h.NFeatures)
	err := h.Analyzer.EachContext(ctx, text, sc, func(term []byte) {
		hs := int32(Murmur3(term, 0))
		var col uint32
		if hs == math.MinInt32 {
			col = (2147483647 - (n - 1)) % n
		} else {
			a := hs
			if a < 0 {
				a = -a
			}
			col = uint32(a) % n
		}
		neg := uint64(0)
		if h.AlternateSign && hs < 0 {
			neg = 1
		}
		sc.hv = append(sc.hv, uint64(col)<<1|neg)
	})
	if err != nil {
		return err
	}
	slices.Sort(sc.hv)
	dst.Reset()
	for i := 0; i < len(sc.hv); {
		col := sc.hv[i] >> 1
		v := 0.0
		j := i
		for ; j < len(sc.hv) && sc.hv[j]>>1 == col; j++ {
			if sc.hv[j]&1 == 1 {
				v--
			} else {
				v++
			}
		}
		if h.Binary {
			v = 1
		}
		dst.Idx = append(dst.Idx, int32(col))
		dst.Val = append(dst.Val, v)
		i = j
	}
	normalizeSparse(dst, h.Norm)
	return nil
}

// Murmur3 is MurmurHash3 x86_32 of b with the given seed; scikit-learn's
// murmurhash3_32 with positive=False is int32 of this value.
func Murmur3(b []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(b) / 4
	for i := 0; i < n; i++ {
		k := uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	tail := b[4*n:]
	var k uint32
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(b))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
