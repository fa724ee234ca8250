package numpy

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/mlserve/mlserve/internal/pickle"
)

// ErrDtype means an array or scalar has a dtype this package cannot decode,
// or is asked for a conversion its dtype does not allow.
var ErrDtype = errors.New("numpy: unsupported dtype")

// Dtype is a numpy data type.
type Dtype struct {
	// Kind is numpy's kind character: 'b' bool, 'i' signed int, 'u'
	// unsigned int, 'f' float, 'c' complex, 'U' unicode (UCS-4), 'S' bytes,
	// 'O' Python object, 'V' void/structured, 'M'/'m' datetime/timedelta.
	Kind byte
	// ItemSize is the size of one element in bytes (8 for objects).
	ItemSize int
	// Order is '<' little-endian, '>' big-endian or '|' not applicable.
	Order byte
	// fields are a structured dtype's named fields in order (Kind 'V'),
	// nil for any other dtype; a pointer keeps Dtype comparable.
	fields *[]Field
}

// Fields returns a structured dtype's named fields in order, nil for any
// other dtype.
func (d Dtype) Fields() []Field {
	if d.fields == nil {
		return nil
	}
	return *d.fields
}

// Field is one named field of a structured dtype: its type and its byte
// offset in the record.
type Field struct {
	Name   string
	Type   Dtype
	Offset int
}

// maxFields bounds a structured dtype's fields (scikit-learn's largest,
// a tree's node record, has 8).
const maxFields = 64

// String returns numpy's type string, e.g. "<f8".
func (d Dtype) String() string {
	n := d.ItemSize
	if d.Kind == 'U' {
		n /= 4 // numpy counts UCS-4 characters
	}
	return string(d.Order) + string(d.Kind) + strconv.Itoa(n)
}

// SetState takes numpy.dtype's pickled state
// (version, endian, subarray, names, fields, elsize, alignment, flags[, metadata]).
func (d *Dtype) SetState(state any) error {
	t, ok := state.(pickle.Tuple)
	if !ok || len(t) < 8 {
		return fmt.Errorf("%w: dtype state %T", ErrDtype, state)
	}
	endian, ok := t[1].(string)
	if !ok || len(endian) != 1 {
		return fmt.Errorf("%w: dtype endian %s", ErrDtype, pickle.Describe(t[1]))
	}
	switch endian[0] {
	case '<', '>', '|':
		d.Order = endian[0]
	case '=':
		d.Order = '<'
	default:
		return fmt.Errorf("%w: dtype endian %q", ErrDtype, endian)
	}
	if t[2] != nil || t[3] != nil || t[4] != nil {
		d.Kind = 'V' // subarray or structured: kept, decodable by field
	}
	if es, ok := t[5].(int64); ok && es > 0 {
		if es > 1<<30 {
			return fmt.Errorf("%w: itemsize %d", ErrDtype, es)
		}
		d.ItemSize = int(es)
	}
	if t[2] == nil && t[3] != nil {
		fs, err := structFields(t[3], t[4], d.ItemSize)
		if err != nil {
			return err
		}
		d.fields = &fs
	}
	if d.ItemSize == 1 || d.Kind == 'O' {
		d.Order = '|'
	}
	return nil
}

// newDtype implements numpy.dtype(obj, align, copy) for the type strings a
// dtype pickles with ('f8', 'U5', 'O8', 'b1', ...).
func newDtype(args pickle.Tuple) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%w: dtype() without arguments", ErrDtype)
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("%w: dtype(%T)", ErrDtype, args[0])
	}
	d, err := ParseDtype(s)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// ParseDtype parses a numpy type string such as "<f8", "i4", "U5" or "O".
func ParseDtype(s string) (Dtype, error) {
	d := Dtype{Order: '<'}
	if s != "" && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=') {
		if s[0] != '=' {
			d.Order = s[0]
		}
		s = s[1:]
	}
	if s == "" {
		return d, fmt.Errorf("%w: empty type string", ErrDtype)
	}
	d.Kind = s[0]
	n := 0
	if len(s) > 1 {
		v, err := strconv.Atoi(s[1:])
		if err != nil || v < 0 || v > 1<<30 {
			return d, fmt.Errorf("%w: %q", ErrDtype, s)
		}
		n = v
	}
	switch d.Kind {
	case '?':
		d.Kind, n = 'b', 1
	case 'b':
		if n == 0 {
			n = 1
		}
	case 'i', 'u', 'f', 'c', 'M', 'm':
		if n == 0 {
			return d, fmt.Errorf("%w: %q without size", ErrDtype, s)
		}
	case 'U':
		n *= 4
	case 'S', 'a', 'V':
		if d.Kind == 'a' {
			d.Kind = 'S'
		}
	case 'O':
		n = 8
	default:
		return d, fmt.Errorf("%w: %q", ErrDtype, s)
	}
	d.ItemSize = n
	if n <= 1 || d.Kind == 'O' || d.Kind == 'S' || d.Kind == 'V' {
		d.Order = '|'
	}
	return d, nil
}

// Type returns the numpy type name of the dtype, e.g. "float64", as used
// by numpy.float64 references.
func (d Dtype) Type() string {
	switch d.Kind {
	case 'b':
		return "bool"
	case 'i':
		return "int" + strconv.Itoa(8*d.ItemSize)
	case 'u':
		return "uint" + strconv.Itoa(8*d.ItemSize)
	case 'f':
		return "float" + strconv.Itoa(8*d.ItemSize)
	case 'c':
		return "complex" + strconv.Itoa(8*d.ItemSize)
	case 'U':
		return "str"
	case 'S':
		return "bytes"
	case 'O':
		return "object"
	}
	return "void"
}

// structFields reads a structured dtype's names (a tuple of str) and
// fields (a dict of name to (dtype, offset[, title])), refusing a field
// that does not lie within the record of size itemSize.
func structFields(names, fields any, itemSize int) ([]Field, error) {
	nt, ok := names.(pickle.Tuple)
	if !ok {
		return nil, fmt.Errorf("%w: structured dtype names %s", ErrDtype, pickle.Describe(names))
	}
	fd, ok := fields.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("%w: structured dtype fields %s", ErrDtype, pickle.Describe(fields))
	}
	if len(nt) > maxFields {
		return nil, fmt.Errorf("%w: structured dtype of %d fields (at most %d)", ErrDtype, len(nt), maxFields)
	}
	out := make([]Field, 0, len(nt))
	for _, n := range nt {
		name, ok := n.(string)
		if !ok {
			return nil, fmt.Errorf("%w: structured dtype field name %s", ErrDtype, pickle.Describe(n))
		}
		v, ok := fd.Get(name)
		ft, ok2 := v.(pickle.Tuple)
		if !ok || !ok2 || len(ft) < 2 {
			return nil, fmt.Errorf("%w: structured dtype field %q is %s", ErrDtype, name, pickle.Describe(v))
		}
		typ, err := toDtype(ft[0])
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		off, ok := ft[1].(int64)
		if !ok || off < 0 || typ.Kind == 'O' || off+int64(typ.ItemSize) > int64(itemSize) {
			return nil, fmt.Errorf("%w: structured dtype field %q of %s at offset %s does not fit a record of %d bytes",
				ErrDtype, name, typ, pickle.Describe(ft[1]), itemSize)
		}
		out = append(out, Field{Name: name, Type: typ, Offset: int(off)})
	}
	return out, nil
}
