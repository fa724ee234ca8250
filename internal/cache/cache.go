package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/mlserve/mlserve/internal/model"
)

// Key identifies one cached prediction.
type Key struct {
	// Model is the model id the entry belongs to, kept in clear so a model's
	// entries can be flushed.
	Model string
	// Sum is the SHA-256 of the model id, version and text.
	Sum [sha256.Size]byte
}

// NewKey returns the key of text's prediction by modelID at version. Pass
// the text after the model's preprocessing when it is known.
func NewKey(modelID, version, text string) Key {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	// Length prefixes keep ("a", "bc") and ("ab", "c") apart.
	for _, s := range [...]string{"mlserve-cache-1", modelID, version} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	h.Write([]byte(text))
	k := Key{Model: modelID}
	h.Sum(k.Sum[:0])
	return k
}

// Hex returns Sum in hexadecimal, for tiers that store string keys.
func (k Key) Hex() string { return hex.EncodeToString(k.Sum[:]) }

// Tier is a second cache tier behind memory, such as Redis. A Tier's errors
// are counted and treated as misses.
type Tier interface {
	// GetMany returns, for each key, its prediction and whether it was found.
	GetMany(ctx context.Context, keys []Key) ([]model.Prediction, []bool, error)
	// SetMany stores preds[i] under keys[i] for ttl.
	SetMany(ctx context.Context, keys []Key, preds []model.Prediction, ttl time.Duration) error
	// FlushModel deletes every entry of the model id.
	FlushModel(ctx context.Context, modelID string) error
}

// FallbackReporter is implemented by tiers that can be temporarily out of
// use (a Redis that is down); Stats reports it.
type FallbackReporter interface {
	// InFallback reports whether the tier is currently bypassed.
	InFallback() bool
}

// Config sets up a Cache.
type Config struct {
	// MaxSize is the number of entries the memory tier holds (cache.max_size).
	MaxSize int
	// TTL is how long an entry lives (cache.ttl_seconds); zero means no expiry
	// in memory and no expiry in the second tier.
	TTL time.Duration
	// Remote is the optional second tier.
	Remote Tier
}

// Cache is the two-tier prediction cache. It is safe for concurrent use.
type Cache struct {
	mem    *expirable.LRU[Key, model.Prediction]
	ttl    time.Duration
	remote Tier

	memHits, memMisses                   atomic.Uint64
	remoteHits, remoteMisses, remoteErrs atomic.Uint64
}

// New returns a cache with the limits of cfg.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxSize <= 0 {
		return nil, fmt.Errorf("cache: max size %d, want at least 1", cfg.MaxSize)
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("cache: negative ttl %s", cfg.TTL)
	}
	return &Cache{
		mem:    expirable.NewLRU[Key, model.Prediction](cfg.MaxSize, nil, cfg.TTL),
		ttl:    cfg.TTL,
		remote: cfg.Remote,
	}, nil
}

// Get looks up one key; see GetMany.
func (c *Cache) Get(ctx context.Context, k Key) (model.Prediction, bool) {
	p, ok, _ := c.GetMany(ctx, []Key{k})
	return p[0], ok[0]
}

// Lookup counts one GetMany's outcome per tier, for callers that book
// hits per model (monitoring).
type Lookup struct {
	// MemoryHits is how many keys memory held; the other keys were memory
	// misses.
	MemoryHits int
	// RemoteHits and RemoteMisses split the memory misses the second tier
	// was asked for (both 0 without one, or when memory held every key);
	// a failed call counts its keys as misses.
	RemoteHits, RemoteMisses int
}

