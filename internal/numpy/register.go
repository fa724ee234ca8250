package numpy

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/pickle"
)

// typeNames are numpy's scalar and array types that files reference without
// calling (a vectorizer's dtype parameter, ndarray as _reconstruct's first
// argument).
var typeNames = []string{
	"ndarray", "dtype", "generic", "number",
	"bool_", "bool", "int8", "int16", "int32", "int64", "intc", "intp", "int_", "longlong",
	"uint8", "uint16", "uint32", "uint64", "uintc", "uintp", "uint", "ulonglong",
	"float16", "float32", "float64", "float_", "double", "single", "longdouble",
	"complex64", "complex128", "object_", "str_", "unicode_", "bytes_", "string_", "void",
}

// Register allows on a the numpy globals that scikit-learn and joblib files
// name: _reconstruct, scalar and _frombuffer under numpy.core and
// numpy._core, numpy.dtype (callable) and the type objects as references.
func Register(a *pickle.AllowList) {
	for _, core := range []string{"numpy.core", "numpy._core"} {
		a.Allow(core+".multiarray", "_reconstruct", pickle.Func(reconstruct))
		a.Allow(core+".multiarray", "scalar", pickle.Func(scalar))
		a.Allow(core+".numeric", "_frombuffer", pickle.Func(frombuffer))
	}
	for _, n := range typeNames {
		a.Allow("numpy", n, pickle.Type())
	}
	a.Allow("numpy", "dtype", pickle.Func(newDtype))
}

// reconstruct implements numpy's _reconstruct(ndarray, (0,), b'b'): an
// empty array that BUILD fills in.
func reconstruct(args pickle.Tuple) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("%w: _reconstruct takes 3 arguments, got %d", ErrDtype, len(args))
	}
	if g, ok := args[0].(pickle.Global); !ok || g.Name != "ndarray" {
		// Subclasses (numpy.matrix, memmap) would need their own handling.
		return nil, fmt.Errorf("%w: _reconstruct of %s", ErrDtype, pickle.Describe(args[0]))
	}
	return &Array{Dtype: Dtype{Kind: 'b', ItemSize: 1, Order: '|'}, Shape: []int{0}}, nil
}

// scalar implements numpy's scalar(dtype, rawbytes) and returns the value as
// bool, int64, float64 (also for uint64 above MaxInt64), string or []byte.
func scalar(args pickle.Tuple) (any, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("%w: scalar takes 1 or 2 arguments", ErrDtype)
	}
	dt, err := toDtype(args[0])
	if err != nil {
		return nil, err
	}
	if dt.Kind == 'O' {
		if len(args) != 2 {
			return nil, nil
		}
		return args[1], nil
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("%w: scalar without data", ErrDtype)
	}
	var raw []byte
	switch v := args[1].(type) {
	case []byte:
		raw = v
	case string:
		b, ok := fromLatin1(v)
		if !ok {
			return nil, fmt.Errorf("%w: scalar data is not latin-1", ErrDtype)
		}
		raw = b
	default:
		return nil, fmt.Errorf("%w: scalar data %T", ErrDtype, args[1])
	}
	arr, err := NewArray(dt, nil, false, raw)
	if err != nil {
		return nil, err
	}
	vals, err := arr.Values()
	if err != nil {
		return nil, err
	}
	return vals[0], nil
}

// frombuffer implements numpy's _frombuffer(buffer, dtype, shape, order),
// used by protocol 5 with in-band buffers.
func frombuffer(args pickle.Tuple) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%w: _frombuffer takes 4 arguments, got %d", ErrDtype, len(args))
	}
	raw, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: _frombuffer of a %T", ErrDtype, args[0])
	}
	dt, err := toDtype(args[1])
	if err != nil {
		return nil, err
	}
	shape, err := toShape(args[2])
	if err != nil {
		return nil, err
	}
	order, _ := args[3].(string)
	if order != "C" && order != "F" && order != "A" && order != "K" {
		return nil, fmt.Errorf("%w: order %s", ErrDtype, pickle.Describe(args[3]))
	}
	return NewArray(dt, shape, order == "F", raw)
}
