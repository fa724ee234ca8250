package onnx

/*
#include <malloc.h>

static void mlserve_tune_malloc(int mmap_threshold, int trim_threshold) {
#ifdef M_MMAP_THRESHOLD
	if (mmap_threshold > 0) mallopt(M_MMAP_THRESHOLD, mmap_threshold);
#endif
#ifdef M_TRIM_THRESHOLD
	if (trim_threshold > 0) mallopt(M_TRIM_THRESHOLD, trim_threshold);
#endif
}

static void mlserve_trim_malloc(void) { malloc_trim(0); }
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

// trimThreshold is how much free memory glibc keeps at the top of a heap
// before giving it back to the kernel. Fixing mmapThreshold also fixes this
// at glibc's default 128 KiB, so a run whose tensors were a few hundred KiB
// returned them on free and page-faulted them in again on the next run:
// spam/v2 runs of 4-8 rows × 256 columns cost 155-420 µs instead of 41-78
// µs (measured with MALLOC_TRIM_THRESHOLD_). 8 MiB keeps that working set;
// MiniLM's peak RSS is unchanged (291 vs 296 MB, 1-32 rows of 64 columns).
const trimThreshold = 8 << 20

// tuneMalloc fixes glibc's mmap and trim thresholds, each unless the
// operator set it already (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_).
// Only the C allocations (ONNX Runtime's) are affected: Go's heap does not
// use malloc.
func tuneMalloc() {
	mmap, trim := mmapThreshold, trimThreshold
	if _, set := os.LookupEnv("MALLOC_MMAP_THRESHOLD_"); set {
		mmap = 0
	}
	if _, set := os.LookupEnv("MALLOC_TRIM_THRESHOLD_"); set {
		trim = 0
	}
	C.mlserve_tune_malloc(C.int(mmap), C.int(trim))
}

// trimMalloc gives the kernel back the free pages of every malloc arena, not
// only those at the top of a heap (which is all free() returns). Creating a
// session frees ONNX Runtime's parse buffers and the graph's protobuf copy
// of the weights in the middle of the arenas of whichever threads loaded it.
func trimMalloc() { C.mlserve_trim_malloc() }
