package sklearn

import (
	"math"
	"sort"
)

// classifier scores one feature row.
type classifier interface {
	// score writes the decision values (len nDecision) and probabilities
	// (len nClasses when probabilistic) and returns the predicted index.
	score(v *vec, dec, proba []float64) int
	nClasses() int
	nDecision() int // 0 when there is no decision_function
	probabilistic() bool
	nFeatures() int
}

type probaRule int

const (
	probaNone     probaRule = iota
	probaOVR                // expit, then normalized (binary: [1-p, p])
	probaSoftmax            // softmax; binary as softmax([-d, d])
	probaModHuber           // (clip(d,-1,1)+1)/2, normalized with the all-zero rule
)

// linear is decision = X·coefᵀ + intercept.
type linear struct {
	coef      []float64 // rows × nf
	intercept []float64
	rows, nf  int
	classes   int
	rule      probaRule
	f32       bool // float32 coef_: see score32
	// intercept64: with float32 coef_, a float64 intercept_ (SGDClassifier).
	intercept64 bool
}

func (l *linear) nClasses() int       { return l.classes }
func (l *linear) nDecision() int      { return l.rows }
func (l *linear) probabilistic() bool { return l.rule != probaNone }
func (l *linear) nFeatures() int      { return l.nf }

func (l *linear) score(v *vec, dec, proba []float64) int {
	if l.f32 && !v.isDense {
		return l.score32(v, dec, proba)
	}
	for k := 0; k < l.rows; k++ {
		dec[k] = dot(v, l.coef[k*l.nf:(k+1)*l.nf]) + l.intercept[k]
	}
	if proba != nil {
		probaFromDecision(l.rule, dec[:l.rows], proba)
	}
	if l.rows == 1 {
		if dec[0] > 0 {
			return 1
		}
		return 0
	}
	return argmax(dec[:l.rows])
}

func probaFromDecision(rule probaRule, dec, proba []float64) {
	switch rule {
	case probaOVR:
		if len(dec) == 1 {
			p := expit(dec[0])
			proba[0], proba[1] = 1-p, p
			return
		}
		var s float64
		for k, d := range dec {
			proba[k] = expit(d)
			s += proba[k]
		}
		for k := range proba {
			proba[k] /= s
		}
	case probaSoftmax:
		if len(dec) == 1 {
			proba[0], proba[1] = -dec[0], dec[0]
		} else {
			copy(proba, dec)
		}
		softmax(proba)
	case probaModHuber:
		if len(dec) == 1 {
			p := (clip(dec[0]) + 1) / 2
			proba[0], proba[1] = 1-p, p
			return
		}
		var s float64
		for k, d := range dec {
			proba[k] = (clip(d) + 1) / 2
			s += proba[k]
		}
		if s == 0 {
			for k := range proba {
				proba[k] = 1 / float64(len(proba))
			}
			return
		}
		for k := range proba {
			proba[k] /= s
		}
	}
}

// naiveBayes is MultinomialNB, ComplementNB and BernoulliNB: a joint log
// likelihood X·flpᵀ + bias, probabilities by log-sum-exp, no decision.
type naiveBayes struct {
	flp     []float64 // classes × nf (BernoulliNB: flp - log(1-p))
	bias    []float64 // per class
	classes int
	nf      int
	// binarize is BernoulliNB's threshold; NaN when the input is used as is.
	binarize float64
}

func (n *naiveBayes) nClasses() int       { return n.classes }
func (n *naiveBayes) nDecision() int      { return 0 }
func (n *naiveBayes) probabilistic() bool { return true }
func (n *naiveBayes) nFeatures() int      { return n.nf }

func (n *naiveBayes) score(v *vec, _, proba []float64) int {
	for k := 0; k < n.classes; k++ {
		w := n.flp[k*n.nf : (k+1)*n.nf]
		if math.IsNaN(n.binarize) {
			proba[k] = dot(v, w) + n.bias[k]
		} else {
			proba[k] = dotBinarized(v, w, n.binarize) + n.bias[k]
		}
	}
	best := argmax(proba[:n.classes])
	lse := logSumExp(proba[:n.classes])
	for k := range proba[:n.classes] {
		proba[k] = math.Exp(proba[k] - lse)
	}
	return best
}

// dotBinarized is dot of the row binarized at t (x > t is 1, else 0),
// without changing the row (a calibrated ensemble scores it again).
func dotBinarized(v *vec, w []float64, t float64) float64 {
	var s float64
	if v.isDense {
		for j, x := range v.dense {
			if x > t {
				s += w[j]
			}
		}
		return s
	}
	for k, j := range v.sp.Idx {
		if v.sp.Val[k] > t {
			s += w[j]
		}
	}
	return s
}

// calibrator maps one column of base predictions to calibrated scores.
type calibrator interface{ predict(x float64) float64 }

type sigmoidCal struct{ a, b float64 }

func (s sigmoidCal) predict(x float64) float64 { return expit(-(s.a*x + s.b)) }

// isotonicCal is IsotonicRegression.predict: linear interpolation between
// thresholds, clipped to [xmin, xmax] when out_of_bounds is "clip".
type isotonicCal struct {
	x, y       []float64
	clip       bool
	xmin, xmax float64
	// f32: the thresholds are float32 (fitted on float32 scores), and
	// scikit-learn then casts the input to float32 and interpolates in
	// float32.
	f32 bool
}

