package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// token is one piece a model produced: its id and its byte range in the
// normalized text of the split it came from.
type token struct {
	id   int
	s, e int
	// value is the token's string as tokenizers reports it (the vocabulary
	// entry, or the text for a Unigram piece); trim_offsets reads it.
	value string
}

// model turns one pre-tokenized split into tokens.
type model interface {
	tokenize(s string, dst []token) ([]token, error)
	// id is the vocabulary id of tok.
	id(tok string) (int, bool)
	// size is the number of ids the model's vocabulary holds.
	size() int
}

// byteToken is SentencePiece's name of a byte-fallback piece.
func byteToken(b byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})
}

// ---- WordLevel ----

// wordLevel maps each split whole to an id.
type wordLevel struct {
	vocab vocab
	n     int
	unk   int // -1: none
	unkS  string
}

func (m *wordLevel) id(t string) (int, bool) { return m.vocab.id(t) }
func (m *wordLevel) size() int               { return m.n }

func (m *wordLevel) tokenize(s string, dst []token) ([]token, error) {
	if id, ok := m.vocab.id(s); ok {
		return append(dst, token{id, 0, len(s), s}), nil
	}
	if m.unk < 0 {
		return dst, fmt.Errorf("%w: WordLevel: unk token %q is not in the vocabulary", ErrEncode, m.unkS)
	}
	return append(dst, token{m.unk, 0, len(s), m.unkS}), nil
}

// ---- WordPiece ----

// wordPiece splits a word greedily into the longest vocabulary pieces, the
// ones after the first carrying the continuing-subword prefix.
type wordPiece struct {
	vocab    vocab
	n        int
	unk      int
	unkS     string
	prefix   string
	maxChars int
}

func (m *wordPiece) id(t string) (int, bool) { return m.vocab.id(t) }
func (m *wordPiece) size() int               { return m.n }

func (m *wordPiece) tokenize(s string, dst []token) ([]token, error) {
	unk := func() ([]token, error) {
		if m.unk < 0 {
			return dst, fmt.Errorf("%w: WordPiece: unk token %q is not in the vocabulary", ErrEncode, m.unkS)
		}
		return append(dst, token{m.unk, 0, len(s), m.unkS}), nil
	}
	if utf8.RuneCountInString(s) > m.maxChars {
		return unk()
	}
	start := len(dst)
	var buf []byte
	for i := 0; i < len(s); {
		end := len(s)
		found := -1
		var value string
		for end > i {
			var id int
			var ok bool
			if i > 0 {
				buf = append(append(buf[:0], m.prefix...), s[i:end]...)
				id, value, ok = m.vocab.lookup(buf)
			} else if id, ok = m.vocab.id(s[i:end]); ok {
				value = s[i:end]
			}
			if ok {
				found = id
				break
			}
			_, sz := utf8.DecodeLastRuneInString(s[i:end])
			end -= sz
		}
		if found < 0 {
			dst = dst[:start]
			return unk()
		}
		dst = append(dst, token{found, i, end, value})
		i = end
	}
	return dst, nil
}

// ---- BPE ----

// pair is two adjacent symbol ids.
type pair struct{ a, b int32 }

// mergeTo is what a pair merges into and the merge's rank (lower first).
type mergeTo struct{ rank, id int32 }

// bpe is a byte-pair-encoding model: a word starts as its characters and
// merges adjacent pairs, lowest rank first.
type bpe struct {
	vocab        vocab
	n            int
	merges       map[pair]mergeTo
	unk          int // -1: none
	unkS         string
	hasUnk       bool // unk_token set (even if not in vocab)
	prefix       string
	suffix       string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	byteIDs      [256]int // byte-fallback ids, -1 when absent
	cache        wordCache
}

func (m *bpe) id(t string) (int, bool) { return m.vocab.id(t) }
func (m *bpe) size() int               { return m.n }

// symbol is one piece of a word being merged, in a linked list.
type symbol struct {
	id         int32
	prev, next int32
	len        int32 // bytes of the word; 0 once merged away
}

// mergeItem is a candidate merge in the queue.
type mergeItem struct {
	pos, rank, id int32
}

