package inference_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
)

// upper is a toy model: the label is the upper-cased text.
type upper struct{}

func (upper) Predict(_ context.Context, texts []string) ([]model.Prediction, error) {
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		out[i] = model.Prediction{Label: strings.ToUpper(t), Confidence: 1}
	}
	return out, nil
}
func (upper) Labels() []string { return nil }
func (upper) Info() model.Info { return model.Info{} }
func (upper) Close() error     { return nil }

func Example() {
	e, err := inference.New(inference.Config{MaxQueue: 64, MaxBatchSize: 32, BatchTimeout: 5 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	preds, err := e.Predict(ctx, "upper-v1", upper{}, []string{"ham", "spam"})
	switch {
	case errors.Is(err, inference.ErrQueueFull):
		fmt.Println("503, Retry-After:", inference.RetryAfter(err))
	case errors.Is(err, inference.ErrTimeout):
		fmt.Println("504")
	case err != nil:
		fmt.Println("error:", err)
	default:
		fmt.Println(preds[0].Label, preds[1].Label)
	}
	e.Forget("upper-v1") // the version was unloaded
	_ = e.Close(context.Background())
	// Output: HAM SPAM
}
