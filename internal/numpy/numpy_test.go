package numpy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlserve/mlserve/internal/pickle"
)

func allow() *pickle.AllowList {
	a := pickle.NewAllowList()
	Register(a)
	return a
}

type arrayCase struct {
	Dtype   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Fortran bool     `json:"fortran"`
	Values  []any    `json:"values"`
	Strings []string `json:"strings"`
}

type expected struct {
	Arrays  map[string]arrayCase `json:"arrays"`
	Scalars map[string]any       `json:"scalars"`
}

func load(t *testing.T, name string) *pickle.Dict {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := pickle.Load(f, pickle.Options{Allow: allow()})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(*pickle.Dict)
	if !ok {
		t.Fatalf("got %T", v)
	}
	return d
}

func readExpected(t *testing.T) expected {
	t.Helper()
	b, err := os.ReadFile("testdata/arrays.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestArrays decodes arrays of every dtype, byte order, memory order and
// corner shape pickled by numpy with protocols 0-5, and compares them with
// the values numpy reported.
func TestArrays(t *testing.T) {
	exp := readExpected(t)
	for p := 0; p <= 5; p++ {
		t.Run(fmt.Sprintf("protocol%d", p), func(t *testing.T) {
			d := load(t, fmt.Sprintf("arrays_p%d.pkl", p))
			for name, want := range exp.Arrays {
				t.Run(name, func(t *testing.T) {
					v, _ := d.Get(name)
					a, ok := v.(*Array)
					if !ok {
						t.Fatalf("got %T", v)
					}
					check(t, a, want)
				})
			}
		})
	}
}

func check(t *testing.T, a *Array, want arrayCase) {
	t.Helper()
	if fmt.Sprint(a.Shape) != fmt.Sprint(want.Shape) {
		t.Fatalf("shape %v, want %v", a.Shape, want.Shape)
	}
	if a.Dims() != len(want.Shape) {
		t.Fatalf("Dims %d", a.Dims())
	}
	wd := want.Dtype
	if wd[0] == '=' {
		wd = "<" + wd[1:]
	}
	if wd != "|O" && a.Dtype.String() != wd {
		t.Fatalf("dtype %s, want %s", a.Dtype, wd)
	}
	if want.Strings != nil {
		got, err := a.Strings()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want.Strings) {
			t.Fatalf("strings %q, want %q", got, want.Strings)
		}
		return
	}
	if a.Len() != len(want.Values) {
		t.Fatalf("Len %d, want %d", a.Len(), len(want.Values))
	}
	got, err := a.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want.Values {
		var wf float64
		switch x := w.(type) {
		case string:
			wf, _ = strconv.ParseFloat(x, 64)
		case json.Number:
			wf, _ = x.Float64()
		}
		if got[i] != wf {
			t.Fatalf("value %d = %v, want %v", i, got[i], wf)
		}
	}
	if a.Dtype.Kind == 'i' || a.Dtype.Kind == 'u' {
		ints, err := a.Int64s()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ints)
		w, _ := json.Marshal(want.Values)
		if string(b) != string(w) {
			t.Fatalf("Int64s %s, want %s", b, w)
		}
	}
}

// TestScalars decodes numpy scalars (plain Go values), type references and
// a dtype, pickled with protocols 0-5.
func TestScalars(t *testing.T) {
	exp := readExpected(t)
	for p := 0; p <= 5; p++ {
		t.Run(fmt.Sprintf("protocol%d", p), func(t *testing.T) {
			d := load(t, fmt.Sprintf("scalars_p%d.pkl", p))
			for name, want := range exp.Scalars {
				got, _ := d.Get(name)
				switch w := want.(type) {
				case json.Number: // a JSON int
					if n, _ := w.Int64(); got != n {
						t.Errorf("%s = %#v, want int64 %v", name, got, w)
					}
				case bool:
					if got != w {
						t.Errorf("%s = %#v, want %v", name, got, w)
					}
				case string:
					if f, err := strconv.ParseFloat(w, 64); err == nil {
						if got != f {
							t.Errorf("%s = %#v, want %v", name, got, f)
						}
					} else if got != w {
						t.Errorf("%s = %#v, want %q", name, got, w)
					}
				}
			}
			if g, _ := d.Get("type_float64"); g != (pickle.Global{Module: "numpy", Name: "float64"}) {
				t.Errorf("type_float64 = %#v", g)
			}
			if g, _ := d.Get("dtype_f4"); g == nil || *g.(*Dtype) != (Dtype{Kind: 'f', ItemSize: 4, Order: '>'}) {
				t.Errorf("dtype_f4 = %#v", g)
			}
			v, _ := d.Get("dict_int64")
			if w, _ := v.(*pickle.Dict).Get("word"); w != int64(3) {
				t.Errorf("dict_int64[word] = %#v", w)
			}
		})
	}
}

