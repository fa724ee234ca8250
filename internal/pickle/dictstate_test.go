package pickle_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mlserve/mlserve/internal/pickle"
)

// TestBuildOnDictSubclass: a dict subclass (scikit-learn's Bunch) is its
// items; the instance __dict__ its BUILD carries is checked and dropped,
// and a state that no dict subclass pickles is refused.
func TestBuildOnDictSubclass(t *testing.T) {
	allow := pickle.NewAllowList()
	allow.Allow("m", "D", pickle.Func(func(pickle.Tuple) (any, error) { return pickle.NewDict(0), nil }))
	for _, tc := range []struct {
		name   string
		stream string
		err    error
	}{
		// GLOBAL m D, EMPTY_TUPLE, NEWOBJ, 'a' -> 1, SETITEM, BUILD {}, STOP
		{"dict state", "\x80\x02cm\nD\n)\x81X\x01\x00\x00\x00aK\x01s}b.", nil},
		{"None state", "\x80\x02cm\nD\n)\x81X\x01\x00\x00\x00aK\x01sNb.", nil},
		{"int state", "\x80\x02cm\nD\n)\x81X\x01\x00\x00\x00aK\x01sK\x05b.", pickle.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := pickle.Load(bytes.NewReader([]byte(tc.stream)), pickle.Options{Allow: allow})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, ok := v.(*pickle.Dict)
			if !ok {
				t.Fatalf("got %T, want *pickle.Dict", v)
			}
			if x, ok := d.Get("a"); !ok || x != int64(1) {
				t.Fatalf("a = %v, %v; want 1", x, ok)
			}
		})
	}
}
