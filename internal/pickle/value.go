package pickle

// The values a pickle stream decodes to. Python's None is Go's nil; bool is
// bool; int is int64, or *big.Int when it does not fit; float is float64;
// str is string; bytes and bytearray are []byte. The container and object
// types below cover the rest. Values that an allow-listed constructor builds
// (a numpy array, a scipy matrix) are whatever Go type that constructor
// returns.

// Tuple is a Python tuple.
type Tuple []any

// List is a Python list. It is a pointer type because a list is memoised
// before its items are appended.
type List struct {
	Items []any
}

// Set is a Python set or frozenset, in insertion order.
type Set struct {
	Items []any
	index map[any]struct{} // hashed items, built on first add
}

// Global is a reference to an allow-listed class or function that the stream
// named but did not call or instantiate, for example the type numpy.float64
// stored as a vectorizer's dtype parameter.
type Global struct {
	Module string
	Name   string
}

// Object is an instance of an allow-listed class that has no constructor of
// its own in Go: a scikit-learn estimator, for instance. Args are the
// arguments it was created with (REDUCE, NEWOBJ); State is what BUILD gave it
// (usually a *Dict of attributes, but a pickled __setstate__ may use any
// value, kept as is).
type Object struct {
	Class  Global
	Args   Tuple
	KwArgs *Dict
	State  any
}

// Attr returns the attribute name from the object's dict state, and whether
// it was there.
func (o *Object) Attr(name string) (any, bool) {
	d, ok := o.State.(*Dict)
	if !ok {
		return nil, false
	}
	return d.Get(name)
}
