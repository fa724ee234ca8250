package onnx_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mlserve/mlserve/internal/model/onnx"
)

// Load an ONNX model folder (model.yaml with an onnx: section, the graph, its
// vocabulary) and classify two texts in one batch. ONNX Runtime is found
// through Options.LibraryPath, else .cache/onnxruntime/libonnxruntime.so,
// else the system loader.
func Example() {
	ctx := context.Background()
	m, err := onnx.LoadDir(ctx, "testdata/bag", onnx.Options{IntraOpThreads: 1})
	if err != nil {
		log.Fatal(err) // e.g. onnx.ErrRuntimeMissing: run scripts/setup-onnxruntime.sh
	}
	defer m.Close()
	preds, err := m.Predict(ctx, []string{"Free money now!!! Claim your prize", "The meeting moved to Tuesday."})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range preds {
		fmt.Printf("%s %.3f\n", p.Label, p.Confidence)
	}
	fmt.Println(m.Info().Estimator)
}