func (c isotonicCal) predict(t float64) float64 {
	if c.f32 {
		return float64(c.predict32(float32(t)))
	}
	if c.clip {
		t = math.Min(math.Max(t, c.xmin), c.xmax)
	}
	if len(c.y) == 1 {
		return c.y[0]
	}
	if math.IsNaN(t) || t < c.x[0] || t > c.x[len(c.x)-1] {
		return math.NaN()
	}
	// scipy's interp1d: the interval (x[i-1], x[i]] by searchsorted left,
	// index clipped to [1, n-1].
	i := sort.SearchFloat64s(c.x, t)
	if i < 1 {
		i = 1
	}
	if i > len(c.x)-1 {
		i = len(c.x) - 1
	}
	x0, x1, y0, y1 := c.x[i-1], c.x[i], c.y[i-1], c.y[i]
	slope := (y1 - y0) / (x1 - x0)
	return slope*(t-x0) + y0
}

// predict32 is predict in float32 arithmetic, every operation rounded to
// float32 as numpy does on float32 arrays (the conversions keep Go from
// fusing a multiply and an add).
func (c isotonicCal) predict32(t float32) float32 {
	if c.clip {
		t = min(max(t, float32(c.xmin)), float32(c.xmax))
	}
	if len(c.y) == 1 {
		return float32(c.y[0])
	}
	t64 := float64(t)
	if math.IsNaN(t64) || t64 < c.x[0] || t64 > c.x[len(c.x)-1] {
		return float32(math.NaN())
	}
	i := sort.SearchFloat64s(c.x, t64)
	i = min(max(i, 1), len(c.x)-1)
	x0, x1 := float32(c.x[i-1]), float32(c.x[i])
	y0, y1 := float32(c.y[i-1]), float32(c.y[i])
	slope := float32(float32(y1-y0) / float32(x1-x0))
	return float32(float32(slope*float32(t-x0)) + y0)
}

// calibratedOne is a _CalibratedClassifier.
type calibratedOne struct {
	base     classifier
	useProba bool // base's predict_proba instead of decision_function
	cals     []calibrator
	classIdx []int // column of each calibrator's class in the output
	nclasses int
	// temperature: method="temperature", softmax(beta * logits) of all
	// classes (temperatureProba) instead of cals.
	temperature bool
	beta        float64
}

// calibrated is CalibratedClassifierCV: the mean of its calibrated
// classifiers' probabilities.
type calibrated struct {
	members []*calibratedOne
	classes int
	nf      int
}

func (c *calibrated) nClasses() int       { return c.classes }
func (c *calibrated) nDecision() int      { return 0 }
func (c *calibrated) probabilistic() bool { return true }
func (c *calibrated) nFeatures() int      { return c.nf }

func (c *calibrated) score(v *vec, _, proba []float64) int {
	n := c.classes
	for k := range proba[:n] {
		proba[k] = 0
	}
	var tmpArr [16]float64
	var tmp []float64
	if n > len(tmpArr) {
		tmp = make([]float64, n)
	} else {
		tmp = tmpArr[:n]
	}
	var bdArr, bpArr [16]float64
	for _, m := range c.members {
		bd, bp := bdArr[:], bpArr[:]
		if nd := m.base.nDecision(); nd > len(bd) {
			bd = make([]float64, nd)
		}
		if nc := m.base.nClasses(); nc > len(bp) {
			bp = make([]float64, nc)
		}
		if !m.base.probabilistic() {
			bp = nil
		}
		m.base.score(v, bd, bp)
		var preds []float64
		switch {
		case m.useProba && m.base.nClasses() == 2:
			preds = bp[1:2]
		case m.useProba:
			preds = bp[:m.base.nClasses()]
		default:
			preds = bd[:m.base.nDecision()]
		}
		for k := range tmp {
			tmp[k] = 0
		}
		if m.temperature {
			temperatureProba(m.beta, preds, m.useProba, tmp)
			for k, p := range tmp {
				if p > 1 && p <= 1+1e-5 {
					p = 1
				}
				proba[k] += p
			}
			continue
		}
		for i, cal := range m.cals {
			idx := m.classIdx[i]
			if n == 2 {
				idx++
			}
			tmp[idx] = cal.predict(preds[i])
		}
		if n == 2 {
			tmp[0] = 1 - tmp[1]
		} else {
			var s float64
			for _, p := range tmp {
				s += p
			}
			for k := range tmp {
				if s != 0 {
					tmp[k] /= s
				} else {
					tmp[k] = 1 / float64(n)
				}
			}
		}
		for k, p := range tmp {
			if p > 1 && p <= 1+1e-5 {
				p = 1
			}
			proba[k] += p
		}
	}
	for k := range proba[:n] {
		proba[k] /= float64(len(c.members))
	}
	return argmax(proba[:n])
}

func expit(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func clip(x float64) float64 { return math.Min(1, math.Max(-1, x)) }

// argmax returns the first index of the maximum, like numpy.
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func logSumExp(x []float64) float64 {
	m := x[argmax(x)]
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return math.Log(s) + m
}

// softmax is scipy.special.softmax / sklearn's in place softmax.
func softmax(x []float64) {
	m := x[argmax(x)]
	var s float64
	for i, v := range x {
		x[i] = math.Exp(v - m)
		s += x[i]
	}
	for i := range x {
		x[i] /= s
	}
}
