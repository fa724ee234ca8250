package joblib

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/scipy"
)

// allow returns the allow-list the tests use: joblib, numpy, scipy and the
// scikit-learn classes of the fixture pipeline as generic objects.
func allow() *pickle.AllowList {
	a := pickle.NewAllowList()
	Register(a)
	scipy.Register(a)
	for _, g := range [][2]string{
		{"sklearn.pipeline", "Pipeline"},
		{"sklearn.feature_extraction.text", "TfidfVectorizer"},
		{"sklearn.feature_extraction.text", "TfidfTransformer"},
		{"sklearn.linear_model._logistic", "LogisticRegression"},
	} {
		a.Allow(g[0], g[1], pickle.Class())
	}
	return a
}

var compressions = []string{"none", "zlib", "gzip", "bz2", "xz", "lzma", "lz4"}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func floats(t testing.TB, s []string) []float64 {
	t.Helper()
	out := make([]float64, len(s))
	for i, x := range s {
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = f
	}
	return out
}

func TestSniff(t *testing.T) {
	for _, c := range compressions {
		t.Run(c, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "arrays_"+c+".joblib"))
			if err != nil {
				t.Fatal(err)
			}
			want := Compression(c)
			if c == "none" {
				want = None
			}
			if got := sniff(b[:6]); got != want {
				t.Fatalf("sniff = %q, want %q", got, want)
			}
		})
	}
}

type arrayCase struct {
	Dtype   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Values  []any    `json:"values"`
	Strings []string `json:"strings"`
}

