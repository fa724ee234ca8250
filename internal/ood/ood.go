package ood

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/mlserve/mlserve/internal/model"
)

// DefaultAlpha is the level a combined p-value is flagged below when the
// manifest does not say.
const DefaultAlpha = 0.01

// Signal names, as Result.Signal reports them.
const (
	SignalOOV        = "oov_rate"
	SignalTextLength = "text_length"
	SignalConfidence = "confidence"
)

// Policies, as model.yaml's ood_policy names them.
const (
	PolicyFlag   = "flag"
	PolicyReject = "reject"
)

// ErrOutOfDistribution is the error a reject policy answers with (422).
var ErrOutOfDistribution = errors.New("text is out of distribution")

// side is which tail of a signal is evidence.
type side int

const (
	right side = iota // large values
	left              // small values
	both
)

// tail is one signal's reference: cumulative shares from each end.
type tail struct {
	name  string
	edges []float64
	below []float64 // below[b]: share of bins 0..b
	above []float64 // above[b]: share of bins b..n-1
	side  side
	floor float64
}

func newTail(name string, h *model.Histogram, s side, n int) (*tail, error) {
	if h == nil {
		return nil, nil
	}
	k := len(h.Fractions)
	if k == 0 || len(h.Edges) != k+1 {
		return nil, fmt.Errorf("reference.%s: %d edges for %d fractions", name, len(h.Edges), k)
	}
	if !slices.IsSorted(h.Edges) {
		return nil, fmt.Errorf("reference.%s: edges are not ascending", name)
	}
	var total float64
	for _, f := range h.Fractions {
		if !(f >= 0) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("reference.%s: fraction %v", name, f)
		}
		total += f
	}
	if total <= 0 {
		return nil, fmt.Errorf("reference.%s: the fractions sum to %v", name, total)
	}
	t := &tail{name: name, edges: h.Edges, below: make([]float64, k), above: make([]float64, k), side: s, floor: 1 / float64(max(n, 0)+1)}
	var acc float64
	for b := range k {
		acc += h.Fractions[b] / total
		t.below[b] = min(acc, 1)
	}
	acc = 0
	for b := k - 1; b >= 0; b-- {
		acc += h.Fractions[b] / total
		t.above[b] = min(acc, 1)
	}
	return t, nil
}

// p is v's tail probability.
func (t *tail) p(v float64) float64 {
	n := len(t.edges) - 1
	var lo, hi float64 // left and right tails
	switch {
	case math.IsNaN(v):
		return 1
	case v < t.edges[0]:
		lo, hi = 0, 1
	case v > t.edges[n]:
		lo, hi = 1, 0
	default:
		b := n - 1
		if v < t.edges[n] {
			i, found := slices.BinarySearch(t.edges, v)
			b = i - 1
			if found {
				b = i
			}
		}
		lo, hi = t.below[b], t.above[b]
	}
	var p float64
	switch t.side {
	case right:
		p = hi
	case left:
		p = lo
	default:
		p = min(1, 2*min(lo, hi))
	}
	return max(p, t.floor)
}

// Scorer scores texts against one version's reference. Safe for concurrent
// use (it is read-only once built).
type Scorer struct {
	oov, length, conf *tail
	alpha             float64
	reject            bool
}

// New builds a scorer from a manifest; nil (and no error) when the
// manifest has no reference histograms. A policy other than flag or
// reject, an alpha outside (0, 1) or a malformed histogram is an error.
func New(man *model.Manifest) (*Scorer, error) {
	if man == nil || man.Reference == nil {
		return nil, nil
	}
	alpha := DefaultAlpha
	if man.OODAlpha != nil {
		alpha = *man.OODAlpha
		if !(alpha > 0 && alpha < 1) {
			return nil, fmt.Errorf("ood_alpha %v: want a level between 0 and 1", alpha)
		}
	}
	s := &Scorer{alpha: alpha}
	switch man.OODPolicy {
	case "", PolicyFlag:
	case PolicyReject:
		s.reject = true
	default:
		return nil, fmt.Errorf("ood_policy %q: want flag or reject", man.OODPolicy)
	}
	r := man.Reference
	var err error
	if s.oov, err = newTail(SignalOOV, r.OOVRate, right, r.N); err != nil {
		return nil, err
	}
	if s.length, err = newTail(SignalTextLength, r.TextLength, both, r.N); err != nil {
		return nil, err
	}
	if s.conf, err = newTail(SignalConfidence, r.Confidence, left, r.N); err != nil {
		return nil, err
	}
	if s.oov == nil && s.length == nil && s.conf == nil {
		return nil, nil
	}
	return s, nil
}

// Rejects says the version's policy refuses flagged texts.
func (s *Scorer) Rejects() bool { return s != nil && s.reject }

// Alpha is the level below which a combined p-value is flagged.
func (s *Scorer) Alpha() float64 { return s.alpha }

// Input is one answered text's signals.
type Input struct {
	// OOVRate is the out-of-vocabulary rate; negative when not measured.
	OOVRate float64
	// TextLength is the text's length in code points, as sent.
	TextLength int
	// Confidence is the predicted label's confidence.
	Confidence float64
}

// Result is one text's out-of-distribution verdict.
type Result struct {
	// Score is 1 − P: near 1 for a text unlike the reference.
	Score float64
	// P is the combined p-value (min-p with Bonferroni).
	P float64
	// Flag says P is below the version's alpha.
	Flag bool
	// Signal is the signal with the smallest p-value.
	Signal string
}

// Score combines the signals of in against the reference.
func (s *Scorer) Score(in Input) Result {
	k := 0
	minP, sig := 1.0, ""
	look := func(t *tail, v float64) {
		if t == nil {
			return
		}
		k++
		if p := t.p(v); p < minP || sig == "" {
			minP, sig = p, t.name
		}
	}
	if in.OOVRate >= 0 {
		look(s.oov, in.OOVRate)
	}
	look(s.length, float64(in.TextLength))
	look(s.conf, in.Confidence)
	p := min(1, float64(k)*minP)
	return Result{Score: 1 - p, P: p, Flag: p < s.alpha, Signal: sig}
}
