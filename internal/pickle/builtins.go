package pickle

import (
	"fmt"
	"strings"
)

// Builtins allows the Python builtins that plain-data pickles use:
// _codecs.encode (bytes under protocols 0-2), bytes, bytearray, set,
// frozenset, object and copyreg._reconstructor (objects under protocols 0-1),
// under both their Python 3 and Python 2 module names.
func Builtins(a *AllowList) {
	for _, mod := range []string{"builtins", "__builtin__"} {
		a.Allow(mod, "bytes", Func(func(args Tuple) (any, error) {
			if len(args) == 0 {
				return []byte{}, nil
			}
			return encode(args)
		}))
		a.Allow(mod, "bytearray", Func(func(args Tuple) (any, error) {
			if len(args) == 0 {
				return []byte{}, nil
			}
			if b, ok := args[0].([]byte); ok && len(args) == 1 {
				return b, nil
			}
			return encode(args)
		}))
		a.Allow(mod, "set", Func(newSet))
		a.Allow(mod, "frozenset", Func(newSet))
		a.Allow(mod, "object", Type())
	}
	a.Allow("_codecs", "encode", Func(encode))
	recon := func(args Tuple) (any, error) {
		// copyreg._reconstructor(cls, base, state): object.__new__(cls),
		// then base.__init__(obj, state) when base is not object.
		if len(args) != 3 {
			return nil, fmt.Errorf("%w: _reconstructor takes 3 arguments, got %d", ErrMalformed, len(args))
		}
		cls, ok := args[0].(Global)
		if !ok {
			return nil, fmt.Errorf("%w: _reconstructor of a %T", ErrMalformed, args[0])
		}
		base, ok := args[1].(Global)
		if !ok {
			return nil, fmt.Errorf("%w: _reconstructor base is a %T", ErrMalformed, args[1])
		}
		if base.Name != "object" || (base.Module != "builtins" && base.Module != "__builtin__") {
			return nil, fmt.Errorf("%w: _reconstructor with base %s.%s", ErrForbidden, base.Module, base.Name)
		}
		return a.Call(cls, nil, nil)
	}
	a.Allow("copyreg", "_reconstructor", Func(recon))
	a.Allow("copy_reg", "_reconstructor", Func(recon))
}

// encode implements _codecs.encode(str, 'latin1') as pickled by Python 3 for
// bytes under protocols 0-2.
func encode(args Tuple) (any, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("%w: encode takes 1 or 2 arguments", ErrMalformed)
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("%w: encode of a %T", ErrMalformed, args[0])
	}
	enc := "utf-8"
	if len(args) == 2 {
		if enc, ok = args[1].(string); !ok {
			return nil, fmt.Errorf("%w: encoding is a %T", ErrMalformed, args[1])
		}
	}
	switch strings.ReplaceAll(strings.ToLower(enc), "_", "-") {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("%w: latin-1 cannot encode %U", ErrMalformed, r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	case "utf-8", "utf8":
		return []byte(s), nil
	case "ascii":
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return nil, fmt.Errorf("%w: ascii cannot encode byte %#x", ErrMalformed, s[i])
			}
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%w: unsupported encoding %q", ErrMalformed, enc)
}

// newSet implements set(iterable) and frozenset(iterable).
func newSet(args Tuple) (any, error) {
	s := &Set{}
	if len(args) == 0 {
		return s, nil
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("%w: set takes 1 argument", ErrMalformed)
	}
	var items []any
	switch v := args[0].(type) {
	case *List:
		items = v.Items
	case Tuple:
		items = v
	case *Set:
		items = v.Items
	default:
		return nil, fmt.Errorf("%w: set of a %T", ErrMalformed, args[0])
	}
	if err := s.add(items); err != nil {
		return nil, err
	}
	return s, nil
}

// add appends the items not already in the set.
func (s *Set) add(items []any) error {
	if s.index == nil {
		s.index = make(map[any]struct{}, len(s.Items)+len(items))
		for _, it := range s.Items {
			h, err := hashKey(it)
			if err != nil {
				return err
			}
			s.index[h] = struct{}{}
		}
	}
	seen := s.index
	for _, it := range items {
		h, err := hashKey(it)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if _, ok := seen[h]; ok {
			continue
		}
		seen[h] = struct{}{}
		s.Items = append(s.Items, it)
	}
	return nil
}
