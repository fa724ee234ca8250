package monitoring

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
)

// Level is a drift state.
type Level int

// Drift levels, ordered by severity.
const (
	LevelOK Level = iota
	LevelWarn
	LevelAlert
)

// String is "ok", "warn" or "alert".
func (l Level) String() string {
	switch l {
	case LevelWarn:
		return "warn"
	case LevelAlert:
		return "alert"
	}
	return "ok"
}

// Drift signals.
const (
	SignalLabel      = "label"
	SignalConfidence = "confidence"
	SignalTextLength = "text_length"
	SignalOOVRate    = "oov_rate"
	SignalAccuracy   = "accuracy"
)

// Default bin edges, the ones python/train_samples.py writes, used when the
// reference is bootstrapped from live traffic.
var (
	unitEdges   = []float64{0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1}
	lengthEdges = []float64{0, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 1000000}
)

// ErrConfig means a monitoring setting or a manifest's drift reference is
// out of range.
var ErrConfig = errors.New("invalid monitoring config")

// Observation is what drift detection needs from one prediction.
type Observation struct {
	// Label is the predicted label.
	Label string
	// Confidence is the prediction's confidence.
	Confidence float64
	// TextLength is the text's length in code points (utf8.RuneCountInString).
	TextLength int
	// OOVRate is the share of the model analyzer's word unigrams that are
	// not in its vocabulary (0 for a text without tokens); negative when
	// the model cannot tell, which leaves the oov_rate signal out.
	OOVRate float64
}

