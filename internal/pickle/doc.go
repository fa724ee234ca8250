// Package pickle reads Python pickle streams (protocols 0 to 5) without
// executing anything.
//
// A pickle is a program for a small stack machine; the dangerous part is that
// it may name any Python global (os.system, builtins.eval) and call it. Load
// runs that program in Go and resolves every global through an AllowList: a
// global that is not on the list stops decoding with a *ForbiddenError that
// names it. An allow-listed global resolves to a Handler, one of
//
//   - Func: a Go constructor called for REDUCE, NEWOBJ, NEWOBJ_EX, INST and
//     OBJ (numpy._reconstruct, numpy.dtype, _codecs.encode, ...);
//   - Class: a class without a Go counterpart; calling it yields an *Object
//     that keeps its arguments and, after BUILD, its state (scikit-learn
//     estimators arrive this way);
//   - Type: a reference only, the value is the Global itself (numpy.float64
//     stored as a vectorizer's dtype); calling it is an error.
//
// A value built by a Func may implement Stater to take BUILD, and StreamReader
// to read raw bytes that follow it in the stream (joblib's array wrappers).
//
// Every read is bounded: lengths are read incrementally so that a claimed
// length never allocates more than the bytes actually present, the input read
// is capped by Options.MaxBytes, MARK nesting by Options.MaxDepth, and the
// work of hashing dict keys by a multiple of the input read.
// Malformed or hostile input returns an error wrapping ErrMalformed,
// ErrLimit or ErrForbidden; it never panics.
package pickle
