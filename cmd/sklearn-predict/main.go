// Command sklearn-predict loads a scikit-learn .pkl/.joblib file with mlserve's
// Go reader and prints what it predicts for a JSON array of texts, for the
// Python parity suite.
//
//	sklearn-predict -model PATH -texts FILE.json   (or -texts - for stdin)
//
// Output: {"info": {...}, "labels": [...], "predictions": [{"label", "index",
// "confidence", "probabilities" (or null), "decision" (or null)}]}. Errors go
// to stderr with exit status 1.
//
// With -explain K, the output also holds "explanations": one exact
// explanation per text (the top K contributions), or null for a model
// that has none.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/parity"
)

type output struct {
	Info        model.Info          `json:"info"`
	Labels      []string            `json:"labels"`
	Predictions []parity.Prediction `json:"predictions"`
	// Explanations is there with -explain: one per text, null for a model
	// without an exact explanation.
	Explanations []*model.Explanation `json:"explanations,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sklearn-predict:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("sklearn-predict", flag.ContinueOnError)
	modelPath := fs.String("model", "", "scikit-learn .pkl or .joblib file")
	textsPath := fs.String("texts", "", "JSON array of strings, or - for stdin")
	explain := fs.Int("explain", 0, "also explain each prediction exactly, keeping this many contributions")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || *textsPath == "" {
		return errors.New("usage: sklearn-predict -model PATH -texts FILE.json|-")
	}
	texts, err := parity.ReadTexts(*textsPath, stdin)
	if err != nil {
		return err
	}
	m, err := sklearn.Load(*modelPath)
	if err != nil {
		return err
	}
	defer m.Close()
	preds, err := m.Predict(context.Background(), texts)
	if err != nil {
		return err
	}
	out := output{Info: m.Info(), Labels: m.Labels(), Predictions: parity.Predictions(preds)}
	if *explain > 0 {
		out.Explanations = make([]*model.Explanation, len(texts))
		for i, t := range texts {
			ex, err := m.Explain(context.Background(), model.ExplainRequest{Text: t, TopK: *explain})
			if errors.Is(err, model.ErrNotExplainable) {
				continue
			}
			if err != nil {
				return err
			}
			out.Explanations[i] = &ex
		}
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(out)
}
