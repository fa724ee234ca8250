package ood_test

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/ood"
)

// A version's reference (model.yaml) and two answers: one like the
// held-out texts, one with nine words in ten unknown.
func Example() {
	man, _, err := model.ParseManifest([]byte(`
reference:
  n: 999
  oov_rate:
    edges: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    fractions: [0.8, 0.15, 0.05, 0.0, 0.0]
  confidence:
    edges: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    fractions: [0.02, 0.03, 0.05, 0.1, 0.8]
ood_alpha: 0.01
`))
	if err != nil {
		panic(err)
	}
	s, err := ood.New(man)
	if err != nil {
		panic(err)
	}
	for _, in := range []ood.Input{
		{OOVRate: 0.1, TextLength: 300, Confidence: 0.95},
		{OOVRate: 0.9, TextLength: 300, Confidence: 0.95},
	} {
		r := s.Score(in)
		fmt.Printf("score %.3f flag %v %s\n", r.Score, r.Flag, r.Signal)
	}
	// Output:
	// score 0.000 flag false oov_rate
	// score 0.998 flag true oov_rate
}
