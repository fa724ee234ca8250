package joblib

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// FuzzJoblib checks that no input makes Load panic or hang, seeded with
// real joblib files in every compression.
func FuzzJoblib(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.joblib")
	for _, p := range files {
		if filepath.Base(p) == "bench_tfidf_lr.joblib" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(append(wrapperHeader(2, true), 3, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40, '.'))
	allow := allow()
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := LoadOptions(bytes.NewReader(b), Options{Allow: allow, MaxBytes: 1 << 22})
		if err != nil {
			return
		}
		if d, ok := v.(*pickle.Dict); ok {
			d.Each(func(_, v any) error {
				if a, ok := v.(*numpy.Array); ok {
					a.Float64s()
					a.Strings()
					a.Values()
				}
				return nil
			})
		}
	})
}
