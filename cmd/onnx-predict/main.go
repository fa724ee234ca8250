// Command onnx-predict loads an ONNX model folder (model.yaml with an onnx:
// section, or a Hugging Face export with config.json and tokenizer.json)
// with mlserve's ONNX backend and prints what it predicts for a JSON
// array of texts, for the Python parity suite.
//
//	onnx-predict -model DIR -texts FILE.json|- [-tokens] [-embeddings] [-batch N]
//
// Output: {"info": {...}, "labels": [...], "predictions": [{"label", "index",
// "confidence", "probabilities", "decision" (null)}], "tokens": [{"ids", "mask", "type_ids"}]
// (with -tokens: unpadded, after truncation), "embeddings": [[...]] (with
// -embeddings: pooled and normalised, two-stage models only)}. The manifest's
// preprocessing steps are applied first, as the server applies them. ONNX
// Runtime comes from MLSERVE_ONNX_LIBRARY_PATH, else the default search.
// Errors go to stderr with exit status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/onnx"
	"github.com/mlserve/mlserve/internal/parity"
	"github.com/mlserve/mlserve/internal/preprocess"
)

type output struct {
	Info        model.Info          `json:"info"`
	Labels      []string            `json:"labels"`
	Predictions []parity.Prediction `json:"predictions"`
	Tokens      []onnx.Tokens       `json:"tokens,omitempty"`
	Embeddings  [][]float64         `json:"embeddings,omitempty"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "onnx-predict:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	flags := flag.NewFlagSet("onnx-predict", flag.ContinueOnError)
	dir := flags.String("model", "", "ONNX model folder (model.yaml, the graph, the vocabulary)")
	textsPath := flags.String("texts", "", "JSON array of strings, or - for stdin")
	tokens := flags.Bool("tokens", false, "also print each text's ids, mask and type ids")
	embeddings := flags.Bool("embeddings", false, "also print each text's pooled embedding (two-stage models)")
	batch := flags.Int("batch", 0, "predict in batches of this many texts (0: all at once)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *textsPath == "" {
		return errors.New("usage: onnx-predict -model DIR -texts FILE.json|- [-tokens] [-embeddings] [-batch N]")
	}
	texts, err := parity.ReadTexts(*textsPath, stdin)
	if err != nil {
		return err
	}

	b, err := os.ReadFile(filepath.Join(*dir, model.ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		b, err = nil, nil // a Hugging Face export (config.json, tokenizer.json) needs none
	}
	if err != nil {
		return err
	}
	man, _, err := model.ParseManifest(b)
	if err != nil {
		return err
	}
	if len(man.Preprocessing) > 0 {
		c, err := preprocess.NewCleaner(man.Preprocessing)
		if err != nil {
			return fmt.Errorf("preprocessing: %w", err)
		}
		cleaned := make([]string, len(texts))
		for i, t := range texts {
			cleaned[i] = c.Clean(t)
		}
		texts = cleaned
	}
	m, err := onnx.Load(ctx, *dir, man, onnx.Options{LibraryPath: os.Getenv("MLSERVE_ONNX_LIBRARY_PATH")})
	if err != nil {
		return err
	}
	defer m.Close()

	out := output{Info: m.Info(), Labels: m.Labels(), Predictions: make([]parity.Prediction, 0, len(texts))}
	step := len(texts)
	if *batch > 0 {
		step = *batch
	}
	for lo := 0; lo < len(texts); lo += step {
		hi := min(lo+step, len(texts))
		preds, err := m.Predict(ctx, texts[lo:hi])
		if err != nil {
			return err
		}
		out.Predictions = append(out.Predictions, parity.Predictions(preds)...)
		if *embeddings {
			e, err := m.Embed(ctx, texts[lo:hi])
			if err != nil {
				return err
			}
			out.Embeddings = append(out.Embeddings, e...)
		}
	}
	if *tokens {
		if out.Tokens, err = m.Encode(texts); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(out)
}
