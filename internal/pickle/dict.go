package pickle

import (
	"fmt"
	"math/big"
	"strings"
)

// Dict is a Python dict: insertion-ordered, with constant-time lookup of
// hashable keys (None, bool, int, float, str, bytes and tuples of those).
type Dict struct {
	keys  []any
	vals  []any
	index map[any]int
}

// NewDict returns an empty dict with room for n entries.
func NewDict(n int) *Dict {
	return &Dict{keys: make([]any, 0, n), vals: make([]any, 0, n), index: make(map[any]int, n)}
}

// hashKey turns a Python key into a comparable Go map key. Python's 1, 1.0
// and True are one key; so are they here.
func hashKey(k any) (any, error) {
	switch v := k.(type) {
	case nil, string, int64:
		return v, nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case float64:
		if v == float64(int64(v)) {
			return int64(v), nil
		}
		return v, nil
	case *big.Int:
		return "\x00bigint:" + v.String(), nil
	case []byte:
		return "\x00bytes:" + string(v), nil
	case Tuple:
		var b strings.Builder
		b.WriteString("\x00tuple:")
		for _, e := range v {
			h, err := hashKey(e)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "%T:%v\x01", h, h)
		}
		return b.String(), nil
	case Global:
		return "\x00global:" + v.Module + "." + v.Name, nil
	case *Global:
		return "\x00global:" + v.Module + "." + v.Name, nil
	default:
		return nil, fmt.Errorf("pickle: unhashable dict key of type %T", k)
	}
}

// Set stores val under key, keeping the key's first position.
func (d *Dict) Set(key, val any) error {
	h, err := hashKey(key)
	if err != nil {
		return err
	}
	if d.index == nil {
		d.index = make(map[any]int)
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = val
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, val)
	return nil
}

// Get returns the value stored under key.
func (d *Dict) Get(key any) (any, bool) {
	if d == nil {
		return nil, false
	}
	h, err := hashKey(key)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// Len is the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Keys returns the keys in insertion order. The slice must not be modified.
func (d *Dict) Keys() []any {
	if d == nil {
		return nil
	}
	return d.keys
}

// Each calls fn for every entry in insertion order, stopping at the first error.
func (d *Dict) Each(fn func(key, val any) error) error {
	if d == nil {
		return nil
	}
	for i, k := range d.keys {
		if err := fn(k, d.vals[i]); err != nil {
			return err
		}
	}
	return nil
}
