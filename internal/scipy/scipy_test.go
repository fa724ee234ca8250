package scipy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

func allow() *pickle.AllowList {
	a := pickle.NewAllowList()
	numpy.Register(a)
	Register(a)
	return a
}

// TestSparse decodes CSR/CSC matrices and arrays pickled by scipy with
// protocols 2-5 and compares their dense form with scipy's toarray().
func TestSparse(t *testing.T) {
	b, err := os.ReadFile("testdata/sparse.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]struct {
		Format string   `json:"format"`
		Shape  []int    `json:"shape"`
		Dense  []string `json:"dense"`
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	for p := 2; p <= 5; p++ {
		t.Run(fmt.Sprintf("protocol%d", p), func(t *testing.T) {
			f, err := os.Open(fmt.Sprintf("testdata/sparse_p%d.pkl", p))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v, err := pickle.Load(f, pickle.Options{Allow: allow()})
			if err != nil {
				t.Fatal(err)
			}
			d := v.(*pickle.Dict)
			for name, want := range exp {
				t.Run(name, func(t *testing.T) {
					mv, _ := d.Get(name)
					m, ok := mv.(*Sparse)
					if !ok {
						t.Fatalf("got %T", mv)
					}
					if m.Format != want.Format || m.Rows != want.Shape[0] || m.Cols != want.Shape[1] {
						t.Fatalf("%s %dx%d, want %s %v", m.Format, m.Rows, m.Cols, want.Format, want.Shape)
					}
					dense, err := m.Dense()
					if err != nil {
						t.Fatal(err)
					}
					for i, w := range want.Dense {
						wf, _ := strconv.ParseFloat(w, 64)
						if dense[i] != wf {
							t.Fatalf("cell %d = %v, want %v", i, dense[i], wf)
						}
					}
					if name == "diag" {
						if got := fmt.Sprint(m.Diagonal()); got != "[1 2 3]" {
							t.Fatalf("Diagonal = %s", got)
						}
					}
				})
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		s    Sparse
	}{
		{"indptr length", Sparse{Format: "csr", Rows: 2, Cols: 2, Indptr: []int{0, 0}}},
		{"index out of range", Sparse{Format: "csr", Rows: 1, Cols: 2, Data: []float64{1}, Indices: []int{2}, Indptr: []int{0, 1}}},
		{"negative index", Sparse{Format: "csc", Rows: 1, Cols: 1, Data: []float64{1}, Indices: []int{-1}, Indptr: []int{0, 1}}},
		{"decreasing indptr", Sparse{Format: "csr", Rows: 2, Cols: 2, Data: []float64{1}, Indices: []int{0}, Indptr: []int{0, 2, 1}}},
		{"data mismatch", Sparse{Format: "csr", Rows: 1, Cols: 2, Data: []float64{1, 2}, Indices: []int{0}, Indptr: []int{0, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.check(); !errors.Is(err, ErrSparse) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	big := Sparse{Format: "csr", Rows: 1 << 20, Cols: 1 << 20}
	if _, err := big.Dense(); err == nil {
		t.Fatal("Dense of 2^40 cells succeeded")
	}
}
