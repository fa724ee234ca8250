// Package numpy decodes pickled numpy arrays, dtypes and scalars into Go
// values, for the pickle package's allow-list.
//
// Register allows the numpy globals that scikit-learn files name (under both
// numpy 1's numpy.core and numpy 2's numpy._core module paths). Arrays become
// *Array, which keeps the raw bytes in row-major order and converts on
// access (Float64s, Int64s, Strings, Values; a structured array, such as a
// scikit-learn tree's node records, by field with Field); numpy scalars become plain Go
// values (int64, float64, bool, string); dtypes become Dtype; the scalar type
// objects (numpy.float64, ...) stay pickle.Global references.
package numpy
