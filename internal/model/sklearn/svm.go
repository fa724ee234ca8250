package sklearn

import (
	"fmt"
	"math"
	"sort"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/scipy"
)

// SVC and NuSVC: libsvm's one-vs-one decision values over the support
// vectors (each pair i < j sums the dual coefficients times the kernel
// over both classes' support vectors, plus the pair's intercept), its
// voting predict, scikit-learn's sign flip for two classes and its 'ovr'
// reshaping; with probability=True, libsvm's pairwise probabilities
// (Platt's sigmoid with probA_/probB_, clipped to [1e-7, 1-1e-7]) coupled
// by the iterative method of Wu, Lin and Weng (2004), run with libsvm's
// iteration limit and stopping rule so the same iterate is returned.

// row is one sparse row of a stored matrix (support vectors, a fitted
// training set).
type row struct {
	idx []int32
	val []float64
	sq  float64 // Σ val²
}

// dotRow is v · r.
func dotRow(v *vec, r row) float64 {
	var s float64
	if v.isDense {
		for k, j := range r.idx {
			s += r.val[k] * v.dense[j]
		}
		return s
	}
	a, b := v.sp.Idx, r.idx
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			s += v.sp.Val[i] * r.val[j]
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return s
}

// sqNorm is v · v.
func sqNorm(v *vec) float64 {
	var s float64
	if v.isDense {
		for _, x := range v.dense {
			s += x * x
		}
		return s
	}
	for _, x := range v.sp.Val {
		s += x * x
	}
	return s
}

// matrixRows reads a 2-d numeric attribute, a numpy array or a scipy
// sparse matrix, as rows; a dense row keeps its zeros out.
func matrixRows(o obj, name string) ([]row, int, error) {
	v, ok := o.get(name)
	if !ok {
		return nil, 0, o.errf("missing %s (is it fitted?)", name)
	}
	var rows []row
	switch m := v.(type) {
	case *scipy.Sparse:
		csr, err := m.ToCSR()
		if err != nil {
			return nil, 0, o.errf("%s: %v", name, err)
		}
		if err := o.finite(name, csr.Data, nil, false); err != nil {
			return nil, 0, err
		}
		for r := 0; r < csr.Rows; r++ {
			var x row
			for k := csr.Indptr[r]; k < csr.Indptr[r+1]; k++ {
				x.idx = append(x.idx, int32(csr.Indices[k]))
				x.val = append(x.val, csr.Data[k])
				x.sq += csr.Data[k] * csr.Data[k] // in stored order, as csr_row_norms sums
			}
			// A stored matrix need not have sorted indices (a TF-IDF
			// product's often has not); dotRow merges sorted rows.
			if !sort.SliceIsSorted(x.idx, func(i, j int) bool { return x.idx[i] < x.idx[j] }) {
				sort.Sort(byIndex(x))
			}
			for k := 1; k < len(x.idx); k++ {
				if x.idx[k] == x.idx[k-1] {
					return nil, 0, o.errf("%s row %d holds column %d twice", name, r, x.idx[k])
				}
			}
			rows = append(rows, x)
		}
		return rows, csr.Cols, nil
	case *numpy.Array:
		f, shape, err := o.floats(name)
		if err != nil {
			return nil, 0, err
		}
		if len(shape) != 2 {
			return nil, 0, o.errf("%s has shape %v, want 2-d", name, shape)
		}
		for r := 0; r < shape[0]; r++ {
			var x row
			for c, val := range f[r*shape[1] : (r+1)*shape[1]] {
				if val != 0 {
					x.idx = append(x.idx, int32(c))
					x.val = append(x.val, val)
					x.sq += val * val
				}
			}
			rows = append(rows, x)
		}
		return rows, shape[1], nil
	}
	return nil, 0, o.errf("%s is %s, want a matrix", name, pickle.Describe(v))
}

// kernel is libsvm's kernel function of an SVC.
type kernel struct {
	kind   string // linear, poly, rbf, sigmoid
	gamma  float64
	coef0  float64
	degree int
}

// eval is K(x, r), given x·x.
func (k kernel) eval(v *vec, xx float64, r row) float64 {
	d := dotRow(v, r)
	switch k.kind {
	case "linear":
		return d
	case "poly":
		return powi(k.gamma*d+k.coef0, k.degree)
	case "rbf":
		return math.Exp(-k.gamma * math.Max(xx+r.sq-2*d, 0))
	default: // sigmoid
		return math.Tanh(k.gamma*d + k.coef0)
	}
}

// powi is x to the non-negative integer n by repeated squaring, the
// product libsvm forms.
func powi(x float64, n int) float64 {
	r := 1.0
	for ; n > 0; n /= 2 {
		if n%2 == 1 {
			r *= x
		}
		x *= x
	}
	return r
}

// svc is a fitted SVC or NuSVC.
type svc struct {
	k         kernel
	sv        []row
	start     []int       // first support vector of each class
	coef      [][]float64 // (classes-1) × n_SV, libsvm's sv_coef
	intercept []float64   // per pair, -rho
	probA     []float64   // per pair; nil without probability
	probB     []float64
	ovr       bool // decision_function_shape='ovr' (used with > 2 classes)
	breakTies bool
	classes   int
	nf        int
}