// TestArrays reads the numpy fixture arrays written by joblib.dump with
// every compression and compares them with numpy's own values.
func TestArrays(t *testing.T) {
	var exp struct {
		Arrays map[string]arrayCase `json:"arrays"`
	}
	readJSON(t, "../numpy/testdata/arrays.json", &exp)
	for _, c := range compressions {
		t.Run(c, func(t *testing.T) {
			v, err := Open(filepath.Join("testdata", "arrays_"+c+".joblib"), allow())
			if err != nil {
				t.Fatal(err)
			}
			d, ok := v.(*pickle.Dict)
			if !ok {
				t.Fatalf("got %T", v)
			}
			if d.Len() != len(exp.Arrays) {
				t.Fatalf("%d arrays, want %d", d.Len(), len(exp.Arrays))
			}
			for name, want := range exp.Arrays {
				av, _ := d.Get(name)
				a, ok := av.(*numpy.Array)
				if !ok {
					t.Fatalf("%s: got %T", name, av)
				}
				if err := checkArray(a, want); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

func checkArray(a *numpy.Array, want arrayCase) error {
	if fmt.Sprint(a.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("shape %v, want %v", a.Shape, want.Shape)
	}
	if want.Strings != nil {
		got, err := a.Strings()
		if err != nil {
			return err
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want.Strings) {
			return fmt.Errorf("strings %q, want %q", got, want.Strings)
		}
		return nil
	}
	if want.Values == nil {
		if a.Len() != 0 {
			return fmt.Errorf("%d values, want none", a.Len())
		}
		return nil
	}
	got, err := a.Float64s()
	if err != nil {
		return err
	}
	if len(got) != len(want.Values) {
		return fmt.Errorf("%d values, want %d", len(got), len(want.Values))
	}
	for i, w := range want.Values {
		var wf float64
		switch x := w.(type) {
		case string:
			wf, _ = strconv.ParseFloat(x, 64)
		case float64:
			wf = x
		}
		if got[i] != wf && !(math.IsNaN(got[i]) && math.IsNaN(wf)) {
			return fmt.Errorf("value %d = %v, want %v", i, got[i], wf)
		}
	}
	return nil
}

// TestPreAlignment reads a wrapper stream as joblib < 1.2 wrote it: no
// alignment padding before the raw bytes.
func TestPreAlignment(t *testing.T) {
	v, err := Open("testdata/arrays_prealign.joblib", allow())
	if err != nil {
		t.Fatal(err)
	}
	a, ok := v.(*numpy.Array)
	if !ok {
		t.Fatalf("got %T", v)
	}
	got, _ := a.Float64s()
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("got %v", got)
	}
}

type pipelineJSON struct {
	Vocabulary map[string]int64 `json:"vocabulary"`
	Idf        []string         `json:"idf"`
	Coef       []string         `json:"coef"`
	CoefShape  []int            `json:"coef_shape"`
	Intercept  []string         `json:"intercept"`
	Classes    []string         `json:"classes"`
}

func attr(t *testing.T, o any, path ...string) any {
	t.Helper()
	v := o
	for _, p := range path {
		obj, ok := v.(*pickle.Object)
		if !ok {
			t.Fatalf("%v: %T is not an object", path, v)
		}
		v, ok = obj.Attr(p)
		if !ok {
			t.Fatalf("no attribute %s in %v", p, obj.Class)
		}
	}
	return v
}

// TestPipeline decodes a real TfidfVectorizer + LogisticRegression pipeline
// saved with pickle protocols 2-5 and joblib with every compression, and
// checks vocabulary, idf, coef, intercept and classes against scikit-learn.
func TestPipeline(t *testing.T) {
	var exp pipelineJSON
	readJSON(t, "testdata/pipeline.json", &exp)
	files := []string{"pipeline_p2.pkl", "pipeline_p3.pkl", "pipeline_p4.pkl", "pipeline_p5.pkl"}
	for _, c := range compressions {
		files = append(files, "pipeline_"+c+".joblib")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			v, err := Open(filepath.Join("testdata", f), allow())
			if err != nil {
				t.Fatal(err)
			}
			steps, ok := attr(t, v, "steps").(*pickle.List)
			if !ok || len(steps.Items) != 2 {
				t.Fatalf("steps: %#v", attr(t, v, "steps"))
			}
			tfidf := steps.Items[0].(pickle.Tuple)[1]
			clf := steps.Items[1].(pickle.Tuple)[1]

			vocab, ok := attr(t, tfidf, "vocabulary_").(*pickle.Dict)
			if !ok || vocab.Len() != len(exp.Vocabulary) {
				t.Fatalf("vocabulary_ has %d terms, want %d", vocab.Len(), len(exp.Vocabulary))
			}
			for term, col := range exp.Vocabulary {
				got, ok := vocab.Get(term)
				if !ok || got != col {
					t.Fatalf("vocabulary_[%q] = %v, want %d", term, got, col)
				}
			}
			idf := attr(t, tfidf, "_tfidf", "idf_").(*numpy.Array)
			equal(t, "idf_", idf, floats(t, exp.Idf))
			coef := attr(t, clf, "coef_").(*numpy.Array)
			if fmt.Sprint(coef.Shape) != fmt.Sprint(exp.CoefShape) {
				t.Fatalf("coef_ shape %v, want %v", coef.Shape, exp.CoefShape)
			}
			equal(t, "coef_", coef, floats(t, exp.Coef))
			equal(t, "intercept_", attr(t, clf, "intercept_").(*numpy.Array), floats(t, exp.Intercept))
			classes, err := attr(t, clf, "classes_").(*numpy.Array).Strings()
			if err != nil || fmt.Sprint(classes) != fmt.Sprint(exp.Classes) {
				t.Fatalf("classes_ = %v (%v), want %v", classes, err, exp.Classes)
			}
			if dt, ok := attr(t, tfidf, "dtype").(pickle.Global); !ok || dt.Name != "float64" {
				t.Fatalf("dtype = %#v", attr(t, tfidf, "dtype"))
			}
		})
	}
}

func equal(t *testing.T, name string, a *numpy.Array, want []float64) {
	t.Helper()
	got, err := a.Float64s()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %v, want %v (bit-exact)", name, i, got[i], want[i])
		}
	}
}
