package tokenizer

import (
	"cmp"
	"slices"

	"github.com/mlserve/mlserve/internal/strtab"
)

// vocab is a model's token→id vocabulary (WordLevel, WordPiece, BPE) in a
// strtab.Table. tokenizer.json allows ids with holes and ids given to two
// tokens, which a table's dense, one-token-per-id ids cannot say; the
// table then holds the entries sorted by (id, token) and ids/entry map
// between the two. Usually the ids are 0..n-1, once each, and both are nil.
type vocab struct {
	t     *strtab.Table
	ids   []int32 // entry -> id; nil: the same
	entry []int32 // id -> entry (the last one with the id; -1: none); nil: the same
}

// newVocab builds the vocabulary of m, whose ids checkVocab has bounded to
// [0, n).
func newVocab(m map[string]int, n int) (vocab, error) {
	if len(m) == n {
		// The usual vocabulary: ids 0..n-1, once each. Placed by id,
		// without sorting; a repeated id falls through to the general case.
		byID := make([]string, n)
		seen := make([]bool, n)
		dense, size := true, 0
		for t, id := range m {
			if seen[id] {
				dense = false
				break
			}
			seen[id], byID[id] = true, t
			size += len(t)
		}
		if dense {
			var b strtab.Builder
			b.Grow(n, size)
			for _, t := range byID {
				b.AddString(t)
			}
			t, err := b.Build()
			if err != nil {
				return vocab{}, invalid("vocabulary: %v", err)
			}
			return vocab{t: t}, nil
		}
	}
	type kv struct {
		tok string
		id  int
	}
	all := make([]kv, 0, len(m))
	for t, id := range m {
		all = append(all, kv{t, id})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.tok, b.tok)) })
	var b strtab.Builder
	size := 0
	for _, e := range all {
		size += len(e.tok)
	}
	b.Grow(len(all), size)
	dense := len(all) == n
	for k, e := range all {
		b.AddString(e.tok)
		dense = dense && e.id == k
	}
	t, err := b.Build()
	if err != nil {
		return vocab{}, invalid("vocabulary: %v", err)
	}
	v := vocab{t: t}
	if !dense {
		v.ids = make([]int32, len(all))
		v.entry = make([]int32, n)
		for i := range v.entry {
			v.entry[i] = -1
		}
		for k, e := range all {
			v.ids[k] = int32(e.id)
			v.entry[e.id] = int32(k)
		}
	}
	return v, nil
}

// id returns tok's id and whether tok is in the vocabulary.
func (v vocab) id(tok string) (int, bool) {
	k, ok := v.t.ID(tok)
	if !ok {
		return 0, false
	}
	return v.toID(k), true
}

// lookup is id for a token in a byte slice, also returning the token as a
// string that shares the vocabulary's memory; it does not allocate.
func (v vocab) lookup(tok []byte) (id int, s string, ok bool) {
	k, ok := v.t.IDBytes(tok)
	if !ok {
		return 0, "", false
	}
	return v.toID(k), v.t.Token(k), true
}

func (v vocab) toID(k int) int {
	if v.ids == nil {
		return k
	}
	return int(v.ids[k])
}

// token returns the token with the given id ("" for none); when two tokens
// have the id, the last in byte order.
func (v vocab) token(id int) string {
	if v.entry == nil {
		return v.t.Token(id)
	}
	if id < 0 || id >= len(v.entry) || v.entry[id] < 0 {
		return ""
	}
	return v.t.Token(int(v.entry[id]))
}