// mergeQueue is a binary min-heap of candidate merges: lowest rank, then
// leftmost, first (typed, so pushing does not allocate).
type mergeQueue []mergeItem

func (q mergeQueue) less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}

func (q *mergeQueue) push(x mergeItem) {
	*q = append(*q, x)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *mergeQueue) pop() mergeItem {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	h.down(0)
	*q = h
	return top
}

// init orders an unordered queue into a heap.
func (q mergeQueue) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

// down moves the item at i down until neither child is less than it.
func (q mergeQueue) down(i int) {
	n := len(q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && q.less(r, l) {
			c = r
		}
		if !q.less(c, i) {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}

func (m *bpe) tokenize(s string, dst []token) ([]token, error) {
	return cached(&m.cache, s, dst, m.tokenizeWord)
}

func (m *bpe) tokenizeWord(s string, dst []token) ([]token, error) {
	if s == "" {
		return dst, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab.id(s); ok {
			return append(dst, token{id, 0, len(s), s}), nil
		}
	}
	syms := make([]symbol, 0, utf8.RuneCountInString(s))
	add := func(id, n int) {
		syms = append(syms, symbol{id: int32(id), prev: int32(len(syms) - 1), next: int32(len(syms) + 1), len: int32(n)})
	}
	unkID, unkLen := -1, 0
	var buf []byte
	for i := 0; i < len(s); {
		_, sz := utf8.DecodeRuneInString(s[i:])
		first, last := i == 0, i+sz == len(s)
		piece := s[i : i+sz]
		var key []byte // the piece with its prefix and suffix, when it has them
		if (!first && m.prefix != "") || (last && m.suffix != "") {
			buf = buf[:0]
			if !first {
				buf = append(buf, m.prefix...)
			}
			buf = append(buf, piece...)
			if last {
				buf = append(buf, m.suffix...)
			}
			key = buf
		}
		i += sz
		var id int
		var ok bool
		if key != nil {
			id, _, ok = m.vocab.lookup(key)
		} else {
			id, ok = m.vocab.id(piece)
		}
		if ok {
			if unkID >= 0 {
				add(unkID, unkLen)
				unkID = -1
			}
			add(id, sz)
			continue
		}
		if key != nil {
			piece = string(key) // byte fallback spells the affixed piece
		}
		if m.byteFallback {
			all := true
			for k := 0; k < len(piece); k++ {
				if m.byteIDs[piece[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				for k := 0; k < len(piece); k++ {
					add(m.byteIDs[piece[k]], 1)
				}
				continue
			}
		}
		if m.hasUnk {
			if m.unk < 0 {
				return dst, fmt.Errorf("%w: BPE: unk token %q is not in the vocabulary", ErrEncode, m.unkS)
			}
			switch {
			case unkID >= 0 && m.fuseUnk:
				unkLen += sz
			case unkID >= 0:
				add(unkID, unkLen)
				unkID, unkLen = m.unk, sz
			default:
				unkID, unkLen = m.unk, sz
			}
		}
	}
	if unkID >= 0 {
		add(unkID, unkLen)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	m.mergeAll(syms)
	off := 0
	for i := 0; i < len(syms); i++ {
		if syms[i].len == 0 {
			continue
		}
		id := int(syms[i].id)
		dst = append(dst, token{id, off, off + int(syms[i].len), m.vocab.token(id)})
		off += int(syms[i].len)
	}
	return dst, nil
}

// mergeAll applies the merges to the word, lowest rank first, leftmost
// first among equal ranks, as Hugging Face's Word::merge_all does.
func (m *bpe) mergeAll(syms []symbol) {
	if len(m.merges) == 0 || len(syms) < 2 {
		return
	}
	q := make(mergeQueue, 0, len(syms))
	for i := 0; i+1 < len(syms); i++ {
		if mt, ok := m.merges[pair{syms[i].id, syms[i+1].id}]; ok {
			q = append(q, mergeItem{int32(i), mt.rank, mt.id})
		}
	}
	q.init()
	for len(q) > 0 {
		top := q.pop()
		cur := &syms[top.pos]
		if cur.len == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		if mt, ok := m.merges[pair{cur.id, right.id}]; !ok || mt.id != top.id {
			continue
		}
		cur.id = top.id
		cur.len += right.len
		cur.next = right.next
		syms[nextPos].len = 0
		if right.next > -1 && int(right.next) < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mt, ok := m.merges[pair{syms[cur.prev].id, cur.id}]; ok {
				q.push(mergeItem{cur.prev, mt.rank, mt.id})
			}
		}
		if cur.next >= 0 && int(cur.next) < len(syms) {
			if mt, ok := m.merges[pair{cur.id, syms[cur.next].id}]; ok {
				q.push(mergeItem{top.pos, mt.rank, mt.id})
			}
		}
	}
}

// ---- Unigram ----

// unigram picks the segmentation with the highest total score (Viterbi),
// as SentencePiece's unigram model does.
type unigram struct {
	pieces       []string
	scores       []float64
	ids          map[string]int
	trie         *trie
	unk          int // -1: none
	minScore     float64
	byteFallback bool
	cache        wordCache
}

// unkPenalty is how much worse than the worst piece an unknown character
// scores (SentencePiece's kUnkPenalty).
const unkPenalty = 10.0

func (m *unigram) id(t string) (int, bool) { v, ok := m.ids[t]; return v, ok }
func (m *unigram) size() int               { return len(m.pieces) }

func (m *unigram) tokenize(s string, dst []token) ([]token, error) {
	return cached(&m.cache, s, dst, m.tokenizeWord)
}

func (m *unigram) tokenizeWord(s string, dst []token) ([]token, error) {
	if s == "" {
		return dst, nil
	}
	type node struct {
		id     int
		score  float64
		starts int // -1: unreached
	}
	best := make([]node, len(s)+1)
	for i := range best {
		best[i].starts = -1
	}
	unkScore := m.minScore - unkPenalty
	for at := 0; at < len(s); {
		here := best[at].score
		_, mblen := utf8.DecodeRuneInString(s[at:])
		single := false
		m.trie.prefixes(s[at:], func(n, id int) {
			t := &best[at+n]
			if c := m.scores[id] + here; t.starts < 0 || c > t.score {
				t.score, t.starts, t.id = c, at, id
			}
			if n == mblen {
				single = true
			}
		})
		if !single {
			if m.unk < 0 {
				return dst, fmt.Errorf("%w: Unigram: an unknown character and no unk_id", ErrEncode)
			}
			t := &best[at+mblen]
			if c := unkScore + here; t.starts < 0 || c > t.score {
				t.score, t.starts, t.id = c, at, m.unk
			}
		}
		at += mblen
	}
	// Walk back; consecutive unknowns fuse into one piece.
	type seg struct{ s, e int }
	var segs []seg
	fusing := false
	for end := len(s); end > 0; {
		nd := best[end]
		if nd.id == m.unk && m.unk >= 0 {
			if fusing {
				segs[len(segs)-1].s = nd.starts
			} else {
				segs = append(segs, seg{nd.starts, end})
				fusing = true
			}
		} else {
			segs = append(segs, seg{nd.starts, end})
			fusing = false
		}
		end = nd.starts
	}
	for i := len(segs) - 1; i >= 0; i-- {
		sg := segs[i]
		piece := s[sg.s:sg.e]
		if id, ok := m.ids[piece]; ok {
			dst = append(dst, token{id, sg.s, sg.e, piece})
			continue
		}
		if m.byteFallback {
			all := true
			var bts [4]int
			ids := bts[:0]
			for k := 0; k < len(piece); k++ {
				id, ok := m.ids[byteToken(piece[k])]
				if !ok {
					all = false
					break
				}
				ids = append(ids, id)
			}
			if all {
				for k, id := range ids {
					dst = append(dst, token{id, sg.s, sg.e, byteToken(piece[k])})
				}
				continue
			}
		}
		if m.unk < 0 {
			return dst, fmt.Errorf("%w: Unigram: an unknown piece and no unk_id", ErrEncode)
		}
		dst = append(dst, token{m.unk, sg.s, sg.e, piece})
	}
	return dst, nil
}
