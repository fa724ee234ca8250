package sklearn

import (
	"slices"
	"testing"
)

// TestPercentile checks np.percentile's linear method on values numpy
// gives: np.percentile([1, 2, 3, 4], q) (numpy 2.4: 70 gives 3.0999999999999996, from the upper end).
func TestPercentile(t *testing.T) {
	for _, c := range []struct{ q, want float64 }{{0, 1}, {25, 1.75}, {50, 2.5}, {70, 3.0999999999999996}, {100, 4}} {
		if got := percentile([]float64{4, 1, 3, 2}, c.q); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

// TestMaskStep checks that a mask keeps and renumbers columns of sparse
// and dense rows alike.
func TestMaskStep(t *testing.T) {
	m := newMaskStep("SelectKBest", []bool{false, true, false, true, true})
	var v vec
	v.sp.Idx, v.sp.Val = []int32{0, 1, 3, 4}, []float64{9, 1, 3, 4}
	if err := m.apply(&v); err != nil || !slices.Equal(v.sp.Idx, []int32{0, 1, 2}) || !slices.Equal(v.sp.Val, []float64{1, 3, 4}) {
		t.Errorf("sparse: %v %v %v", v.sp.Idx, v.sp.Val, err)
	}
	d := vec{isDense: true, dense: []float64{9, 1, 8, 3, 4}}
	if err := m.apply(&d); err != nil || !slices.Equal(d.dense, []float64{1, 3, 4}) {
		t.Errorf("dense: %v %v", d.dense, err)
	}
	if m.width(5) != 3 || m.check(4) == nil {
		t.Errorf("width %d, check(4) %v", m.width(5), m.check(4))
	}
}
