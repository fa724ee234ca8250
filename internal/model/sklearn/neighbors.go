package sklearn

import (
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

// MLPClassifier, KNeighborsClassifier and NearestCentroid.

// mlp is MLPClassifier's _forward_pass_fast: each layer X·W + b, the
// hidden activation between layers, softmax (or, for two classes, the
// logistic) at the output; predict thresholds the binary output at 0.5.
type mlp struct {
	w       [][]float64 // per layer, in × out row-major
	b       [][]float64
	sizes   []int // layer widths, input first
	act     string
	classes int
}

func (t *translator) mlp(o obj, labels []string) (classifier, error) {
	m := &mlp{classes: len(labels)}
	var err error
	if m.act, err = o.str("activation", "relu"); err != nil {
		return nil, err
	}
	switch m.act {
	case "relu", "tanh", "logistic", "identity":
	default:
		return nil, o.errf("activation %q", m.act)
	}
	out, err := o.str("out_activation_", "")
	if err != nil {
		return nil, err
	}
	if (len(labels) == 2) != (out == "logistic") || (len(labels) > 2 && out != "softmax") {
		return nil, fmt.Errorf("%w: MLPClassifier with out_activation_ %q for %d classes (a multilabel fit); mlserve serves single-label classification",
			model.ErrUnsupported, out, len(labels))
	}
	cv, _ := o.get("coefs_")
	iv, _ := o.get("intercepts_")
	cl, ok1 := cv.(*pickle.List)
	il, ok2 := iv.(*pickle.List)
	if !ok1 || !ok2 || len(cl.Items) == 0 || len(cl.Items) != len(il.Items) {
		return nil, o.errf("coefs_ is %s and intercepts_ %s, want lists of one array per layer", pickle.Describe(cv), pickle.Describe(iv))
	}
	for i := range cl.Items {
		l := obj{&pickle.Object{Class: o.Class, State: layerState(cl.Items[i], il.Items[i])}}
		w, shape, err := l.floats("coef")
		if err != nil {
			return nil, o.errf("coefs_[%d]: %v", i, err)
		}
		b, _, err := l.floats("intercept")
		if err != nil {
			return nil, o.errf("intercepts_[%d]: %v", i, err)
		}
		if len(shape) != 2 || len(b) != shape[1] || (i > 0 && shape[0] != m.sizes[i]) {
			return nil, o.errf("layer %d: coefs_ of shape %v, intercepts_ of %d", i, shape, len(b))
		}
		if i == 0 {
			m.sizes = append(m.sizes, shape[0])
		}
		m.sizes = append(m.sizes, shape[1])
		m.w = append(m.w, w)
		m.b = append(m.b, b)
	}
	want := len(labels)
	if want == 2 {
		want = 1
	}
	if m.sizes[len(m.sizes)-1] != want {
		return nil, o.errf("output layer of %d units for %d classes", m.sizes[len(m.sizes)-1], len(labels))
	}
	return m, nil
}

// layerState wraps one layer's arrays so obj.floats can read and check them.
func layerState(w, b any) *pickle.Dict {
	d := pickle.NewDict(2)
	_ = d.Set("coef", w)
	_ = d.Set("intercept", b)
	return d
}

func (m *mlp) nClasses() int       { return m.classes }
func (m *mlp) nDecision() int      { return 0 }
func (m *mlp) probabilistic() bool { return true }
func (m *mlp) nFeatures() int      { return m.sizes[0] }

func (m *mlp) score(v *vec, _, proba []float64) int {
	var a []float64
	for l := range m.w {
		in, out := m.sizes[l], m.sizes[l+1]
		w, z := m.w[l], make([]float64, out)
		switch {
		case l > 0:
			for i, x := range a {
				for c := 0; c < out; c++ {
					z[c] += float64(x * w[i*out+c])
				}
			}
		case v.isDense:
			for i, x := range v.dense[:in] {
				for c := 0; c < out; c++ {
					z[c] += float64(x * w[i*out+c])
				}
			}
		default:
			for k, i := range v.sp.Idx {
				x := v.sp.Val[k]
				for c := 0; c < out; c++ {
					z[c] += float64(x * w[int(i)*out+c])
				}
			}
		}
		for c := range z {
			z[c] += m.b[l][c]
		}
		if l < len(m.w)-1 {
			activate(m.act, z)
		}
		a = z
	}
	if len(a) == 1 {
		p := expit(a[0])
		if proba != nil {
			proba[0], proba[1] = 1-p, p
		}
		if p > 0.5 {
			return 1
		}
		return 0
	}
	softmax(a)
	copy(proba, a)
	return argmax(a)
}

func activate(kind string, z []float64) {
	for i, x := range z {
		switch kind {
		case "relu":
			z[i] = math.Max(x, 0)
		case "tanh":
			z[i] = math.Tanh(x)
		case "logistic":
			z[i] = expit(x)
		}
	}
}

// kNeighbors is KNeighborsClassifier by brute force over the stored
// training rows (_fit_X), whatever index the file carries: the k nearest
// by euclidean distance, kept in a max-heap pushed in row order exactly
// as scikit-learn's ArgKmin keeps them, so that among equally distant
// rows (an empty text is equally far from every normalised row) the same
// ones are kept.
// A brute-force fit measures ‖x‖² - 2x·y + ‖y‖² as scikit-learn's ArgKmin
// does; a KD or ball tree fit measures Σ(x-y)² as the tree's metric does.
// Probabilities are the neighbours' (uniform or 1/distance) weights per
// class over their sum; a neighbour at distance 0 takes all the weight.
type kNeighbors struct {
	fit      []row
	y        []int
	k        int
	distance bool // weights='distance'
	direct   bool // Σ(x-y)² (tree fits) rather than the expansion
	classes  int
	nf       int
}

func (t *translator) kNeighbors(o obj, labels []string) (classifier, error) {
	kn := &kNeighbors{classes: len(labels)}
	var err error
	metric, err := o.str("effective_metric_", "euclidean")
	if err != nil {
		return nil, err
	}
	if metric != "euclidean" {
		return nil, fmt.Errorf("%w: KNeighborsClassifier with metric %q; mlserve serves the euclidean distance (metric='minkowski' with p=2, the default)",
			model.ErrUnsupported, metric)
	}
	w, err := o.str("weights", "uniform")
	if err != nil {
		return nil, fmt.Errorf("%w: KNeighborsClassifier with a weights function; mlserve serves 'uniform' and 'distance'", model.ErrUnsupported)
	}
	switch w {
	case "uniform":
	case "distance":
		kn.distance = true
	default:
		return nil, o.errf("weights is %q", w)
	}
	if b, _ := o.boolean("outputs_2d_", false); b {
		return nil, fmt.Errorf("%w: KNeighborsClassifier fitted on several outputs; mlserve serves single-output classification", model.ErrUnsupported)
	}
	if kn.k, err = o.integer("n_neighbors", 5); err != nil {
		return nil, err
	}
	method, err := o.str("_fit_method", "brute")
	if err != nil {
		return nil, err
	}
	kn.direct = method != "brute"
	if kn.fit, kn.nf, err = matrixRows(o, "_fit_X"); err != nil {
		return nil, err
	}
	if kn.k < 1 || kn.k > len(kn.fit) {
		return nil, o.errf("n_neighbors is %d for %d training rows", kn.k, len(kn.fit))
	}
	ys, _, err := o.floats("_y")
	if err != nil {
		return nil, err
	}
	if len(ys) != len(kn.fit) {
		return nil, o.errf("_y has %d labels for %d training rows", len(ys), len(kn.fit))
	}
	for i, y := range ys {
		if y < 0 || int(y) >= len(labels) || y != math.Trunc(y) {
			return nil, o.errf("_y[%d] is %v, not a class index below %d", i, y, len(labels))
		}
		kn.y = append(kn.y, int(y))
	}
	return kn, nil
}

func (kn *kNeighbors) nClasses() int       { return kn.classes }
func (kn *kNeighbors) nDecision() int      { return 0 }
func (kn *kNeighbors) probabilistic() bool { return true }
func (kn *kNeighbors) nFeatures() int      { return kn.nf }

// dist2 is the squared distance from v (v·v = xx) to r.
func (kn *kNeighbors) dist2(v *vec, xx float64, r row) float64 {
	if !kn.direct {
		return math.Max((xx+(-2*dotRow(v, r)))+r.sq, 0)
	}
	var s float64
	if v.isDense {
		k := 0
		for j, x := range v.dense {
			y := 0.0
			if k < len(r.idx) && int(r.idx[k]) == j {
				y = r.val[k]
				k++
			}
			d := x - y
			s += d * d
		}
		return s
	}
	return math.Max((xx+(-2*dotRow(v, r)))+r.sq, 0)
}

func (kn *kNeighbors) score(v *vec, _, proba []float64) int {
	xx := sqNorm(v)
	d := make([]float64, len(kn.fit))
	hv := make([]float64, kn.k)
	best := make([]int, kn.k)
	for i := range hv {
		hv[i], best[i] = math.MaxFloat64, -1
	}
	for i, r := range kn.fit {
		d[i] = kn.dist2(v, xx, r)
		heapPush(hv, best, d[i], i)
	}
	p := proba[:kn.classes]
	clear(p)
	zero := false
	if kn.distance {
		for _, i := range best {
			zero = zero || d[i] == 0
		}
	}
	for _, i := range best {
		w := 1.0
		switch {
		case !kn.distance:
		case zero && d[i] == 0:
		case zero:
			w = 0
		default:
			w = 1 / math.Sqrt(d[i])
		}
		p[kn.y[i]] += w
	}
	var s float64
	for _, x := range p {
		s += x
	}
	if s == 0 {
		s = 1
	}
	top := argmax(p)
	for c := range p {
		p[c] /= s
	}
	return top
}

// nearestCentroid is NearestCentroid: the class of the nearest centroid
// (euclidean or manhattan); with scikit-learn ≥ 1.5's discriminant
// (euclidean), decision values -‖x/σ - c/σ‖² + 2·log(prior) over the
// features whose within-class deviation σ is not 0, probabilities their
// softmax, and, unless the priors are uniform, the class of the largest.
type nearestCentroid struct {
	c         [][]float64 // classes × nf
	manhattan bool
	// discriminant: within_class_std_dev_ and class_prior_ are present.
	discriminant bool
	uniform      bool
	std          []float64
	cn           [][]float64 // centroids divided by std where std != 0
	cnSq         []float64
	logPrior     []float64
	classes      int
	nf           int
}

func (t *translator) nearestCentroid(o obj, labels []string) (classifier, error) {
	n := len(labels)
	c, shape, err := o.floats("centroids_")
	if err != nil {
		return nil, err
	}
	if len(shape) != 2 || shape[0] != n {
		return nil, o.errf("centroids_ has shape %v for %d classes", shape, n)
	}
	nc := &nearestCentroid{classes: n, nf: shape[1]}
	for k := 0; k < n; k++ {
		nc.c = append(nc.c, c[k*nc.nf:(k+1)*nc.nf])
	}
	metric, err := o.str("metric", "euclidean")
	if err != nil {
		return nil, fmt.Errorf("%w: NearestCentroid with a metric function; mlserve serves 'euclidean' and 'manhattan'", model.ErrUnsupported)
	}
	switch metric {
	case "euclidean":
	case "manhattan":
		nc.manhattan = true
	default:
		return nil, fmt.Errorf("%w: NearestCentroid metric %q; mlserve serves 'euclidean' and 'manhattan'", model.ErrUnsupported, metric)
	}
	_, hasStd := o.get("within_class_std_dev_")
	_, hasPrior := o.get("class_prior_")
	if !hasStd || !hasPrior {
		return nc, nil // before 1.5: predict only
	}
	prior, _, err := o.floats("class_prior_")
	if err != nil {
		return nil, err
	}
	if len(prior) != n {
		return nil, o.errf("class_prior_ has %d values for %d classes", len(prior), n)
	}
	nc.uniform = true
	for _, p := range prior {
		// np.isclose(p, 1/n): |p - 1/n| <= 1e-8 + 1e-5·(1/n)
		if math.Abs(p-1/float64(n)) > 1e-8+1e-5/float64(n) {
			nc.uniform = false
		}
		nc.logPrior = append(nc.logPrior, 2*math.Log(p))
	}
	if nc.manhattan {
		if !nc.uniform {
			return nil, fmt.Errorf("%w: NearestCentroid with metric 'manhattan' and non-uniform priors", model.ErrUnsupported)
		}
		return nc, nil
	}
	if nc.std, _, err = o.floats("within_class_std_dev_"); err != nil {
		return nil, err
	}
	if len(nc.std) != nc.nf {
		return nil, o.errf("within_class_std_dev_ has %d values for %d features", len(nc.std), nc.nf)
	}
	nc.discriminant = true
	for k := 0; k < n; k++ {
		r := make([]float64, nc.nf)
		var sq float64
		for j, x := range nc.c[k] {
			if nc.std[j] != 0 {
				x /= nc.std[j]
			}
			r[j] = x
			sq += x * x
		}
		nc.cn = append(nc.cn, r)
		nc.cnSq = append(nc.cnSq, sq)
	}
	return nc, nil
}

func (nc *nearestCentroid) nClasses() int       { return nc.classes }
func (nc *nearestCentroid) probabilistic() bool { return nc.discriminant }
func (nc *nearestCentroid) nFeatures() int      { return nc.nf }
func (nc *nearestCentroid) nDecision() int {
	switch {
	case !nc.discriminant:
		return 0
	case nc.classes == 2:
		return 1
	}
	return nc.classes
}

func (nc *nearestCentroid) score(v *vec, dec, proba []float64) int {
	pred := -1
	if !nc.discriminant || nc.uniform {
		xx := sqNorm(v)
		bestD := math.Inf(1)
		for k, c := range nc.c {
			var d float64
			if nc.manhattan {
				d = manhattan(v, c)
			} else {
				d = math.Max((xx+(-2*dotDenseRow(v, c)))+sqDense(c), 0)
			}
			if d < bestD {
				pred, bestD = k, d
			}
		}
		if !nc.discriminant {
			return pred
		}
	}
	// The row scaled by the deviations, as _decision_function copies it.
	var xs vec
	if v.isDense {
		xs.dense, xs.isDense = make([]float64, len(v.dense)), true
		for j, x := range v.dense {
			if nc.std[j] != 0 {
				x /= nc.std[j]
			}
			xs.dense[j] = x
		}
	} else {
		// scipy divides a sparse matrix by a dense array as a product with
		// its reciprocal (X[:, mask] /= s is X[:, mask] * (1/s)), which
		// differs from x/s in the last bit; after a wide standardisation
		// the distances are large enough for that bit to pass 1e-9.
		xs.sp.Idx = v.sp.Idx
		xs.sp.Val = make([]float64, len(v.sp.Val))
		for k, j := range v.sp.Idx {
			x := v.sp.Val[k]
			if nc.std[j] != 0 {
				x *= 1 / nc.std[j]
			}
			xs.sp.Val[k] = x
		}
	}
	xx := sqNorm(&xs)
	scores := make([]float64, nc.classes)
	for k, c := range nc.cn {
		d := math.Sqrt(math.Max((xx+(-2*dotDenseRow(&xs, c)))+nc.cnSq[k], 0))
		scores[k] = -(d * d) + nc.logPrior[k]
	}
	if nc.classes == 2 {
		dec[0] = scores[1] - scores[0]
	} else {
		copy(dec, scores)
	}
	if proba != nil {
		m := scores[argmax(scores)]
		var s float64
		for k, x := range scores {
			proba[k] = x - m
			s += math.Exp(proba[k])
		}
		ls := math.Log(s)
		for k := range scores {
			proba[k] = math.Exp(proba[k] - ls)
		}
	}
	if pred < 0 {
		pred = argmax(scores)
	}
	return pred
}

// dotDenseRow is v · c for a dense c of the row's width.
func dotDenseRow(v *vec, c []float64) float64 {
	if v.isDense {
		var s float64
		for j, x := range v.dense {
			s += x * c[j]
		}
		return s
	}
	var s float64
	for k, j := range v.sp.Idx {
		s += v.sp.Val[k] * c[j]
	}
	return s
}

func sqDense(c []float64) float64 {
	var s float64
	for _, x := range c {
		s += x * x
	}
	return s
}

// manhattan is Σ|x - c|.
func manhattan(v *vec, c []float64) float64 {
	var s float64
	if v.isDense {
		for j, x := range v.dense {
			s += math.Abs(x - c[j])
		}
		return s
	}
	k := 0
	for j, y := range c {
		x := 0.0
		if k < len(v.sp.Idx) && int(v.sp.Idx[k]) == j {
			x = v.sp.Val[k]
			k++
		}
		s += math.Abs(x - y)
	}
	return s
}

// heapPush offers (val, idx) to the fixed-size max-heap (values, indices):
// ignored unless below the root, else it takes the root's place and sinks
// (scikit-learn's utils/_heap.pyx heap_push, whose tie rules decide which
// of equally distant rows are kept).
func heapPush(values []float64, indices []int, val float64, idx int) {
	if val >= values[0] {
		return
	}
	n := len(values)
	cur := 0
	for {
		l := 2*cur + 1
		r := l + 1
		var sw int
		switch {
		case l >= n:
			values[cur], indices[cur] = val, idx
			return
		case r >= n:
			if !(values[l] > val) {
				values[cur], indices[cur] = val, idx
				return
			}
			sw = l
		case values[l] >= values[r]:
			if !(val < values[l]) {
				values[cur], indices[cur] = val, idx
				return
			}
			sw = l
		default:
			if !(val < values[r]) {
				values[cur], indices[cur] = val, idx
				return
			}
			sw = r
		}
		values[cur], indices[cur] = values[sw], indices[sw]
		cur = sw
	}
}
