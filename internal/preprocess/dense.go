package preprocess

import (
	"fmt"
	"math"
)

// checkNorm validates a norm name; max is allowed only where scikit-learn's
// Normalizer allows it.
func checkNorm(norm string, allowMax bool) error {
	switch norm {
	case "", "l1", "l2":
		return nil
	case "max":
		if allowMax {
			return nil
		}
	}
	return fmt.Errorf("%w: norm %q", ErrConfig, norm)
}

// normFactor computes the row norm of vals as sklearn.preprocessing.normalize
// does; 0 means leave the row unchanged.
func normFactor(vals []float64, norm string) float64 {
	var n float64
	switch norm {
	case "l1":
		for _, v := range vals {
			n += math.Abs(v)
		}
	case "l2":
		for _, v := range vals {
			n += v * v
		}
		n = math.Sqrt(n)
	case "max":
		for _, v := range vals {
			n = math.Max(n, math.Abs(v))
		}
	}
	return n
}

// normalizeSparse divides the row by its norm, leaving an all-zero row as is.
func normalizeSparse(row *Sparse, norm string) {
	if norm == "" {
		return
	}
	if n := normFactor(row.Val, norm); n != 0 {
		for k := range row.Val {
			row.Val[k] /= n
		}
	}
}

// Normalizer is scikit-learn's Normalizer: each row divided by its l1, l2 or
// max norm (all-zero rows unchanged).
type Normalizer struct {
	// Norm is "l1", "l2" or "max".
	Norm string
}

// Sparse normalizes a sparse row in place.
func (n Normalizer) Sparse(row *Sparse) { normalizeSparse(row, n.Norm) }

// Dense normalizes a dense row in place.
func (n Normalizer) Dense(row []float64) {
	if f := normFactor(row, n.Norm); f != 0 {
		for k := range row {
			row[k] /= f
		}
	}
}

// TruncatedSVD is scikit-learn's fitted TruncatedSVD: the row times
// components_ transposed.
type TruncatedSVD struct {
	// Components is components_ in row-major order, NComponents x NFeatures.
	Components []float64
	// NComponents and NFeatures are its shape.
	NComponents, NFeatures int
}

// NewTruncatedSVD checks the shape.
func NewTruncatedSVD(components []float64, nComponents, nFeatures int) (*TruncatedSVD, error) {
	if nComponents < 1 || nFeatures < 1 || len(components) != nComponents*nFeatures {
		return nil, fmt.Errorf("%w: components of %d values for shape (%d, %d)", ErrConfig, len(components), nComponents, nFeatures)
	}
	return &TruncatedSVD{Components: components, NComponents: nComponents, NFeatures: nFeatures}, nil
}

// Transform appends the NComponents projections of a sparse row to dst[:0].
func (s *TruncatedSVD) Transform(x Sparse, dst []float64) []float64 {
	dst = dst[:0]
	for c := 0; c < s.NComponents; c++ {
		comp := s.Components[c*s.NFeatures : (c+1)*s.NFeatures]
		var v float64
		for k, j := range x.Idx {
			v += x.Val[k] * comp[j]
		}
		dst = append(dst, v)
	}
	return dst
}

// StandardScaler is scikit-learn's fitted StandardScaler.
type StandardScaler struct {
	// Mean is mean_ (used when WithMean); Scale is scale_ (used when
	// WithStd; scikit-learn already maps zero variances to 1).
	Mean, Scale []float64
	// WithMean and WithStd are the fitted parameters.
	WithMean, WithStd bool
}

// Dense scales a dense row in place.
func (s *StandardScaler) Dense(row []float64) {
	for k := range row {
		if s.WithMean {
			row[k] -= s.Mean[k]
		}
		if s.WithStd {
			row[k] /= s.Scale[k]
		}
	}
}

// Sparse scales a sparse row in place; scikit-learn refuses with_mean on
// sparse input, and so does this.
func (s *StandardScaler) Sparse(row *Sparse) error {
	if s.WithMean {
		return fmt.Errorf("%w: StandardScaler with_mean=True on sparse features", ErrConfig)
	}
	if s.WithStd {
		for k, j := range row.Idx {
			row.Val[k] /= s.Scale[j]
		}
	}
	return nil
}

// Concat appends part to dst with its columns shifted by offset, as a
// FeatureUnion stacks its transformers' outputs: call it once per part in
// order, offset being the sum of the widths of the earlier parts. Use
// FromDense for a dense part.
func Concat(dst *Sparse, part Sparse, offset int32) {
	for k, j := range part.Idx {
		dst.Idx = append(dst.Idx, j+offset)
		dst.Val = append(dst.Val, part.Val[k])
	}
}

// FromDense overwrites dst with the non-zero entries of a dense row.
func FromDense(dst *Sparse, row []float64) {
	dst.Reset()
	for j, v := range row {
		if v != 0 {
			dst.Idx = append(dst.Idx, int32(j))
			dst.Val = append(dst.Val, v)
		}
	}
}
