// Package strtab is a compact, immutable string→id table for vocabularies:
// the tokens of a BERT vocab.txt, of a tokenizer.json model, of a
// scikit-learn vectorizer's vocabulary_.
//
// A Go map[string]int spends about 50 bytes per entry on top of the token's
// bytes (a 16-byte string header, an 8-byte value, the map's slot overhead
// and the string's own allocation), and every key is a pointer the garbage
// collector scans. A Table keeps all token bytes in one []byte arena, one
// uint32 offset per id and an open-addressing index of uint32 slots: the
// token's bytes plus 12 to 20 bytes (4 of offset, 8 to 16 of index), in
// three pointer-free allocations.
//
// # Layout
//
// Token id's bytes are arena[offs[id]:offs[id+1]]; an id that was skipped
// (Builder.Skip) has no bytes and is not in the index. The index has a
// power-of-two number of slots, at most half full, probed linearly: a
// miss, the common case of WordPiece's longest-match-first search, scans
// the run of full slots from its home, ~1.5 slots at load 1/2 where it is
// ~8.5 at 3/4. A slot
// holds id+1 in its low idBits bits (0: free) and, above them, the top bits
// of the token's hash as a tag, so that a probe compares bytes only when
// the tag agrees: a miss rarely touches the arena.
//
// # Hash
//
// hash/maphash with a per-table random seed: it is the runtime's own string
// hash (AES-based where the CPU has it), as fast as a Go map's, it hashes a
// []byte and a string alike without allocating, and the random seed means
// a vocabulary file cannot be crafted to pile its tokens into one probe
// run.
//
// # Token strings
//
// Token returns a string that points into the arena (unsafe.String). That
// is sound because the arena is written only by Builder.Build, before the
// Table is returned, and never after: the string is as immutable as any
// Go string, and it keeps the arena alive for as long as it is held.
//
// A Table is safe for concurrent use.
package strtab
