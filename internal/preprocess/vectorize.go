package preprocess

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
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
	// Vocabulary maps a term to its column (vocabulary_).
	Vocabulary map[string]int32
	// Binary sets every non-zero count to 1.
	Binary bool
}

// NewCountVectorizer checks that the vocabulary's columns are 0..len-1.
func NewCountVectorizer(a *Analyzer, vocab map[string]int32, binary bool) (*CountVectorizer, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil analyzer", ErrConfig)
	}
	seen := make([]bool, len(vocab))
	for t, j := range vocab {
		if j < 0 || int(j) >= len(vocab) || seen[j] {
			return nil, fmt.Errorf("%w: vocabulary column %d of %q is out of range or repeated", ErrConfig, j, t)
		}
		seen[j] = true
	}
	return &CountVectorizer{Analyzer: a, Vocabulary: vocab, Binary: binary}, nil
}

// NumFeatures is the vocabulary size.
func (c *CountVectorizer) NumFeatures() int { return len(c.Vocabulary) }

// Transform writes the term counts of text to dst.
func (c *CountVectorizer) Transform(text string, dst *Sparse) {
	sc := scratchPool.Get().(*Scratch)
	sc.idx = sc.idx[:0]
	c.Analyzer.Each(text, sc, func(term []byte) {
		if j, ok := c.Vocabulary[string(term)]; ok {
			sc.idx = append(sc.idx, j)
		}
	})
	c.counts(sc, dst)
	scratchPool.Put(sc)
}

// TransformOOV is Transform that also counts, in the same pass, the text's
// word unigrams (after stop words) and how many of them the vocabulary
// lacks: the out-of-vocabulary rate is out/words, as the vectorizer's
// analyzer at ngram_range=(1, 1) with the same vocabulary would give it.
// ok is false, and the counts zero, when the analyzer is not a word
// analyzer or its n-grams do not start at 1 (it sees no unigrams).
func (c *CountVectorizer) TransformOOV(text string, dst *Sparse) (words, out int, ok bool) {
	if c.Analyzer.cfg.Kind != KindWord || c.Analyzer.min != 1 {
		c.Transform(text, dst)
		return 0, 0, false
	}
	sc := scratchPool.Get().(*Scratch)
	sc.idx = sc.idx[:0]
	k := 0
	c.Analyzer.Each(text, sc, func(term []byte) {
		j, in := c.Vocabulary[string(term)]
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
	words = len(sc.spans) / 2
	c.counts(sc, dst)
	scratchPool.Put(sc)
	return words, out, true
}

// counts writes the column counts gathered in sc.idx to dst.
func (c *CountVectorizer) counts(sc *Scratch, dst *Sparse) {
	slices.Sort(sc.idx)
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

// TfidfTransformer is scikit-learn's fitted TfidfTransformer applied to one
// row of counts.
type TfidfTransformer struct {
	// IDF holds idf_ per column; nil when use_idf=False.
	IDF []float64
	// Norm is "", "l1" or "l2".
	Norm string
	// SublinearTF replaces tf with 1 + log(tf).
	SublinearTF bool
}

// Apply transforms a row of counts in place.
func (t *TfidfTransformer) Apply(row *Sparse) {
	for k, j := range row.Idx {
		v := row.Val[k]
		if t.SublinearTF && v != 0 {
			v = math.Log(v) + 1
		}
		if t.IDF != nil {
			v *= t.IDF[j]
		}
		row.Val[k] = v
	}
	normalizeSparse(row, t.Norm)
}

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
	if t.IDF != nil && len(t.IDF) != len(c.Vocabulary) {
		return nil, fmt.Errorf("%w: idf has %d entries for a vocabulary of %d", ErrConfig, len(t.IDF), len(c.Vocabulary))
	}
	if err := checkNorm(t.Norm, false); err != nil {
		return nil, err
	}
	return &TfidfVectorizer{Count: *c, Tfidf: t}, nil
}

// NumFeatures is the vocabulary size.
func (v *TfidfVectorizer) NumFeatures() int { return len(v.Count.Vocabulary) }

// Transform writes the TF-IDF row of text to dst.
func (v *TfidfVectorizer) Transform(text string, dst *Sparse) {
	v.Count.Transform(text, dst)
	v.Tfidf.Apply(dst)
}

// TransformOOV is Transform that also counts the text's word unigrams and
// those outside the vocabulary, as CountVectorizer.TransformOOV.
func (v *TfidfVectorizer) TransformOOV(text string, dst *Sparse) (words, out int, ok bool) {
	words, out, ok = v.Count.TransformOOV(text, dst)
	v.Tfidf.Apply(dst)
	return words, out, ok
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
	sc := scratchPool.Get().(*Scratch)
	sc.hv = sc.hv[:0]
	n := uint32(h.NFeatures)
	h.Analyzer.Each(text, sc, func(term []byte) {
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
	scratchPool.Put(sc)
	normalizeSparse(dst, h.Norm)
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
