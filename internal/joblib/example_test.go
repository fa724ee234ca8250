package joblib_test

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/joblib"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

func ExampleOpen() {
	a := pickle.NewAllowList()
	joblib.Register(a) // builtins, numpy and joblib's array wrapper
	// joblib.dump({"f8": np.array([0.0, -1.5, ...]), ...}, path, compress=3)
	v, err := joblib.Open("testdata/arrays_zlib.joblib", a)
	if err != nil {
		panic(err)
	}
	arr, _ := v.(*pickle.Dict).Get("f8_2d_F")
	x, _ := arr.(*numpy.Array).Float64s()
	fmt.Println(arr.(*numpy.Array).Shape, x)
	// Output: [3 4] [0 1 2 3 4 5 6 7 8 9 10 11]
}
