package numpy

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/mlserve/mlserve/internal/pickle"
)

// Array is a decoded numpy.ndarray. Elements are kept in row-major (C)
// order whatever order the file stored them in.
type Array struct {
	// Dtype is the element type.
	Dtype Dtype
	// Shape is the size of each dimension; empty for a 0-d array.
	Shape []int
	data  []byte // raw elements, row-major, for every kind but 'O'
	objs  []any  // elements of an object array, row-major
}

// maxEmptyItems caps the element count of arrays whose elements have size 0.
const maxEmptyItems = 1 << 16

// NewArray builds an array from raw element bytes, as numpy stores them in
// memory: in C order, or in Fortran order when fortran is set.
func NewArray(dt Dtype, shape []int, fortran bool, raw []byte) (*Array, error) {
	n, err := count(shape)
	if err != nil {
		return nil, err
	}
	if dt.Kind == 'O' {
		return nil, fmt.Errorf("%w: object array from raw bytes", ErrDtype)
	}
	if dt.ItemSize < 0 || (dt.ItemSize > 0 && n > len(raw)/dt.ItemSize) || n*dt.ItemSize != len(raw) {
		return nil, fmt.Errorf("%w: %d bytes for %d elements of %s", ErrDtype, len(raw), n, dt)
	}
	if dt.ItemSize == 0 && n > maxEmptyItems {
		// Elements of size 0 (U0, S0) take no input; cap their count so
		// that accessors cannot be made to allocate out of proportion.
		return nil, fmt.Errorf("%w: %d bytes for %d elements of %s", ErrDtype, len(raw), n, dt)
	}
	a := &Array{Dtype: dt, Shape: append([]int(nil), shape...), data: raw}
	if fortran && len(shape) > 1 {
		a.data = transpose(raw, shape, dt.ItemSize)
	}
	return a, nil
}

// NewObjectArray builds an object array from its elements in row-major
// order (numpy pickles an object array's elements in that order even when
// the array is Fortran-ordered).
func NewObjectArray(shape []int, items []any) (*Array, error) {
	n, err := count(shape)
	if err != nil {
		return nil, err
	}
	if n != len(items) {
		return nil, fmt.Errorf("%w: %d objects for shape %v", ErrDtype, len(items), shape)
	}
	return &Array{Dtype: Dtype{Kind: 'O', ItemSize: 8, Order: '|'}, Shape: append([]int(nil), shape...), objs: items}, nil
}

// count returns the number of elements of shape, refusing negative sizes
// and overflow.
func count(shape []int) (int, error) {
	n := 1
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrDtype, shape)
		}
		if s != 0 && n > math.MaxInt32/s {
			return 0, fmt.Errorf("%w: shape %v too large", ErrDtype, shape)
		}
		n *= s
	}
	return n, nil
}

// fortranIndex returns, for each row-major position, the position of the
// same element in Fortran order.
func fortranIndex(shape []int) []int {
	n, _ := count(shape)
	idx := make([]int, n)
	d := len(shape)
	cstr := make([]int, d) // strides in elements
	fstr := make([]int, d)
	c, f := 1, 1
	for i := d - 1; i >= 0; i-- {
		cstr[i] = c
		c *= shape[i]
	}
	for i := 0; i < d; i++ {
		fstr[i] = f
		f *= shape[i]
	}
	for p := 0; p < n; p++ {
		rem, off := p, 0
		for i := 0; i < d; i++ {
			k := rem / cstr[i]
			rem %= cstr[i]
			off += k * fstr[i]
		}
		idx[p] = off
	}
	return idx
}

func transpose(raw []byte, shape []int, size int) []byte {
	idx := fortranIndex(shape)
	out := make([]byte, len(raw))
	for c, f := range idx {
		copy(out[c*size:(c+1)*size], raw[f*size:(f+1)*size])
	}
	return out
}

// Len is the number of elements.
func (a *Array) Len() int {
	n, _ := count(a.Shape)
	return n
}

// Describe says what a is for an error message (pickle.Describer):
// its dtype and shape, never its elements.
func (a *Array) Describe() string {
	return fmt.Sprintf("numpy array of %s, shape %v", a.Dtype, a.Shape)
}

// Dims is the number of dimensions.
func (a *Array) Dims() int { return len(a.Shape) }

// Raw returns the element bytes in row-major order (nil for object arrays).
// The slice must not be modified.
func (a *Array) Raw() []byte { return a.data }

