package pickle_test

import (
	"bytes"
	"fmt"

	"github.com/mlserve/mlserve/internal/pickle"
)

func ExampleLoad() {
	// pickle.dumps({"spam": 1}, protocol=2)
	data := []byte("\x80\x02}q\x00X\x04\x00\x00\x00spamq\x01K\x01s.")
	v, err := pickle.Load(bytes.NewReader(data), pickle.Options{Allow: pickle.NewAllowList()})
	if err != nil {
		panic(err)
	}
	n, _ := v.(*pickle.Dict).Get("spam")
	fmt.Println(n)

	// pickle.dumps(os.system) on Linux: refused, never called.
	_, err = pickle.Load(bytes.NewReader([]byte("cposix\nsystem\n.")), pickle.Options{Allow: pickle.NewAllowList()})
	fmt.Println(err)
	// Output:
	// 1
	// posix.system is not allowed in a model file
}

func ExampleAllowList_Allow() {
	a := pickle.NewAllowList()
	// A class without a Go counterpart: calls yield *pickle.Object.
	a.Allow("sklearn.pipeline", "Pipeline", pickle.Class())
	// A constructor implemented in Go.
	a.Allow("fractions", "Fraction", pickle.Func(func(args pickle.Tuple) (any, error) {
		return fmt.Sprint(args...), nil
	}))
	// pickle.dumps(fractions.Fraction(3, 4), protocol=0) uses a str argument.
	v, err := pickle.Load(bytes.NewReader([]byte("cfractions\nFraction\n(V3/4\ntR.")), pickle.Options{Allow: a})
	fmt.Println(v, err)
	// Output: 3/4 <nil>
}
