// Command sklearn-predict loads a scikit-learn .pkl/.joblib file with mlserve's
// Go reader and prints what it predicts for a JSON array of texts, for the
// Python parity suite.
//
//	sklearn-predict -model PATH -texts FILE.json   (or -texts - for stdin)
//
// Output: {"info": {...}, "labels": [...], "predictions": [{"label", "index",
// "confidence", "probabilities" (or null), "decision" (or null)}]}. Errors go
// to stderr with exit status 1.
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
)

type prediction struct {
	Label         string    `json:"label"`
	Index         int       `json:"index"`
	Confidence    float64   `json:"confidence"`
	Probabilities []float64 `json:"probabilities"`
	Decision      []float64 `json:"decision"`
}

type output struct {
	Info        model.Info   `json:"info"`
	Labels      []string     `json:"labels"`
	Predictions []prediction `json:"predictions"`
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" || *textsPath == "" {
		return errors.New("usage: sklearn-predict -model PATH -texts FILE.json|-")
	}
	var raw []byte
	var err error
	if *textsPath == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(*textsPath)
	}
	if err != nil {
		return err
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return fmt.Errorf("texts: want a JSON array of strings: %w", err)
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
	out := output{Info: m.Info(), Labels: m.Labels(), Predictions: make([]prediction, len(preds))}
	for i, p := range preds {
		out.Predictions[i] = prediction{p.Label, p.Index, p.Confidence, p.Probabilities, p.Decision}
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(out)
}
