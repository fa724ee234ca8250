package loadgen_test

import (
	"fmt"
	"os"
	"time"

	"github.com/mlserve/mlserve/internal/loadgen"
)

func ExampleWriteHistogram() {
	lat := []time.Duration{1 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 8 * time.Millisecond}
	fmt.Println("p50", loadgen.Percentile(lat, 0.5), "p99", loadgen.Percentile(lat, 0.99))
	loadgen.WriteHistogram(os.Stdout, loadgen.Buckets(lat, 3), 10)
	// Output:
	// p50 2ms p99 8ms
	//       1.000 –     2.000 ms │██████████        2   40.0%
	//       2.000 –     4.000 ms │██████████        2   40.0%
	//       4.000 –     8.000 ms │█████             1   20.0%
}
