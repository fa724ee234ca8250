// Package scipy decodes pickled scipy.sparse CSR and CSC matrices and arrays
// into Sparse, for the pickle package's allow-list.
package scipy

import (
	"errors"
	"fmt"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// ErrSparse means a pickled sparse matrix is inconsistent or of an
// unsupported kind.
var ErrSparse = errors.New("scipy: invalid sparse matrix")

// Sparse is a compressed sparse matrix. For Format "csr", Indptr has
// Rows+1 entries and Indices are column indices; for "csc", Indptr has
// Cols+1 entries and Indices are row indices.
type Sparse struct {
	Format  string
	Rows    int
	Cols    int
	Data    []float64
	Indices []int
	Indptr  []int
}

// Describe says what m is for an error message (pickle.Describer).
func (m *Sparse) Describe() string {
	return fmt.Sprintf("scipy %s matrix %dx%d", m.Format, m.Rows, m.Cols)
}

// Register allows on a the scipy.sparse CSR/CSC matrix and array classes,
// under their current (scipy.sparse._csr) and pre-1.8 (scipy.sparse.csr)
// module paths.
func Register(a *pickle.AllowList) {
	for _, f := range []string{"csr", "csc"} {
		format := f
		h := pickle.Func(func(args pickle.Tuple) (any, error) {
			if len(args) != 0 {
				return nil, fmt.Errorf("%w: %s_matrix built from arguments", ErrSparse, format)
			}
			return &Sparse{Format: format}, nil
		})
		a.Allow("scipy.sparse._"+format, format+"_matrix", h)
		a.Allow("scipy.sparse._"+format, format+"_array", h)
		a.Allow("scipy.sparse."+format, format+"_matrix", h)
	}
}

// SetState takes the matrix's pickled __dict__: _shape, data, indices,
// indptr (and maxprint, ignored), and checks that they are consistent.
func (s *Sparse) SetState(state any) error {
	d, ok := state.(*pickle.Dict)
	if !ok {
		return fmt.Errorf("%w: state is a %T", ErrSparse, state)
	}
	shapeV, ok := d.Get("_shape")
	if !ok {
		return fmt.Errorf("%w: no _shape", ErrSparse)
	}
	shape, ok := shapeV.(pickle.Tuple)
	if !ok || len(shape) != 2 {
		return fmt.Errorf("%w: _shape %s", ErrSparse, pickle.Describe(shapeV))
	}
	rows, ok1 := shape[0].(int64)
	cols, ok2 := shape[1].(int64)
	if !ok1 || !ok2 || rows < 0 || cols < 0 || rows > 1<<40 || cols > 1<<40 {
		return fmt.Errorf("%w: _shape %s", ErrSparse, pickle.Describe(shapeV))
	}
	arr := func(name string) (*numpy.Array, error) {
		v, ok := d.Get(name)
		if !ok {
			return nil, fmt.Errorf("%w: no %s", ErrSparse, name)
		}
		a, ok := v.(*numpy.Array)
		if !ok {
			return nil, fmt.Errorf("%w: %s is a %T", ErrSparse, name, v)
		}
		return a, nil
	}
	data, err := arr("data")
	if err != nil {
		return err
	}
	indices, err := arr("indices")
	if err != nil {
		return err
	}
	indptr, err := arr("indptr")
	if err != nil {
		return err
	}
	if s.Data, err = data.Float64s(); err != nil {
		return fmt.Errorf("%w: data: %v", ErrSparse, err)
	}
	if s.Indices, err = ints(indices); err != nil {
		return err
	}
	if s.Indptr, err = ints(indptr); err != nil {
		return err
	}
	s.Rows, s.Cols = int(rows), int(cols)
	return s.check()
}

func ints(a *numpy.Array) ([]int, error) {
	v, err := a.Int64s()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSparse, err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// check verifies the structure, so that users may index without bounds
// surprises.
func (s *Sparse) check() error {
	major, minor := s.Rows, s.Cols
	if s.Format == "csc" {
		major, minor = s.Cols, s.Rows
	}
	if len(s.Indptr) != major+1 {
		return fmt.Errorf("%w: indptr has %d entries for %d %s", ErrSparse, len(s.Indptr), major, map[string]string{"csr": "rows", "csc": "columns"}[s.Format])
	}
	if len(s.Indices) != len(s.Data) {
		return fmt.Errorf("%w: %d indices for %d values", ErrSparse, len(s.Indices), len(s.Data))
	}
	if s.Indptr[0] != 0 || s.Indptr[major] != len(s.Data) {
		return fmt.Errorf("%w: indptr does not span the data", ErrSparse)
	}
	for i := 0; i < major; i++ {
		if s.Indptr[i] > s.Indptr[i+1] {
			return fmt.Errorf("%w: indptr decreases at %d", ErrSparse, i)
		}
	}
	for _, j := range s.Indices {
		if j < 0 || j >= minor {
			return fmt.Errorf("%w: index %d out of range [0,%d)", ErrSparse, j, minor)
		}
	}
	return nil
}

// ToCSR returns the matrix in CSR format (s itself when it already is). A
// CSC matrix with far more rows than stored values (whose CSR row pointer
// would be out of proportion to the file) is an error.
func (s *Sparse) ToCSR() (*Sparse, error) {
	if s.Format == "csr" {
		return s, nil
	}
	if s.Rows > 1<<20 && s.Rows/8 > len(s.Data)+len(s.Indptr) {
		return nil, fmt.Errorf("%w: %d rows for %d values", ErrSparse, s.Rows, len(s.Data))
	}
	out := &Sparse{Format: "csr", Rows: s.Rows, Cols: s.Cols,
		Data: make([]float64, len(s.Data)), Indices: make([]int, len(s.Data)), Indptr: make([]int, s.Rows+1)}
	for _, r := range s.Indices {
		out.Indptr[r+1]++
	}
	for i := 0; i < s.Rows; i++ {
		out.Indptr[i+1] += out.Indptr[i]
	}
	next := append([]int(nil), out.Indptr[:s.Rows]...)
	for c := 0; c < s.Cols; c++ {
		for k := s.Indptr[c]; k < s.Indptr[c+1]; k++ {
			r := s.Indices[k]
			out.Indices[next[r]] = c
			out.Data[next[r]] = s.Data[k]
			next[r]++
		}
	}
	return out, nil
}

// MaxDense is the largest Rows×Cols that Dense materialises.
const MaxDense = 1 << 24

// Dense returns the matrix as row-major Rows×Cols values; duplicate
// entries are summed, as scipy does. Matrices over MaxDense cells are an
// error.
func (s *Sparse) Dense() ([]float64, error) {
	if s.Rows != 0 && s.Cols > MaxDense/s.Rows {
		return nil, fmt.Errorf("%w: %dx%d is too large to densify", ErrSparse, s.Rows, s.Cols)
	}
	out := make([]float64, s.Rows*s.Cols)
	c, err := s.ToCSR()
	if err != nil {
		return nil, err
	}
	for r := 0; r < c.Rows; r++ {
		for k := c.Indptr[r]; k < c.Indptr[r+1]; k++ {
			out[r*c.Cols+c.Indices[k]] += c.Data[k]
		}
	}
	return out, nil
}

// Diagonal returns the main diagonal (length min(Rows, Cols)); scikit-learn
// up to 1.4 stores TF-IDF weights as a diagonal matrix.
func (s *Sparse) Diagonal() []float64 {
	n := min(s.Rows, s.Cols) // at most the major dimension: len(Indptr)-1
	out := make([]float64, n)
	for i := 0; i < n; i++ {
		for k := s.Indptr[i]; k < s.Indptr[i+1]; k++ {
			if s.Indices[k] == i {
				out[i] += s.Data[k]
			}
		}
	}
	return out
}