func (a *Array) order() binary.ByteOrder {
	if a.Dtype.Order == '>' {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Float64s returns the elements as float64 in row-major order, converting
// any bool, int, uint or float dtype, and object arrays of numbers.
func (a *Array) Float64s() ([]float64, error) {
	n := a.Len()
	out := make([]float64, n)
	if a.Dtype.Kind == 'O' {
		for i, v := range a.objs {
			f, ok := toFloat(v)
			if !ok {
				return nil, fmt.Errorf("%w: object element %T is not a number", ErrDtype, v)
			}
			out[i] = f
		}
		return out, nil
	}
	bo, sz, d := a.order(), a.Dtype.ItemSize, a.data
	switch a.Dtype.Kind {
	case 'f':
		switch sz {
		case 8:
			for i := range out {
				out[i] = math.Float64frombits(bo.Uint64(d[8*i:]))
			}
		case 4:
			for i := range out {
				out[i] = float64(math.Float32frombits(bo.Uint32(d[4*i:])))
			}
		case 2:
			for i := range out {
				out[i] = half(bo.Uint16(d[2*i:]))
			}
		default:
			return nil, fmt.Errorf("%w: float of %d bytes", ErrDtype, sz)
		}
	case 'i', 'u', 'b':
		for i := range out {
			v, err := a.intAt(i)
			if err != nil {
				return nil, err
			}
			if a.Dtype.Kind == 'u' && v < 0 {
				out[i] = float64(uint64(v))
			} else {
				out[i] = float64(v)
			}
		}
	default:
		return nil, fmt.Errorf("%w: %s is not numeric", ErrDtype, a.Dtype)
	}
	return out, nil
}

// intAt reads integer or bool element i.
func (a *Array) intAt(i int) (int64, error) {
	bo, sz, d := a.order(), a.Dtype.ItemSize, a.data
	signed := a.Dtype.Kind == 'i'
	switch sz {
	case 1:
		if signed {
			return int64(int8(d[i])), nil
		}
		return int64(d[i]), nil
	case 2:
		v := bo.Uint16(d[2*i:])
		if signed {
			return int64(int16(v)), nil
		}
		return int64(v), nil
	case 4:
		v := bo.Uint32(d[4*i:])
		if signed {
			return int64(int32(v)), nil
		}
		return int64(v), nil
	case 8:
		return int64(bo.Uint64(d[8*i:])), nil
	}
	return 0, fmt.Errorf("%w: integer of %d bytes", ErrDtype, sz)
}

// Int64s returns the elements as int64 in row-major order, for bool, int
// and uint dtypes (uint64 values above MaxInt64 are an error), floats that
// hold whole numbers, and object arrays of ints.
func (a *Array) Int64s() ([]int64, error) {
	n := a.Len()
	out := make([]int64, n)
	switch a.Dtype.Kind {
	case 'i', 'u', 'b':
		for i := range out {
			v, err := a.intAt(i)
			if err != nil {
				return nil, err
			}
			if a.Dtype.Kind == 'u' && a.Dtype.ItemSize == 8 && v < 0 {
				return nil, fmt.Errorf("%w: uint64 %d overflows int64", ErrDtype, uint64(v))
			}
			out[i] = v
		}
		return out, nil
	case 'f', 'O':
		fs, err := a.Float64s()
		if err != nil {
			return nil, err
		}
		for i, f := range fs {
			if f != math.Trunc(f) || math.Abs(f) > 1<<63 {
				return nil, fmt.Errorf("%w: %v is not an integer", ErrDtype, f)
			}
			out[i] = int64(f)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s is not an integer type", ErrDtype, a.Dtype)
}

// Strings returns the elements of a U, S or object array of str as strings,
// in row-major order. numpy's trailing NULs are removed, as numpy does.
func (a *Array) Strings() ([]string, error) {
	n := a.Len()
	out := make([]string, n)
	sz := a.Dtype.ItemSize
	switch a.Dtype.Kind {
	case 'U':
		bo := a.order()
		for i := range out {
			var b strings.Builder
			for j := 0; j+4 <= sz; j += 4 {
				r := rune(bo.Uint32(a.data[i*sz+j:]))
				if r == 0 {
					break
				}
				if !utf8.ValidRune(r) {
					r = utf8.RuneError
				}
				b.WriteRune(r)
			}
			out[i] = b.String()
		}
	case 'S':
		for i := range out {
			out[i] = strings.TrimRight(string(a.data[i*sz:(i+1)*sz]), "\x00")
		}
	case 'O':
		for i, v := range a.objs {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%w: object element %T is not a str", ErrDtype, v)
			}
			out[i] = s
		}
	default:
		return nil, fmt.Errorf("%w: %s is not a string type", ErrDtype, a.Dtype)
	}
	return out, nil
}

// Values returns the elements in row-major order as Go values: the objects
// of an object array, else each element boxed as bool, int64, float64 (for
// uint64 above MaxInt64 too), string or []byte.
func (a *Array) Values() ([]any, error) {
	if a.Dtype.Kind == 'O' {
		return a.objs, nil
	}
	n := a.Len()
	out := make([]any, n)
	switch a.Dtype.Kind {
	case 'b':
		for i := range out {
			out[i] = a.data[i] != 0
		}
	case 'i', 'u':
		for i := range out {
			v, err := a.intAt(i)
			if err != nil {
				return nil, err
			}
			if a.Dtype.Kind == 'u' && v < 0 {
				out[i] = float64(uint64(v))
			} else {
				out[i] = v
			}
		}
	case 'f':
		fs, err := a.Float64s()
		if err != nil {
			return nil, err
		}
		for i, f := range fs {
			out[i] = f
		}
	case 'U':
		ss, _ := a.Strings()
		for i, s := range ss {
			out[i] = s
		}
	case 'S':
		sz := a.Dtype.ItemSize
		for i := range out {
			out[i] = []byte(strings.TrimRight(string(a.data[i*sz:(i+1)*sz]), "\x00"))
		}
	default:
		return nil, fmt.Errorf("%w: cannot box %s", ErrDtype, a.Dtype)
	}
	return out, nil
}

// SetState takes ndarray's pickled state
// (version, shape, dtype, is_fortran, rawdata or object list).
func (a *Array) SetState(state any) error {
	t, ok := state.(pickle.Tuple)
	if !ok || (len(t) != 5 && len(t) != 4) {
		return fmt.Errorf("%w: ndarray state %T", ErrDtype, state)
	}
	if len(t) == 4 { // old numpy: no version
		t = append(pickle.Tuple{int64(0)}, t...)
	}
	shape, err := toShape(t[1])
	if err != nil {
		return err
	}
	dt, err := toDtype(t[2])
	if err != nil {
		return err
	}
	fortran, _ := t[3].(bool)
	if v, ok := t[3].(int64); ok {
		fortran = v != 0
	}
	var b *Array
	switch raw := t[4].(type) {
	case []byte:
		b, err = NewArray(dt, shape, fortran, raw)
	case string: // Python 2 str read as latin-1
		bs, ok := fromLatin1(raw)
		if !ok {
			return fmt.Errorf("%w: array data is not latin-1", ErrDtype)
		}
		b, err = NewArray(dt, shape, fortran, bs)
	case *pickle.List:
		if dt.Kind != 'O' {
			return fmt.Errorf("%w: list data for %s", ErrDtype, dt)
		}
		b, err = NewObjectArray(shape, raw.Items)
	default:
		return fmt.Errorf("%w: array data %T", ErrDtype, t[4])
	}
	if err != nil {
		return err
	}
	*a = *b
	return nil
}

func fromLatin1(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

func toShape(v any) ([]int, error) {
	t, ok := v.(pickle.Tuple)
	if !ok {
		if n, ok := v.(int64); ok {
			t = pickle.Tuple{n}
		} else {
			return nil, fmt.Errorf("%w: shape %T", ErrDtype, v)
		}
	}
	if len(t) > 64 {
		return nil, fmt.Errorf("%w: %d dimensions", ErrDtype, len(t))
	}
	shape := make([]int, len(t))
	for i, e := range t {
		n, ok := e.(int64)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%w: dimension %s", ErrDtype, pickle.Describe(e))
		}
		shape[i] = int(n)
	}
	if _, err := count(shape); err != nil {
		return nil, err
	}
	return shape, nil
}

func toDtype(v any) (Dtype, error) {
	switch d := v.(type) {
	case *Dtype:
		return *d, nil
	case Dtype:
		return d, nil
	case string:
		return ParseDtype(d)
	}
	return Dtype{}, fmt.Errorf("%w: dtype is a %T", ErrDtype, v)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// half decodes an IEEE 754 binary16.
func half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 31:
		if frac == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// Field returns the named field of a structured array as an array of its
// own dtype and the same shape (numpy's a[name]), copying its elements.
func (a *Array) Field(name string) (*Array, error) {
	if a.Dtype.Kind != 'V' || a.Dtype.Fields() == nil {
		return nil, fmt.Errorf("%w: field %q of a %s array, which is not structured", ErrDtype, name, a.Dtype)
	}
	for _, f := range a.Dtype.Fields() {
		if f.Name != name {
			continue
		}
		n := a.Len()
		size, rec := f.Type.ItemSize, a.Dtype.ItemSize
		if n*rec != len(a.data) {
			return nil, fmt.Errorf("%w: %d bytes for %d records of %d", ErrDtype, len(a.data), n, rec)
		}
		raw := make([]byte, n*size)
		for i := 0; i < n; i++ {
			copy(raw[i*size:(i+1)*size], a.data[i*rec+f.Offset:i*rec+f.Offset+size])
		}
		return NewArray(f.Type, a.Shape, false, raw)
	}
	return nil, fmt.Errorf("%w: no field %q in %s", ErrDtype, name, a.Dtype)
}
