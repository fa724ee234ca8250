package preprocess

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestGoldenDense checks TruncatedSVD, StandardScaler and Normalizer against
// scikit-learn's outputs on the golden texts.
func TestGoldenDense(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Texts []string `json:"texts"`
		Dense struct {
			Vocabulary   map[string]int32       `json:"vocabulary"`
			IDF          []float64              `json:"idf"`
			Components   []float64              `json:"components"`
			Shape        []int                  `json:"shape"`
			SVD          [][]float64            `json:"svd"`
			ScalerMean   []float64              `json:"scaler_mean"`
			ScalerScale  []float64              `json:"scaler_scale"`
			Scaled       [][]float64            `json:"scaled"`
			SparseScale  []float64              `json:"sparse_scale"`
			SparseScaled []goldenRow            `json:"sparse_scaled"`
			Normalized   map[string][][]float64 `json:"normalized"`
		} `json:"dense"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	d := g.Dense
	a, _ := NewAnalyzer(AnalyzerConfig{Lowercase: true})
	cv, err := NewCountVectorizer(a, d.Vocabulary, false)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := NewTfidfVectorizer(cv, TfidfTransformer{IDF: d.IDF, Norm: "l2"})
	if err != nil {
		t.Fatal(err)
	}
	svd, err := NewTruncatedSVD(d.Components, d.Shape[0], d.Shape[1])
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for k := range got {
			if math.Abs(got[k]-want[k]) > 1e-12 {
				t.Errorf("%s[%d] = %.17g, want %.17g", what, k, got[k], want[k])
			}
		}
	}
	var row Sparse
	var z []float64
	for i, text := range g.Texts {
		tv.Transform(text, &row)
		z = svd.Transform(row, z)
		near("svd", z, d.SVD[i])
		for norm, want := range d.Normalized {
			zz := append([]float64(nil), z...)
			Normalizer{Norm: norm}.Dense(zz)
			near("normalize "+norm, zz, want[i])
		}
		ss := StandardScaler{Mean: d.ScalerMean, Scale: d.ScalerScale, WithMean: true, WithStd: true}
		ss.Dense(z)
		near("scaled", z, d.Scaled[i])
		sp := StandardScaler{Scale: d.SparseScale, WithStd: true}
		if err := sp.Sparse(&row); err != nil {
			t.Fatal(err)
		}
		sameRow(t, "sparse scaled", row, d.SparseScaled[i])
	}
	if err := (&StandardScaler{WithMean: true}).Sparse(&row); err == nil {
		t.Error("with_mean on a sparse row was accepted")
	}
}

func TestConcat(t *testing.T) {
	var u Sparse
	Concat(&u, Sparse{Idx: []int32{0, 3}, Val: []float64{1, 2}}, 0)
	var d Sparse
	FromDense(&d, []float64{0, 5, 0, -1})
	Concat(&u, d, 4)
	want := Sparse{Idx: []int32{0, 3, 5, 7}, Val: []float64{1, 2, 5, -1}}
	for k := range want.Idx {
		if len(u.Idx) != len(want.Idx) || u.Idx[k] != want.Idx[k] || u.Val[k] != want.Val[k] {
			t.Fatalf("Concat = %+v, want %+v", u, want)
		}
	}
}