// psiOf is the population stability index of actual against expected shares:
// Σ (a−e)·ln(a/e), each share floored at eps so empty bins stay finite.
// Both slices hold shares of the same bins.
func psiOf(expected, actual []float64, eps float64) float64 {
	var s float64
	for i := range expected {
		e, a := max(expected[i], eps), max(actual[i], eps)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// bin returns the bin of v among edges as numpy.histogram does after
// clipping to the outer edges: [e_i, e_i+1), the last bin closed.
func bin(edges []float64, v float64) int {
	n := len(edges) - 1
	if !(v > edges[0]) { // also NaN
		return 0
	}
	if v >= edges[n] {
		return n - 1
	}
	i, _ := slices.BinarySearch(edges, v)
	// edges[i-1] < v <= edges[i]; v == edges[i] belongs to bin i.
	if i < len(edges) && edges[i] == v {
		return min(i, n-1)
	}
	return i - 1
}

// signal is one binned dimension: reference shares and the window's counts.
type signal struct {
	name   string
	edges  []float64 // nil for the label signal
	ref    []float64
	counts []int
	n      int
}

func (s *signal) psi(eps float64, buf []float64) float64 {
	for i, c := range s.counts {
		buf[i] = float64(c) / float64(s.n)
	}
	return psiOf(s.ref, buf[:len(s.counts)], eps)
}

// entry is one prediction in the window, as bin indices (-1: absent).
type entry [4]int16

// Detector watches one model version's traffic for drift. It is safe for
// concurrent use.
type Detector struct {
	cfg                 config.Drift
	model, version      string
	mu                  sync.Mutex
	labels              map[string]int  // label → bin of the label signal
	known               map[string]bool // the model's labels; nil: any label
	sig                 [4]*signal      // label, confidence, text_length, oov_rate; nil when unknown
	ring                []entry
	next, filled        int
	boot                []Observation // collected while bootstrapping; nil after
	fromManifest        bool
	refAccuracy         *float64
	fb                  []bool
	fbNext, fbN, fbOK   int
	level               [5]Level // per signal, accuracy last
	score               [4]float64
	buf                 []float64
	metrics             *Metrics
	log                 *slog.Logger
	sinceEval, evalStep int
	// shared: with a fleet, the window's bin counts not yet added to it.
	shared  bool
	unsent  [4][]int64
	unsentN int
	fleetFB int // feedbacks behind the accuracy level (logged)
}

// newDetector builds a detector from a manifest's reference (nil: bootstrap
// from the first cfg.Bootstrap predictions) and reference accuracy (nil: no
// accuracy alert).
func newDetector(cfg config.Drift, name, version string, labels []string, ref *model.Reference, accuracy *float64) (*Detector, error) {
	d := &Detector{cfg: cfg, model: name, version: version, labels: map[string]int{},
		ring: make([]entry, cfg.Window), refAccuracy: accuracy, fb: make([]bool, cfg.FeedbackWindow),
		buf: make([]float64, 64), evalStep: max(1, cfg.Window/20)}
	if len(labels) > 0 {
		d.known = make(map[string]bool, len(labels))
		for _, l := range labels {
			d.known[l] = true
		}
	}
	if ref == nil {
		d.boot = make([]Observation, 0, cfg.Bootstrap)
		for _, l := range labels {
			d.labels[l] = len(d.labels)
		}
		return d, nil
	}
	d.fromManifest = true
	if err := d.setReference(labels, ref); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Detector) setReference(labels []string, ref *model.Reference) error {
	if len(ref.LabelDistribution) > 0 {
		names := slices.Clone(labels)
		for l, f := range ref.LabelDistribution {
			if !validShare(f) {
				return fmt.Errorf("%w: reference label_distribution[%q] = %v", ErrConfig, l, f)
			}
			if !slices.Contains(names, l) {
				names = append(names, l)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		shares := make([]float64, len(names), len(names)+1)
		for i, l := range names {
			d.labels[l] = i
			shares[i] = ref.LabelDistribution[l]
		}
		if sum(shares) <= 0 {
			return fmt.Errorf("%w: reference label_distribution sums to 0", ErrConfig)
		}
		// The last bin holds labels the reference never saw.
		d.sig[0] = &signal{name: SignalLabel, ref: append(normalize(shares), 0), counts: make([]int, len(names)+1)}
	}
	for i, h := range []*model.Histogram{ref.Confidence, ref.TextLength, ref.OOVRate} {
		name := []string{SignalConfidence, SignalTextLength, SignalOOVRate}[i]
		if h == nil || len(h.Fractions) == 0 {
			continue
		}
		if len(h.Edges) != len(h.Fractions)+1 {
			return fmt.Errorf("%w: reference %s: %d edges for %d fractions", ErrConfig, name, len(h.Edges), len(h.Fractions))
		}
		for j, e := range h.Edges {
			if math.IsNaN(e) || math.IsInf(e, 0) || (j > 0 && e <= h.Edges[j-1]) {
				return fmt.Errorf("%w: reference %s: edges must be finite and strictly increasing: %v", ErrConfig, name, h.Edges)
			}
		}
		for _, f := range h.Fractions {
			if !validShare(f) {
				return fmt.Errorf("%w: reference %s: fraction %v", ErrConfig, name, f)
			}
		}
		if sum(h.Fractions) <= 0 {
			return fmt.Errorf("%w: reference %s: fractions sum to 0", ErrConfig, name)
		}
		d.sig[i+1] = &signal{name: name, edges: h.Edges, ref: normalize(slices.Clone(h.Fractions)),
			counts: make([]int, len(h.Fractions))}
	}
	for i, s := range d.sig {
		if s != nil && len(s.counts) > len(d.buf) {
			d.buf = make([]float64, len(s.counts))
		}
		if s != nil {
			d.unsent[i] = make([]int64, len(s.counts))
		}
	}
	return nil
}

func validShare(f float64) bool { return f >= 0 && f <= 1e9 }

func sum(v []float64) float64 {
	var t float64
	for _, x := range v {
		t += x
	}
	return t
}

func normalize(v []float64) []float64 {
	if t := sum(v); t > 0 {
		for i := range v {
			v[i] /= t
		}
	}
	return v
}

// bootstrap turns the collected first predictions into the reference.
func (d *Detector) bootstrap() {
	ref := &model.Reference{N: len(d.boot), LabelDistribution: map[string]float64{}}
	hist := func(edges []float64, val func(Observation) (float64, bool)) *model.Histogram {
		h := &model.Histogram{Edges: edges, Fractions: make([]float64, len(edges)-1)}
		n := 0
		for _, o := range d.boot {
			if v, ok := val(o); ok {
				h.Fractions[bin(edges, v)]++
				n++
			}
		}
		if n == 0 {
			return nil
		}
		return h
	}
	for _, o := range d.boot {
		ref.LabelDistribution[o.Label]++
	}
	ref.Confidence = hist(unitEdges, func(o Observation) (float64, bool) { return o.Confidence, true })
	ref.TextLength = hist(lengthEdges, func(o Observation) (float64, bool) { return float64(o.TextLength), true })
	ref.OOVRate = hist(unitEdges, func(o Observation) (float64, bool) { return o.OOVRate, o.OOVRate >= 0 })
	labels := make([]string, 0, len(d.labels))
	for l := range d.labels {
		labels = append(labels, l)
	}
	d.labels = map[string]int{}
	_ = d.setReference(labels, ref) // edges are ours and valid
	d.boot = nil
}

// Record adds one prediction to the window (or to the bootstrap sample).
func (d *Detector) Record(o Observation) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.boot != nil {
		d.boot = append(d.boot, o)
		if len(d.boot) >= d.cfg.Bootstrap {
			d.bootstrap()
		}
		return
	}
	var e entry
	vals := [4]float64{0, o.Confidence, float64(o.TextLength), o.OOVRate}
	for i, s := range d.sig {
		e[i] = -1
		if s == nil || (i == 3 && o.OOVRate < 0) {
			continue
		}
		var b int
		if i == 0 {
			var ok bool
			if b, ok = d.labels[o.Label]; !ok {
				b = len(s.counts) - 1
			}
		} else {
			b = bin(s.edges, vals[i])
		}
		e[i] = int16(b)
	}
	if d.filled == len(d.ring) {
		d.add(d.ring[d.next], -1)
	} else {
		d.filled++
	}
	d.ring[d.next] = e
	d.add(e, 1)
	if d.shared {
		for i, b := range e {
			if b >= 0 {
				d.unsent[i][b]++
				d.unsentN++
			}
		}
	}
	d.next = (d.next + 1) % len(d.ring)
	if d.sinceEval++; d.sinceEval >= d.evalStep {
		d.sinceEval = 0
		d.evaluate()
	}
}

func (d *Detector) add(e entry, delta int) {
	for i, s := range d.sig {
		if s != nil && e[i] >= 0 {
			s.counts[e[i]] += delta
			s.n += delta
		}
	}
}

// evaluate recomputes the scores and levels; d.mu is held.
func (d *Detector) evaluate() {
	for i, s := range d.sig {
		if s == nil {
			continue
		}
		if s.n < d.cfg.MinSamples {
			d.score[i] = 0
			d.setLevel(i, LevelOK, 0)
			continue
		}
		d.score[i] = s.psi(d.cfg.Epsilon, d.buf)
		lv := LevelOK
		switch {
		case d.score[i] >= d.cfg.Alert:
			lv = LevelAlert
		case d.score[i] >= d.cfg.Warn:
			lv = LevelWarn
		}
		d.setLevel(i, lv, d.score[i])
	}
}

// setLevel records signal i's level (4: accuracy), updates the gauges and
// logs when the signal enters or leaves the alert state; d.mu is held.
func (d *Detector) setLevel(i int, lv Level, score float64) {
	from := d.level[i]
	d.level[i] = lv
	name := SignalAccuracy
	if i < 4 {
		name = d.sig[i].name
		d.metrics.SetDrift(d.model, d.version, name, score, lv)
	} else {
		d.metrics.SetDriftLevel(d.model, d.version, name, lv)
	}
	if d.log == nil || from == lv || (from != LevelAlert && lv != LevelAlert) {
		return
	}
	attrs := []any{"model", d.model, "version", d.version, "signal", name, "from", from.String(), "to", lv.String()}
	if i < 4 {
		attrs = append(attrs, "psi", score, "alert_threshold", d.cfg.Alert, "samples", d.sig[i].n)
	} else {
		attrs = append(attrs, "accuracy", score, "feedback", d.fleetFB, "tolerance", d.cfg.Tolerance)
		if d.refAccuracy != nil {
			attrs = append(attrs, "reference_accuracy", *d.refAccuracy)
		}
	}
	if lv == LevelAlert {
		d.log.Warn("drift alert raised", attrs...)
	} else {
		d.log.Info("drift alert cleared", attrs...)
	}
}

// feedbackJudged records whether one prediction was right in this
// replica's window and returns its live accuracy; with judge it also sets
// the accuracy level from it. While shared, the fleet's window judges
// instead (the replica's is kept for when Redis fails), so the level does
// not flap between the two.
func (d *Detector) feedbackJudged(correct, judge bool) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fbN == len(d.fb) {
		if d.fb[d.fbNext] {
			d.fbOK--
		}
	} else {
		d.fbN++
	}
	d.fb[d.fbNext] = correct
	if correct {
		d.fbOK++
	}
	d.fbNext = (d.fbNext + 1) % len(d.fb)
	if !judge {
		return float64(d.fbOK) / float64(d.fbN)
	}
	return d.judgeAccuracy(d.fbOK, d.fbN)
}

// judgeAccuracy sets the accuracy level from ok right of n feedbacks
// (this replica's window, or the fleet's) and returns the accuracy; d.mu
// is held.
func (d *Detector) judgeAccuracy(ok, n int) float64 {
	acc := float64(ok) / float64(max(n, 1))
	lv := LevelOK
	if d.refAccuracy != nil && n >= d.cfg.MinFeedback && acc < *d.refAccuracy-d.cfg.Tolerance {
		lv = LevelAlert
	}
	d.fleetFB = n
	d.setLevel(4, lv, acc)
	return acc
}

// Status evaluates the window now and returns the figures.
func (d *Detector) Status() api.DriftStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := api.DriftStatus{Model: d.model, Version: d.version, Window: d.cfg.Window, Samples: d.filled,
		Warn: d.cfg.Warn, Alert: d.cfg.Alert, Reference: "manifest"}
	switch {
	case d.boot != nil:
		st.Reference, st.Collected, st.Bootstrap = "collecting", len(d.boot), d.cfg.Bootstrap
	case !d.fromManifest:
		st.Reference = "bootstrap"
	}
	if d.boot == nil {
		d.evaluate()
	}
	worst := d.level[4]
	for i, s := range d.sig {
		if s == nil {
			continue
		}
		ss := api.DriftSignal{Signal: s.name, PSI: d.score[i], Samples: s.n, Status: d.level[i].String(),
			Reference: slices.Clone(s.ref), Window: make([]float64, len(s.counts)), Edges: s.edges}
		for j, c := range s.counts {
			if s.n > 0 {
				ss.Window[j] = float64(c) / float64(s.n)
			}
		}
		if i == 0 {
			ss.Bins = make([]string, len(s.counts))
			for l, j := range d.labels {
				ss.Bins[j] = l
			}
			ss.Bins[len(ss.Bins)-1] = "(other)"
		}
		st.Signals = append(st.Signals, ss)
		worst = max(worst, d.level[i])
	}
	st.Accuracy = api.DriftAccuracy{Reference: d.refAccuracy, Feedback: d.fbN, Window: d.cfg.FeedbackWindow,
		Tolerance: d.cfg.Tolerance, Status: d.level[4].String()}
	if d.fbN > 0 {
		acc := float64(d.fbOK) / float64(d.fbN)
		st.Accuracy.Live = &acc
	}
	st.Status = worst.String()
	return st
}
