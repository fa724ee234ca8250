package pickle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/pickle/bomb"
	"github.com/mlserve/mlserve/internal/scipy"
)

func fullAllow() *pickle.AllowList {
	a := pickle.NewAllowList()
	numpy.Register(a)
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

// touch exercises the accessors of what a fuzzed stream decoded to.
func touch(v any, depth int) {
	if depth > 20 {
		return
	}
	switch x := v.(type) {
	case *numpy.Array:
		x.Float64s()
		x.Int64s()
		x.Strings()
		x.Values()
	case *scipy.Sparse:
		if x.Rows*x.Cols <= 1<<16 {
			x.Dense()
		}
		x.Diagonal()
		x.ToCSR()
	case *pickle.Dict:
		x.Each(func(k, v any) error { touch(v, depth+1); return nil })
	case *pickle.List:
		for _, e := range x.Items {
			touch(e, depth+1)
		}
	case pickle.Tuple:
		for _, e := range x {
			touch(e, depth+1)
		}
	case *pickle.Object:
		touch(x.State, depth+1)
	}
}

// FuzzLoad checks that no input makes Load panic or hang, seeded with the
// CPython, numpy, scipy and scikit-learn fixtures.
func FuzzLoad(f *testing.F) {
	for _, pat := range []string{"testdata/*.pkl", "../numpy/testdata/*.pkl", "../scipy/testdata/*.pkl", "../joblib/testdata/pipeline_p*.pkl"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{"\x80\x04\x8f(K\x01K\x01\x90.", "]q\x00h\x00a.", "\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00z\x98.", "cos\nsystem\n(Vx\ntR."} {
		f.Add([]byte(s))
	}
	for _, b := range [][]byte{
		bomb.EmptyDicts(1 << 12), bomb.BigInts(2, 5000), bomb.KeyReuse(256, 30, 200), bomb.SetReuse(256, 30, 200),
		bomb.BigIntKeyReuse(1024, 50), bomb.SelfListKey(false), bomb.SelfListKey(true), bomb.SelfGridSearch(),
		bomb.SelfPipeline(), bomb.SelfUnion(), bomb.SelfCalibrated(), bomb.DeepGridSearch(100), bomb.SharedUnion(20),
	} {
		f.Add(b)
	}
	allow := fullAllow()
	pickle.Builtins(allow)
	f.Fuzz(func(t *testing.T, b []byte) {
		// A bomb shows as time or memory: each input must load within
		// fuzzMaxTime and allocate less than fuzzMaxAlloc, which
		// MaxMemory (what a file of up to 1 MiB gets, see joblib.Budget)
		// should guarantee. Run with GOMEMLIMIT too, so that a leak across
		// inputs shows.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		v, err := pickle.Load(bytes.NewReader(b), pickle.Options{Allow: allow, MaxBytes: 1 << 20, MaxMemory: fuzzMaxMemory})
		if err == nil {
			touch(v, 0)
		}
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if took > raceSlowdown*fuzzMaxTime {
			t.Fatalf("input of %d bytes took %v", len(b), took)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > fuzzMaxAlloc {
			t.Fatalf("input of %d bytes allocated %d MB", len(b), grew>>20)
		}
	})
}

// Bounds of one FuzzLoad input.
const (
	fuzzMaxMemory = 32<<20 + 128<<20
	fuzzMaxAlloc  = 256 << 20
	fuzzMaxTime   = 2 * time.Second
)