func TestParseDtype(t *testing.T) {
	tests := []struct {
		in   string
		want Dtype
		err  bool
	}{
		{"f8", Dtype{Kind: 'f', ItemSize: 8, Order: '<'}, false},
		{">i4", Dtype{Kind: 'i', ItemSize: 4, Order: '>'}, false},
		{"U5", Dtype{Kind: 'U', ItemSize: 20, Order: '<'}, false},
		{"S3", Dtype{Kind: 'S', ItemSize: 3, Order: '|'}, false},
		{"O8", Dtype{Kind: 'O', ItemSize: 8, Order: '|'}, false},
		{"b1", Dtype{Kind: 'b', ItemSize: 1, Order: '|'}, false},
		{"?", Dtype{Kind: 'b', ItemSize: 1, Order: '|'}, false},
		{"u1", Dtype{Kind: 'u', ItemSize: 1, Order: '|'}, false},
		{"i", Dtype{}, true},
		{"x8", Dtype{}, true},
		{"", Dtype{}, true},
		{"f99999999999", Dtype{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDtype(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if !tt.err && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewArrayErrors(t *testing.T) {
	f8 := Dtype{Kind: 'f', ItemSize: 8, Order: '<'}
	tests := []struct {
		name  string
		shape []int
		raw   int
	}{
		{"short", []int{3}, 16},
		{"long", []int{1}, 16},
		{"negative", []int{-1}, 0},
		{"overflow", []int{1 << 30, 1 << 30, 1 << 30}, 8},
		{"many empty items", []int{1 << 30}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dt := f8
			if tt.raw == 0 {
				dt = Dtype{Kind: 'U', ItemSize: 0, Order: '<'}
			}
			if _, err := NewArray(dt, tt.shape, false, make([]byte, tt.raw)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestConversions(t *testing.T) {
	a, err := NewArray(Dtype{Kind: 'f', ItemSize: 8, Order: '<'}, []int{2}, false, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Int64s(); err == nil {
		t.Error("Int64s of 1.5 succeeded")
	}
	if _, err := a.Strings(); err == nil {
		t.Error("Strings of floats succeeded")
	}
	if h := half(0x3c00); h != 1 {
		t.Errorf("half(1) = %v", h)
	}
	if !math.IsInf(half(0x7c00), 1) {
		t.Error("half inf")
	}
}

// TestStructured reads each field of a structured array (an aligned record
// with a big-endian field, as numpy pickles it) and refuses fields that do
// not fit the record or arrays that are not structured.
func TestStructured(t *testing.T) {
	d := load(t, "structured.pkl")
	v, _ := d.Get("a")
	a, ok := v.(*Array)
	if !ok {
		t.Fatalf("a is %T", v)
	}
	if n := len(a.Dtype.Fields()); n != 4 || a.Dtype.Kind != 'V' {
		t.Fatalf("dtype %v with %d fields", a.Dtype, n)
	}
	for _, tc := range []struct {
		field string
		want  []float64
	}{
		{"left", []float64{1, -1, 2}},
		{"thr", []float64{0.5, -2.25, 1e300}},
		{"flag", []float64{1, 0, 1}},
		{"be", []float64{-7, 300, math.MaxInt32}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			f, err := a.Field(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Float64s()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || len(f.Shape) != 1 || f.Shape[0] != 3 {
				t.Errorf("%s = %v shape %v, want %v", tc.field, got, f.Shape, tc.want)
			}
		})
	}
	if _, err := a.Field("nope"); err == nil {
		t.Error("a missing field was read")
	}
	plain, _ := NewArray(Dtype{Kind: 'f', ItemSize: 8, Order: '<'}, []int{1}, false, make([]byte, 8))
	if _, err := plain.Field("x"); err == nil {
		t.Error("a field of a plain array was read")
	}
	for name, fields := range map[string]any{
		"past the record": dictOf("x", pickle.Tuple{&Dtype{Kind: 'f', ItemSize: 8, Order: '<'}, int64(4)}),
		"negative offset": dictOf("x", pickle.Tuple{&Dtype{Kind: 'i', ItemSize: 1, Order: '|'}, int64(-1)}),
		"object field":    dictOf("x", pickle.Tuple{&Dtype{Kind: 'O', ItemSize: 8, Order: '|'}, int64(0)}),
		"not a tuple":     dictOf("x", int64(0)),
		"not a dict":      int64(3),
	} {
		var dt Dtype
		err := dt.SetState(pickle.Tuple{int64(3), "|", nil, pickle.Tuple{"x"}, fields, int64(8), int64(1), int64(16)})
		if err == nil {
			t.Errorf("%s: structured dtype accepted", name)
		}
	}
}

func dictOf(k string, v any) *pickle.Dict {
	d := pickle.NewDict(1)
	if err := d.Set(k, v); err != nil {
		panic(err)
	}
	return d
}
