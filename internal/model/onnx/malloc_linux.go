package onnx

/*
#include <malloc.h>

static void mlserve_tune_malloc(int threshold) {
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, threshold);
#endif
}
*/
import "C"

import "os"

// mmapThreshold is the allocation size from which glibc maps memory of its
// own and unmaps it on free. ONNX Runtime (its arena off) mallocs each run's
// tensors; with glibc's default sliding threshold, a few large batches raise
// it, after which every tensor up to that size comes from the heap and
// fragments it. Measured on the MiniLM encoder (sentiment/v3), 64 single-text
// runs: peak RSS 402 MB with the default, 277 MB with 1 MiB.
const mmapThreshold = 1 << 20

// tuneMalloc fixes glibc's mmap threshold, unless the operator set
// MALLOC_MMAP_THRESHOLD_ already. Only the C allocations (ONNX Runtime's)
// are affected: Go's heap does not use malloc.
func tuneMalloc() {
	if _, set := os.LookupEnv("MALLOC_MMAP_THRESHOLD_"); set {
		return
	}
	C.mlserve_tune_malloc(C.int(mmapThreshold))
}
