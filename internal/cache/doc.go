// Package cache remembers predictions so a repeated text is answered without
// running the model: an in-process LRU tier bounded in entries and age, and
// optionally a shared second tier behind it (see package
// internal/cache/redis).
//
// # Keys
//
// A Key is the model id plus the SHA-256 of (model id, version, text), where
// text is the text after the model's preprocessing when the caller has it
// (so texts the model cannot tell apart share an entry). The version is part
// of the hash, so swapping a model's version can never serve the previous
// version's answer. SHA-256 rather than a faster non-cryptographic hash
// (xxhash, FNV-128): the texts come from clients, and with a hash whose
// collisions can be constructed, one client could plant an answer that
// another client's different text would then receive. SHA-256 costs about
// 2 µs for a 2,000-character text (BenchmarkNewKey in internal/cache/redis:
// 1.2 GB/s on this project's 2-core AMD EPYC), well below any model's cost.
//
// # Tiers
//
// GetMany looks in memory first; the keys it misses go to the second tier in
// one round trip, and that tier's hits are copied into memory. SetMany stores
// in both. A second tier that fails is a miss, never an error: the cache
// only ever makes a request faster.
package cache