func (t *translator) svc(o obj, labels []string) (classifier, error) {
	n := len(labels)
	s := &svc{classes: n}
	kind, err := o.str("kernel", "rbf")
	if err != nil {
		if v, _ := o.get("kernel"); v != nil {
			return nil, fmt.Errorf("%w: %s with a callable kernel (%s); only 'linear', 'poly', 'rbf' and 'sigmoid' can be served",
				model.ErrUnsupported, o.name(), pickle.Describe(v))
		}
		return nil, err
	}
	switch kind {
	case "linear", "poly", "rbf", "sigmoid":
	default:
		return nil, fmt.Errorf("%w: %s kernel %q; mlserve serves 'linear', 'poly', 'rbf' and 'sigmoid' (a precomputed kernel takes a kernel matrix, not text)",
			model.ErrUnsupported, o.name(), kind)
	}
	s.k.kind = kind
	if s.k.gamma, err = o.float("_gamma"); err != nil {
		return nil, err
	}
	if c, ok := o.get("coef0"); ok && c != nil {
		if s.k.coef0, err = o.float("coef0"); err != nil {
			return nil, err
		}
	}
	if s.k.degree, err = o.integer("degree", 3); err != nil {
		return nil, err
	}
	if s.k.degree < 0 || s.k.degree > 64 {
		return nil, o.errf("degree is %d", s.k.degree)
	}
	shape, err := o.str("decision_function_shape", "ovr")
	if err != nil {
		return nil, err
	}
	s.ovr = shape == "ovr"
	if s.breakTies, err = o.boolean("break_ties", false); err != nil {
		return nil, err
	}
	if s.sv, s.nf, err = matrixRows(o, "support_vectors_"); err != nil {
		return nil, err
	}
	if nf, err := o.integer("n_features_in_", s.nf); err == nil && nf != s.nf {
		if len(s.sv) > 0 || nf < s.nf {
			return nil, o.errf("support_vectors_ have %d columns for %d features", s.nf, nf)
		}
		s.nf = nf
	}
	nsv, _, err := o.floats("_n_support")
	if err != nil {
		return nil, err
	}
	if len(nsv) != n {
		return nil, o.errf("_n_support has %d counts for %d classes", len(nsv), n)
	}
	total := 0
	for _, c := range nsv {
		if c < 0 || c > float64(len(s.sv)) {
			return nil, o.errf("_n_support holds %v", c)
		}
		s.start = append(s.start, total)
		total += int(c)
	}
	if total != len(s.sv) {
		return nil, o.errf("_n_support sums to %d for %d support vectors", total, len(s.sv))
	}
	dc, _, err := matrixRows(o, "_dual_coef_")
	if err != nil {
		return nil, err
	}
	if len(dc) != n-1 {
		return nil, o.errf("_dual_coef_ has %d rows for %d classes", len(dc), n)
	}
	for _, r := range dc {
		full := make([]float64, total)
		for k, j := range r.idx {
			if int(j) >= total {
				return nil, o.errf("_dual_coef_ has a column %d of %d support vectors", j, total)
			}
			full[j] = r.val[k]
		}
		s.coef = append(s.coef, full)
	}
	pairs := n * (n - 1) / 2
	if s.intercept, _, err = o.floats("_intercept_"); err != nil {
		return nil, err
	}
	if len(s.intercept) != pairs {
		return nil, o.errf("_intercept_ has %d values for %d class pairs", len(s.intercept), pairs)
	}
	if p, ok := o.get("probability"); ok && p == true {
		if s.probA, _, err = o.floats("_probA"); err != nil {
			return nil, err
		}
		if s.probB, _, err = o.floats("_probB"); err != nil {
			return nil, err
		}
		if len(s.probA) != pairs || len(s.probB) != pairs {
			return nil, o.errf("_probA/_probB have %d/%d values for %d class pairs", len(s.probA), len(s.probB), pairs)
		}
	}
	return s, nil
}

func (s *svc) nClasses() int       { return s.classes }
func (s *svc) probabilistic() bool { return s.probA != nil }
func (s *svc) nFeatures() int      { return s.nf }
func (s *svc) nDecision() int {
	switch {
	case s.classes == 2:
		return 1
	case s.ovr:
		return s.classes
	}
	return s.classes * (s.classes - 1) / 2
}

// raw computes libsvm's decision values, one per pair i < j (positive
// for i), and returns its voting prediction.
func (s *svc) raw(v *vec, dec []float64) int {
	xx := sqNorm(v)
	kv := make([]float64, len(s.sv))
	for i, r := range s.sv {
		kv[i] = s.k.eval(v, xx, r)
	}
	n := s.classes
	votes := make([]int, n)
	p := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			var sum float64
			c1, c2 := s.coef[j-1], s.coef[i]
			for k := s.start[i]; k < s.start[i]+s.count(i); k++ {
				sum += c1[k] * kv[k]
			}
			for k := s.start[j]; k < s.start[j]+s.count(j); k++ {
				sum += c2[k] * kv[k]
			}
			sum += s.intercept[p]
			dec[p] = sum
			if sum > 0 {
				votes[i]++
			} else {
				votes[j]++
			}
			p++
		}
	}
	best := 0
	for i, c := range votes {
		if c > votes[best] {
			best = i
		}
	}
	return best
}

