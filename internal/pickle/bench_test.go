package pickle_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/mlserve/mlserve/internal/pickle"
)

// BenchmarkLoad runs the machine alone on CPython's plain-value fixtures,
// one per protocol: protocol 0 is the text opcodes, 2 the binary ones of
// Python 2, 5 framing and the short forms. The figure that matters is
// ns/op against the previous layout of the dispatch (see doc.go).
func BenchmarkLoad(b *testing.B) {
	for _, p := range []int{0, 2, 5} {
		data, err := os.ReadFile(fmt.Sprintf("testdata/plain_p%d.pkl", p))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("protocol%d", p), func(b *testing.B) {
			allow := pickle.NewAllowList()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pickle.Load(bytes.NewReader(data), pickle.Options{Allow: allow}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
