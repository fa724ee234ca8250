package tokenizer

import "sync"

// cacheCapacity is how many words a model remembers (Rust tokenizers'
// default for BPE and Unigram).
const cacheCapacity = 10_000

// maxCachedWord: only words shorter than this many bytes are cached
// (tokenizers' MAX_LENGTH).
const maxCachedWord = 256

// wordCache remembers the tokens of recent words. Like tokenizers' Cache it
// stops growing when full and skips itself under contention rather than
// wait: it only saves work.
type wordCache struct {
	mu sync.RWMutex
	m  map[string][]token
}

func (c *wordCache) get(word string, dst []token) ([]token, bool) {
	if !c.mu.TryRLock() {
		return dst, false
	}
	toks, ok := c.m[word]
	c.mu.RUnlock()
	if !ok {
		return dst, false
	}
	return append(dst, toks...), true
}

func (c *wordCache) put(word string, toks []token) {
	if len(word) >= maxCachedWord || !c.mu.TryLock() {
		return
	}
	if c.m == nil {
		c.m = make(map[string][]token, 256)
	}
	if len(c.m) < cacheCapacity {
		c.m[word] = append([]token(nil), toks...)
	}
	c.mu.Unlock()
}

// cached wraps a model's tokenize with the cache.
func cached(c *wordCache, word string, dst []token, f func(string, []token) ([]token, error)) ([]token, error) {
	if out, ok := c.get(word, dst); ok {
		return out, nil
	}
	start := len(dst)
	out, err := f(word, dst)
	if err == nil {
		c.put(word, out[start:])
	}
	return out, err
}
