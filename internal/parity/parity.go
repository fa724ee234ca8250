// Package parity holds what the parity tools in cmd/ (sklearn-predict,
// onnx-predict) share: reading the texts a Python test hands over, and the
// JSON shape of the predictions the test reads back.
package parity

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/mlserve/mlserve/internal/model"
)

// ReadTexts reads a JSON array of strings from the file at path, or from
// stdin when path is "-".
func ReadTexts(path string, stdin io.Reader) ([]string, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return nil, fmt.Errorf("texts: want a JSON array of strings: %w", err)
	}
	return texts, nil
}

// Prediction is one text's prediction as the parity suite reads it.
type Prediction struct {
	Label         string    `json:"label"`
	Index         int       `json:"index"`
	Confidence    float64   `json:"confidence"`
	Probabilities []float64 `json:"probabilities"`
	Decision      []float64 `json:"decision"`
}

// Predictions converts a model's predictions, in order.
func Predictions(preds []model.Prediction) []Prediction {
	out := make([]Prediction, len(preds))
	for i, p := range preds {
		out[i] = Prediction{p.Label, p.Index, p.Confidence, p.Probabilities, p.Decision}
	}
	return out
}
