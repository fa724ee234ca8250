package sklearn

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// Decision trees and the forests of them. A fitted tree is its tree_ (a
// sklearn.tree._tree.Tree, pickled through __reduce__ as Tree(n_features,
// n_classes, n_outputs) with a state holding the nodes, a structured array,
// and values). scikit-learn converts X to float32 before walking a tree
// (DTYPE in sklearn/tree/_tree.pyx) and compares that float32 value,
// widened, with the float64 threshold: x <= threshold goes left. A sparse
// row's absent feature is 0. That comparison is reproduced exactly, so a
// leaf is the leaf scikit-learn reaches.

// nodeTree is one Tree: its nodes and each node's values.
type nodeTree struct {
	left, right []int32
	feature     []int32
	threshold   []float64
	value       []float64 // nodes × width
	width       int       // values per node (classes, or 1 for a regressor)
}

// leaf returns the index of the leaf v reaches. Children are checked at
// load to have larger indices than their parent, so the walk ends.
func (t *nodeTree) leaf(v *vec) int {
	n := int32(0)
	for t.left[n] >= 0 {
		x := feature32(v, t.feature[n])
		if float64(x) <= t.threshold[n] {
			n = t.left[n]
		} else {
			n = t.right[n]
		}
	}
	return int(n)
}

// values returns the values of the leaf v reaches.
func (t *nodeTree) values(v *vec) []float64 {
	l := t.leaf(v)
	return t.value[l*t.width : (l+1)*t.width]
}

// feature32 is column j of the row as float32, as scikit-learn's
// check_array(dtype=DTYPE) makes it before a tree reads it.
func feature32(v *vec, j int32) float32 {
	if v.isDense {
		return float32(v.dense[j])
	}
	idx := v.sp.Idx
	k := sort.Search(len(idx), func(i int) bool { return idx[i] >= j })
	if k < len(idx) && idx[k] == j {
		return float32(v.sp.Val[k])
	}
	return 0
}

