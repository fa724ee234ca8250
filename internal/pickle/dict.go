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
// and True are one key; so are they here. Tuples are hashed through a
// bounded encoding, so that a hostile stream cannot make one key cost more
// than maxKeyBytes or nest deeper than maxKeyDepth.
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
	}
	var b strings.Builder
	if err := writeKey(&b, k, 0); err != nil {
		return nil, err
	}
	return compositeKey(b.String()), nil
}

// compositeKey is the map key of a tuple, bytes, big int or global: a
// distinct type, so that it never equals a str key.
type compositeKey string

const (
	maxKeyBytes = 1 << 16
	maxKeyDepth = 32
)

// writeKey appends a type-tagged encoding of k to b.
func writeKey(b *strings.Builder, k any, depth int) error {
	if depth > maxKeyDepth {
		return fmt.Errorf("%w: dict key nested deeper than %d (the key depth limit)", ErrLimit, maxKeyDepth)
	}
	if b.Len() > maxKeyBytes {
		return fmt.Errorf("%w: dict key longer than %d bytes (the key size limit)", ErrLimit, maxKeyBytes)
	}
	switch v := k.(type) {
	case nil:
		b.WriteString("\x00none\x01")
	case bool:
		if v {
			b.WriteString("\x00int:1\x01")
		} else {
			b.WriteString("\x00int:0\x01")
		}
	case int64:
		fmt.Fprintf(b, "\x00int:%d\x01", v)
	case float64:
		if v == float64(int64(v)) {
			fmt.Fprintf(b, "\x00int:%d\x01", int64(v))
		} else {
			fmt.Fprintf(b, "\x00float:%x\x01", v)
		}
	case string:
		if len(v) > maxKeyBytes {
			return fmt.Errorf("%w: dict key longer than %d bytes (the key size limit)", ErrLimit, maxKeyBytes)
		}
		fmt.Fprintf(b, "\x00str:%d:%s\x01", len(v), v)
	case *big.Int:
		if v.IsInt64() {
			fmt.Fprintf(b, "\x00int:%d\x01", v.Int64())
		} else if v.BitLen() > 8*maxKeyBytes {
			return fmt.Errorf("%w: dict key longer than %d bytes (the key size limit)", ErrLimit, maxKeyBytes)
		} else {
			// Hexadecimal: linear in the size, where decimal is not.
			fmt.Fprintf(b, "\x00bigint:%s\x01", v.Text(16))
		}
	case []byte:
		if len(v) > maxKeyBytes {
			return fmt.Errorf("%w: dict key longer than %d bytes (the key size limit)", ErrLimit, maxKeyBytes)
		}
		fmt.Fprintf(b, "\x00bytes:%d:%s\x01", len(v), v)
	case Tuple:
		fmt.Fprintf(b, "\x00tuple:%d(", len(v))
		for _, e := range v {
			if err := writeKey(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(")")
	case Global:
		b.WriteString("\x00global:" + v.Module + "." + v.Name + "\x01")
	case *Global:
		b.WriteString("\x00global:" + v.Module + "." + v.Name + "\x01")
	default:
		return fmt.Errorf("pickle: unhashable dict key: %s (Python refuses it too)", Describe(k))
	}
	return nil
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
