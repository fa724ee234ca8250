package tokenizer

// trie is a byte trie over a set of strings, each with a value; its one
// query walks every key that is a prefix of a text, shortest first.
type trie struct {
	// edges maps node<<8|byte to the child node.
	edges map[uint64]int32
	// value[node] is the key's value + 1, or 0 when no key ends there.
	value []int32
}

func newTrie() *trie {
	return &trie{edges: make(map[uint64]int32), value: []int32{0}}
}

// add inserts key with value v (>= 0); a later add of the same key wins.
func (t *trie) add(key string, v int) {
	node := int32(0)
	for i := 0; i < len(key); i++ {
		k := uint64(node)<<8 | uint64(key[i])
		next, ok := t.edges[k]
		if !ok {
			next = int32(len(t.value))
			t.value = append(t.value, 0)
			t.edges[k] = next
		}
		node = next
	}
	t.value[node] = int32(v) + 1
}

// prefixes calls f(length, value) for each key that is a prefix of s,
// shortest first.
func (t *trie) prefixes(s string, f func(n, v int)) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		next, ok := t.edges[uint64(node)<<8|uint64(s[i])]
		if !ok {
			return
		}
		node = next
		if v := t.value[node]; v != 0 {
			f(i+1, int(v-1))
		}
	}
}

// longest returns the length and value of the longest key that is a prefix
// of s, or n = 0.
func (t *trie) longest(s string) (n, v int) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		next, ok := t.edges[uint64(node)<<8|uint64(s[i])]
		if !ok {
			break
		}
		node = next
		if x := t.value[node]; x != 0 {
			n, v = i+1, int(x-1)
		}
	}
	return n, v
}