// count is the number of support vectors of class i.
func (s *svc) count(i int) int {
	if i+1 < len(s.start) {
		return s.start[i+1] - s.start[i]
	}
	return len(s.sv) - s.start[i]
}

func (s *svc) score(v *vec, dec, proba []float64) int {
	n := s.classes
	raw := make([]float64, n*(n-1)/2)
	pred := s.raw(v, raw)
	if proba != nil && s.probA != nil {
		libsvmProba(raw, s.probA, s.probB, n, proba)
	}
	switch {
	case n == 2:
		dec[0] = -raw[0]
	case s.ovr:
		ovrFromPairs(raw, n, dec)
		if s.breakTies {
			pred = argmax(dec[:n])
		}
	default:
		copy(dec, raw)
	}
	return pred
}

// ovrFromPairs is _ovr_decision_function(dec < 0, -dec, n): votes for the
// winner of each pair plus the confidences squashed into (-1/3, 1/3).
func ovrFromPairs(raw []float64, n int, out []float64) {
	conf := make([]float64, n)
	votes := out[:n]
	clear(votes)
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			c := -raw[k]
			conf[i] -= c
			conf[j] += c
			if raw[k] < 0 {
				votes[j]++
			} else {
				votes[i]++
			}
			k++
		}
	}
	for c := range votes {
		votes[c] += conf[c] / (3 * (abs(conf[c]) + 1))
	}
}

// libsvmProba is libsvm's probability estimate from the pairwise decision
// values: each pair's Platt sigmoid, clipped, then coupled into one
// distribution, however many classes there are.
func libsvmProba(raw, a, b []float64, n int, out []float64) {
	const minProb = 1e-7
	r := make([]float64, n*n) // r[i*n+j]: P(i | i or j)
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			p := math.Min(math.Max(plattSigmoid(raw[k], a[k], b[k]), minProb), 1-minProb)
			r[i*n+j], r[j*n+i] = p, 1-p
			k++
		}
	}
	// scikit-learn's libsvm couples two classes too (upstream libsvm
	// returns the one pairwise probability as it is).
	couple(r, n, out)
}

// plattSigmoid is 1 / (1 + exp(dec·A + B)), computed on the side that
// does not overflow.
func plattSigmoid(dec, a, b float64) float64 {
	f := dec*a + b
	if f >= 0 {
		e := math.Exp(-f)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(f))
}

// couple finds the distribution p that best agrees with the pairwise
// probabilities r (method 2 of Wu, Lin and Weng, "Probability estimates
// for multi-class classification by pairwise coupling", 2004): minimise
// pᵀQp over the simplex, where Q[t][t] = Σ_{j≠t} r[j][t]² and
// Q[t][j] = -r[j][t]·r[t][j], by updating one coordinate at a time from
// the uniform distribution, at most max(100, n) sweeps, stopping once
// every |(Qp)[t] - pᵀQp| is below 0.005/n.
func couple(r []float64, n int, p []float64) {
	q := make([]float64, n*n)
	for t := 0; t < n; t++ {
		p[t] = 1 / float64(n)
		for j := 0; j < n; j++ {
			if j == t {
				continue
			}
			q[t*n+t] += r[j*n+t] * r[j*n+t]
			if j > t {
				q[t*n+j] = -r[j*n+t] * r[t*n+j]
				q[j*n+t] = q[t*n+j]
			}
		}
	}
	qp := make([]float64, n)
	eps := 0.005 / float64(n)
	for iter := 0; iter < max(100, n); iter++ {
		var pqp float64
		for t := 0; t < n; t++ {
			qp[t] = 0
			for j := 0; j < n; j++ {
				qp[t] += float64(q[t*n+j] * p[j])
			}
			pqp += float64(p[t] * qp[t])
		}
		worst := 0.0
		for t := 0; t < n; t++ {
			worst = math.Max(worst, math.Abs(qp[t]-pqp))
		}
		if worst < eps {
			break
		}
		for t := 0; t < n; t++ {
			d := (-qp[t] + pqp) / q[t*n+t]
			p[t] += d
			pqp = (pqp + float64(d*(float64(d*q[t*n+t])+2*qp[t]))) / (1 + d) / (1 + d)
			for j := 0; j < n; j++ {
				qp[j] = (qp[j] + float64(d*q[t*n+j])) / (1 + d)
				p[j] /= 1 + d
			}
		}
	}
}

// byIndex sorts a row's entries by column.
type byIndex row

func (r byIndex) Len() int           { return len(r.idx) }
func (r byIndex) Less(i, j int) bool { return r.idx[i] < r.idx[j] }
func (r byIndex) Swap(i, j int) {
	r.idx[i], r.idx[j] = r.idx[j], r.idx[i]
	r.val[i], r.val[j] = r.val[j], r.val[i]
}
