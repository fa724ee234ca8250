package strtab

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"unsafe"
)

// ErrTooLarge is returned by Build for a table past the limits: more than
// MaxIDs ids or more than MaxBytes bytes of tokens.
var ErrTooLarge = errors.New("strtab: table too large")

const (
	// MaxIDs bounds the id space of one table.
	MaxIDs = math.MaxInt32 - 1
	// MaxBytes bounds the total bytes of one table's tokens (offsets are
	// uint32).
	MaxBytes = math.MaxUint32
)

// Table maps tokens to ids and ids to tokens. Build one with a Builder.
type Table struct {
	arena  []byte   // every token's bytes, by id
	offs   []uint32 // len ids+1: id's bytes are arena[offs[id]:offs[id+1]]
	slots  []uint32 // the index: tag<<idBits | id+1; 0 is free
	mask   uint64   // len(slots)-1
	idBits uint     // bits of a slot that hold id+1 (< 32: ids < MaxIDs)
	idMask uint32   // 1<<idBits - 1
	seed   maphash.Seed
	n      int // distinct tokens in the index
}

// Builder collects a table's tokens in id order: each Add gives the next
// id. Its zero value is ready to use.
type Builder struct {
	arena   []byte
	offs    []uint32 // starts, one per id
	skipped []uint64 // bitset of ids given by Skip
	size    uint64   // bytes added, checked against MaxBytes
	err     error
}

// Add gives the next id to tok.
func (b *Builder) Add(tok []byte) { b.add(len(tok)); b.arena = append(b.arena, tok...) }

// AddString gives the next id to tok.
func (b *Builder) AddString(tok string) { b.add(len(tok)); b.arena = append(b.arena, tok...) }

func (b *Builder) add(n int) {
	b.size += uint64(n)
	if b.err == nil && (len(b.offs) >= MaxIDs || b.size > MaxBytes) {
		b.err = fmt.Errorf("%w: over %d ids or %d bytes", ErrTooLarge, MaxIDs, uint64(MaxBytes))
	}
	b.offs = append(b.offs, uint32(len(b.arena)))
}

// Skip passes over the next id: it has no token (Token answers "") and no
// lookup returns it.
func (b *Builder) Skip() {
	id := len(b.offs)
	b.add(0)
	for len(b.skipped) <= id/64 {
		b.skipped = append(b.skipped, 0)
	}
	b.skipped[id/64] |= 1 << (id % 64)
}

// Grow makes room for ids more ids holding bytes more bytes of tokens. A
// builder grown to the exact size builds its table without copying.
func (b *Builder) Grow(ids, bytes int) {
	if ids < 0 || bytes < 0 {
		return
	}
	// make with an explicit capacity, not slices.Grow, which rounds it up
	// to a size class.
	if cap(b.arena)-len(b.arena) < bytes {
		b.arena = append(make([]byte, 0, len(b.arena)+bytes), b.arena...)
	}
	if cap(b.offs)-len(b.offs) < ids+1 { // +1: Build's end offset
		b.offs = append(make([]uint32, 0, len(b.offs)+ids+1), b.offs...)
	}
}

// Len is the number of ids added or skipped so far.
func (b *Builder) Len() int { return len(b.offs) }

// Build returns the table and resets the builder. When a token was added
// under more than one id, a lookup answers the last of them (as a later
// line of a vocab.txt wins); Token answers every id's own token.
func (b *Builder) Build() (*Table, error) {
	defer func() { *b = Builder{} }()
	if b.err != nil {
		return nil, b.err
	}
	ids := len(b.offs)
	t := &Table{seed: maphash.MakeSeed()}
	// Exact-size copies where the builder's slices grew by doubling.
	t.arena = b.arena
	if cap(b.arena) > len(b.arena) {
		t.arena = make([]byte, len(b.arena))
		copy(t.arena, b.arena)
	}
	t.offs = append(b.offs, uint32(len(b.arena)))
	if cap(t.offs) > len(t.offs) {
		t.offs = append(make([]uint32, 0, len(t.offs)), t.offs...)
	}

	live := ids
	for _, w := range b.skipped {
		live -= bits.OnesCount64(w)
	}
	// At most half full (see the package doc).
	size := 8
	for size < 2*live {
		size *= 2
	}
	t.slots = make([]uint32, size)
	t.mask = uint64(size - 1)
	t.idBits = uint(bits.Len32(uint32(ids))) // id+1 ≤ ids fits
	t.idMask = 1<<t.idBits - 1
	for id := range ids {
		if w := id / 64; w < len(b.skipped) && b.skipped[w]&(1<<(id%64)) != 0 {
			continue
		}
		t.insert(id)
	}
	return t, nil
}

// insert indexes id, replacing an earlier id with the same token.
func (t *Table) insert(id int) {
	tok := t.Token(id)
	h := maphash.String(t.seed, tok)
	tag := t.tag(h)
	v := tag | uint32(id+1)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			t.slots[i] = v
			t.n++
			return
		}
		if s&^t.idMask == tag && t.Token(int(s&t.idMask)-1) == tok {
			t.slots[i] = v
			return
		}
	}
}

// tag is the part of a slot that h sets: h's top bits above idBits. The
// index bits are h's low bits, so the two are independent.
func (t *Table) tag(h uint64) uint32 { return uint32(h>>32) << t.idBits }

// ID returns tok's id and whether tok is in the table.
func (t *Table) ID(tok string) (int, bool) {
	return t.find(maphash.String(t.seed, tok), tok)
}

// IDBytes is ID for a token held in a byte slice; it does not allocate.
func (t *Table) IDBytes(tok []byte) (int, bool) {
	// The string aliases tok only for the comparisons in find, which
	// neither keep nor change it.
	return t.find(maphash.Bytes(t.seed, tok), unsafe.String(unsafe.SliceData(tok), len(tok)))
}

func (t *Table) find(h uint64, tok string) (int, bool) {
	slots, mask := t.slots, t.mask
	tag, m := t.tag(h), t.idMask
	for i := h & mask; ; i = (i + 1) & mask {
		s := slots[i]
		if s&^m == tag && s != 0 {
			id := s&m - 1
			if lo, hi := t.offs[id], t.offs[id+1]; int(hi-lo) == len(tok) && string(t.arena[lo:hi]) == tok {
				return int(id), true
			}
		} else if s == 0 {
			return 0, false
		}
	}
}

// Token returns the token with the given id: "" for an id out of range or
// skipped. The string shares the table's memory (see the package doc).
func (t *Table) Token(id int) string {
	if id < 0 || id >= len(t.offs)-1 {
		return ""
	}
	lo, hi := t.offs[id], t.offs[id+1]
	if lo == hi {
		return ""
	}
	return unsafe.String(&t.arena[lo], hi-lo)
}

// Len is the size of the id space: ids are in [0, Len()).
func (t *Table) Len() int { return len(t.offs) - 1 }

// Distinct is the number of tokens a lookup can find: Len less the
// skipped ids and the ids whose token a later id repeats.
func (t *Table) Distinct() int { return t.n }

// Bytes is the memory the table holds, for tests and metrics.
func (t *Table) Bytes() int {
	return cap(t.arena) + 4*cap(t.offs) + 4*cap(t.slots) + int(unsafe.Sizeof(*t))
}