// treeOf reads the tree_ of estimator o: nf features, width values per
// node (its number of classes; 1 for a regressor).
func treeOf(o obj, nf, width int) (*nodeTree, error) {
	tv, ok := o.get("tree_")
	if !ok {
		return nil, o.errf("missing tree_ (is it fitted?)")
	}
	to, ok := asObj(tv)
	if !ok || to.name() != "Tree" {
		return nil, o.errf("tree_ is %s, want a sklearn.tree._tree.Tree", pickle.Describe(tv))
	}
	if len(to.Args) < 3 {
		return nil, o.errf("tree_ built from %d arguments, want (n_features, n_classes, n_outputs)", len(to.Args))
	}
	if n, ok := to.Args[0].(int64); !ok || int(n) != nf {
		return nil, o.errf("tree_ has %s features, the estimator %d", pickle.Describe(to.Args[0]), nf)
	}
	if n, ok := to.Args[2].(int64); !ok || n != 1 {
		return nil, fmt.Errorf("%w: %s with %s outputs; mlserve serves single-output classification", model.ErrUnsupported, o.name(), pickle.Describe(to.Args[2]))
	}
	nodes, ok := to.get("nodes")
	na, ok2 := nodes.(*numpy.Array)
	if !ok || !ok2 {
		return nil, o.errf("tree_.nodes is %s", pickle.Describe(nodes))
	}
	t := &nodeTree{width: width}
	var err error
	ints := func(name string) ([]int32, error) {
		f, err := na.Field(name)
		if err != nil {
			return nil, o.errf("tree_.nodes: %v", err)
		}
		v, err := f.Int64s()
		if err != nil {
			return nil, o.errf("tree_.nodes[%q]: %v", name, err)
		}
		out := make([]int32, len(v))
		for i, x := range v {
			if x < -2 || x > 1<<31-1 {
				return nil, o.errf("tree_.nodes[%q] holds %d at [%d]", name, x, i)
			}
			out[i] = int32(x)
		}
		return out, nil
	}
	if t.left, err = ints("left_child"); err != nil {
		return nil, err
	}
	if t.right, err = ints("right_child"); err != nil {
		return nil, err
	}
	if t.feature, err = ints("feature"); err != nil {
		return nil, err
	}
	th, err := na.Field("threshold")
	if err != nil {
		return nil, o.errf("tree_.nodes: %v", err)
	}
	if t.threshold, err = th.Float64s(); err != nil {
		return nil, o.errf("tree_.nodes[threshold]: %v", err)
	}
	n := len(t.left)
	if n == 0 || len(t.right) != n || len(t.feature) != n || len(t.threshold) != n {
		return nil, o.errf("tree_.nodes has %d records", n)
	}
	vo := obj{to.Object}
	if t.value, _, err = vo.floats("values"); err != nil {
		return nil, err
	}
	if len(t.value) != n*width {
		return nil, o.errf("tree_.values has %d values for %d nodes of %d", len(t.value), n, width)
	}
	// A split's children come after it (scikit-learn builds depth first),
	// which bounds every walk by the node count; a leaf has both -1.
	for i := 0; i < n; i++ {
		l, r := t.left[i], t.right[i]
		if l == -1 && r == -1 {
			continue
		}
		if l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n {
			return nil, o.errf("tree_ node %d has children %d and %d, want two later nodes of %d", i, l, r, n)
		}
		if f := t.feature[i]; f < 0 || int(f) >= nf {
			return nil, o.errf("tree_ node %d splits on feature %d of %d", i, f, nf)
		}
		if err := o.finite("tree_.threshold", t.threshold[i:i+1], nil, false); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// versionBelow reports whether o was pickled by scikit-learn older than
// major.minor (false when it does not say).
func versionBelow(o obj, major, minor int) bool {
	s, _ := o.str("_sklearn_version", "")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}

// decisionTree is a DecisionTreeClassifier or ExtraTreeClassifier.
type decisionTree struct {
	t       *nodeTree
	classes int
	nf      int
	// normalize: scikit-learn before 1.4 stored weighted counts in the
	// leaves and divided by their sum in predict_proba; 1.4 and later
	// store the fractions and return them as they are.
	normalize bool
}

func (t *translator) decisionTree(o obj, labels []string) (classifier, error) {
	return decisionTreeOf(o, len(labels))
}

func decisionTreeOf(o obj, nclasses int) (*decisionTree, error) {
	nf, err := o.integer("n_features_in_", -1)
	if err != nil {
		return nil, err
	}
	if nf < 0 {
		if nf, err = o.integer("n_features_", -1); err != nil || nf < 0 {
			return nil, o.errf("missing n_features_in_ (is it fitted?)")
		}
	}
	if n, err := o.integer("n_outputs_", 1); err != nil || n != 1 {
		return nil, fmt.Errorf("%w: %s with %d outputs; mlserve serves single-output classification", model.ErrUnsupported, o.name(), n)
	}
	tr, err := treeOf(o, nf, nclasses)
	if err != nil {
		return nil, err
	}
	return &decisionTree{t: tr, classes: nclasses, nf: nf, normalize: versionBelow(o, 1, 4)}, nil
}

func (d *decisionTree) nClasses() int       { return d.classes }
func (d *decisionTree) nDecision() int      { return 0 }
func (d *decisionTree) probabilistic() bool { return true }
func (d *decisionTree) nFeatures() int      { return d.nf }

func (d *decisionTree) score(v *vec, _, proba []float64) int {
	val := d.t.values(v)
	best := argmax(val) // predict: argmax of the leaf's values as stored
	if proba == nil {
		return best
	}
	copy(proba, val)
	if d.normalize {
		var s float64
		for _, p := range proba[:d.classes] {
			s += p
		}
		if s == 0 {
			s = 1
		}
		for k := range proba[:d.classes] {
			proba[k] /= s
		}
	}
	return best
}

// forest is a RandomForestClassifier or ExtraTreesClassifier: the mean of
// its trees' probabilities, summed in estimator order as the forest's
// _accumulate_prediction does with one job.
type forest struct {
	trees   []*decisionTree
	classes int
	nf      int
}

func (t *translator) forest(o obj, labels []string) (classifier, error) {
	v, ok := o.get("estimators_")
	l, ok2 := v.(*pickle.List)
	if !ok || !ok2 || len(l.Items) == 0 {
		return nil, o.errf("estimators_ is %s, want a non-empty list of fitted trees", pickle.Describe(v))
	}
	f := &forest{classes: len(labels)}
	for i, it := range l.Items {
		to, ok := asObj(it)
		if !ok || (to.name() != "DecisionTreeClassifier" && to.name() != "ExtraTreeClassifier") {
			return nil, o.errf("estimators_[%d] is %s, want a tree classifier", i, pickle.Describe(it))
		}
		t.via = "estimators_"
		leave, err := t.enter(to)
		if err != nil {
			return nil, err
		}
		tl, err := to.labels()
		if err == nil && len(tl) != len(labels) {
			err = to.errf("estimators_[%d] has %d classes, the forest %d", i, len(tl), len(labels))
		}
		var d *decisionTree
		if err == nil {
			d, err = decisionTreeOf(to, len(labels))
		}
		leave()
		if err != nil {
			return nil, err
		}
		if i > 0 && d.nf != f.nf {
			return nil, o.errf("estimators_[%d] takes %d features, estimators_[0] %d", i, d.nf, f.nf)
		}
		f.nf = d.nf
		f.trees = append(f.trees, d)
	}
	return f, nil
}

func (f *forest) nClasses() int       { return f.classes }
func (f *forest) nDecision() int      { return 0 }
func (f *forest) probabilistic() bool { return true }
func (f *forest) nFeatures() int      { return f.nf }

func (f *forest) score(v *vec, _, proba []float64) int {
	p := proba[:f.classes]
	clear(p)
	var buf [8]float64
	var tp []float64
	if f.classes > len(buf) {
		tp = make([]float64, f.classes)
	} else {
		tp = buf[:f.classes]
	}
	for _, d := range f.trees {
		d.score(v, nil, tp)
		for k := range p {
			p[k] += tp[k]
		}
	}
	n := float64(len(f.trees))
	for k := range p {
		p[k] /= n
	}
	return argmax(p)
}