// GetMany returns, for each key, the cached prediction and whether there was
// one, and the hits per tier. Memory is looked at first; the misses go to
// the second tier in one call, and what it finds is promoted to memory. The
// returned predictions share their slices with the cache: do not modify them.
func (c *Cache) GetMany(ctx context.Context, keys []Key) ([]model.Prediction, []bool, Lookup) {
	preds := make([]model.Prediction, len(keys))
	found := make([]bool, len(keys))
	var n Lookup
	var missed []int
	for i, k := range keys {
		if p, ok := c.mem.Get(k); ok {
			preds[i], found[i] = p, true
			n.MemoryHits++
			continue
		}
		missed = append(missed, i)
	}
	c.memHits.Add(uint64(n.MemoryHits))
	c.memMisses.Add(uint64(len(missed)))
	if len(missed) == 0 || c.remote == nil {
		return preds, found, n
	}
	rk := make([]Key, len(missed))
	for j, i := range missed {
		rk[j] = keys[i]
	}
	rp, rf, err := c.remote.GetMany(ctx, rk)
	if err != nil || len(rp) != len(rk) || len(rf) != len(rk) {
		c.remoteErrs.Add(1)
		c.remoteMisses.Add(uint64(len(rk)))
		n.RemoteMisses = len(rk)
		return preds, found, n
	}
	for j, i := range missed {
		if !rf[j] {
			n.RemoteMisses++
			continue
		}
		n.RemoteHits++
		preds[i], found[i] = rp[j], true
		c.mem.Add(keys[i], rp[j])
	}
	c.remoteHits.Add(uint64(n.RemoteHits))
	c.remoteMisses.Add(uint64(n.RemoteMisses))
	return preds, found, n
}

// SetMany stores preds[i] under keys[i] in memory and in the second tier
// (one call). The predictions are copied.
func (c *Cache) SetMany(ctx context.Context, keys []Key, preds []model.Prediction) {
	if len(keys) != len(preds) {
		panic(fmt.Sprintf("cache: SetMany with %d keys and %d predictions", len(keys), len(preds)))
	}
	stored := make([]model.Prediction, len(preds))
	for i, p := range preds {
		p.Probabilities = slices.Clone(p.Probabilities)
		p.Decision = slices.Clone(p.Decision)
		stored[i] = p
		c.mem.Add(keys[i], p)
	}
	if c.remote != nil && len(keys) > 0 {
		if err := c.remote.SetMany(ctx, keys, stored, c.ttl); err != nil {
			c.remoteErrs.Add(1)
		}
	}
}

// FlushModel deletes every entry of modelID from both tiers. The memory tier
// is always flushed; the error is the second tier's.
func (c *Cache) FlushModel(ctx context.Context, modelID string) error {
	for _, k := range c.mem.Keys() {
		if k.Model == modelID {
			c.mem.Remove(k)
		}
	}
	if c.remote == nil {
		return nil
	}
	if err := c.remote.FlushModel(ctx, modelID); err != nil {
		return fmt.Errorf("cache: flushing %s from the second tier: %w", modelID, err)
	}
	return nil
}

// TierStats counts one tier's lookups.
type TierStats struct {
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Errors counts failed calls to the tier (second tier only).
	Errors uint64 `json:"errors,omitempty"`
	// Entries is the number of entries held (memory tier only).
	Entries int `json:"entries,omitempty"`
}

// Stats is a snapshot of the cache's counters.
type Stats struct {
	Memory TierStats `json:"memory"`
	// Remote is nil without a second tier.
	Remote *TierStats `json:"remote,omitempty"`
	// RemoteFallback says the second tier is currently bypassed (down).
	RemoteFallback bool `json:"remote_fallback,omitempty"`
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	s := Stats{Memory: TierStats{Hits: c.memHits.Load(), Misses: c.memMisses.Load(), Entries: c.mem.Len()}}
	if c.remote != nil {
		s.Remote = &TierStats{Hits: c.remoteHits.Load(), Misses: c.remoteMisses.Load(), Errors: c.remoteErrs.Load()}
		if fr, ok := c.remote.(FallbackReporter); ok {
			s.RemoteFallback = fr.InFallback()
		}
	}
	return s
}

// ErrCorrupt means a stored entry could not be decoded.
var ErrCorrupt = errors.New("cache: corrupt entry")
