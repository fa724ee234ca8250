package sklearn_test

import (
	"context"
	"fmt"

	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// Load a joblib file written by scikit-learn and classify two texts.
func Example() {
	m, err := sklearn.Load("testdata/tfidf_lr_binary.joblib")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	preds, err := m.Predict(context.Background(), []string{"server code bug in the cloud", "cheese soup for dinner"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Labels(), m.Info().Estimator)
	for _, p := range preds {
		fmt.Println(p.Label, len(p.Probabilities))
	}
	// Output:
	// [ham spam] [Pipeline TfidfVectorizer LogisticRegression]
	// spam 2
	// ham 2
}
