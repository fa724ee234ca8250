package preprocess

import (
	"math"
	"slices"

	"github.com/mlserve/mlserve/internal/numpy"
)

// applyFloat32 is TfidfTransformer.transform on a float32 matrix
// (TfidfVectorizer(dtype=np.float32)), rounding where numpy and
// scikit-learn's Cython round: np.log and += 1 in float32, the product with
// idf_ (itself float32) rounded to float32, and the row normalized by
// sparsefuncs_fast, which sums in double the float32 squares (l2) or
// magnitudes (l1) and stores each quotient, computed in double, as float32.
// The row keeps the float32 values, exactly, in float64: the classifier's
// product with its float64 coefficients upcasts them as scipy does.
func (t *TfidfTransformer) applyFloat32(row *Sparse) {
	for k, j := range row.Idx {
		v := float32(row.Val[k])
		if t.SublinearTF && v != 0 {
			v = numpy.Log32(v)
			v += 1
		}
		if t.IDF != nil {
			v *= float32(t.IDF[j])
		}
		row.Val[k] = float64(v)
	}
	if t.ProductOrder && t.IDF != nil {
		// scipy's csr_matmat emits each row's columns in the reverse of
		// the order it first meets them.
		slices.Reverse(row.Idx)
		slices.Reverse(row.Val)
	}
	normalizeSparse32(row, t.Norm)
}

// normalizeSparse32 is sparsefuncs_fast's inplace_csr_row_normalize_l1/l2
// on float32 data held in float64.
func normalizeSparse32(row *Sparse, norm string) {
	var sum float64
	switch norm {
	case "l2":
		for _, v := range row.Val {
			x := float32(v)
			sum += float64(x * x) // a C float product, rounded to float32
		}
		sum = math.Sqrt(sum)
	case "l1":
		for _, v := range row.Val {
			sum += math.Abs(v)
		}
	default:
		return
	}
	if sum == 0 {
		return
	}
	for k, v := range row.Val {
		row.Val[k] = float64(float32(v / sum))
	}
}
