package sklearn

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// Feature importances of tree models, for SelectFromModel over a tree, a
// forest or a boosting ensemble: scikit-learn does not store them but
// computes them from the trees whenever the selector's mask is asked for,
// so they are recomputed here in scikit-learn's order of operations (a
// feature near the selector's threshold must land on the same side):
// Tree.compute_feature_importances walks the nodes in index order adding
// each split's weighted impurity decrease, divides by the root's weight and
// (normalized) by the pairwise sum; a forest averages its non-trivial trees
// (np.mean over axis 0: tree by tree, in order) and divides by the sum;
// gradient boosting averages its trees' unnormalized importances the same
// way; AdaBoost weights each estimator's by its estimator weight.

// treeImportances is Tree.compute_feature_importances(normalize) of the
// tree_ of estimator o (nf features); trivial reports a tree of one node,
// which a forest leaves out.
func treeImportances(o obj, nf int, normalize bool) (imp []float64, trivial bool, err error) {
	tv, _ := o.get("tree_")
	to, ok := asObj(tv)
	if !ok || to.name() != "Tree" {
		return nil, false, o.errf("tree_ is %s, want a sklearn.tree._tree.Tree", pickle.Describe(tv))
	}
	nodes, _ := to.get("nodes")
	na, ok := nodes.(*numpy.Array)
	if !ok {
		return nil, false, o.errf("tree_.nodes is %s", pickle.Describe(nodes))
	}
	field := func(name string) (*numpy.Array, error) {
		f, err := na.Field(name)
		if err != nil {
			return nil, o.errf("tree_.nodes: %v", err)
		}
		return f, nil
	}
	var left, right, feature []int64
	var impurity, weight []float64
	for _, c := range []struct {
		name string
		dst  *[]int64
	}{{"left_child", &left}, {"right_child", &right}, {"feature", &feature}} {
		f, err := field(c.name)
		if err != nil {
			return nil, false, err
		}
		if *c.dst, err = f.Int64s(); err != nil {
			return nil, false, o.errf("tree_.nodes[%q]: %v", c.name, err)
		}
	}
	for _, c := range []struct {
		name string
		dst  *[]float64
	}{{"impurity", &impurity}, {"weighted_n_node_samples", &weight}} {
		f, err := field(c.name)
		if err != nil {
			return nil, false, err
		}
		if *c.dst, err = f.Float64s(); err != nil {
			return nil, false, o.errf("tree_.nodes[%q]: %v", c.name, err)
		}
	}
	n := len(left)
	if n == 0 || len(right) != n || len(feature) != n || len(impurity) != n || len(weight) != n {
		return nil, false, o.errf("tree_.nodes has %d records", n)
	}
	imp = make([]float64, nf)
	for i := range n {
		l, r := left[i], right[i]
		if l == -1 { // _TREE_LEAF
			continue
		}
		if l <= int64(i) || r <= int64(i) || l >= int64(n) || r >= int64(n) || feature[i] < 0 || feature[i] >= int64(nf) {
			return nil, false, o.errf("tree_ node %d: children %d, %d, feature %d of %d nodes and %d features", i, l, r, feature[i], n, nf)
		}
		imp[feature[i]] += weight[i]*impurity[i] - weight[l]*impurity[l] - weight[r]*impurity[r]
	}
	for j := range imp {
		imp[j] /= weight[0]
	}
	if normalize {
		if s := pairwiseSum(imp); s > 0 {
			for j := range imp {
				imp[j] /= s
			}
		}
	}
	return imp, n <= 1, nil
}

// featureImportances is the feature_importances_ property of the fitted
// tree model est over nf features; ok is false for a model that has none
// mlserve computes.
func featureImportances(est obj, nf int) (imp []float64, ok bool, err error) {
	switch est.name() {
	case "DecisionTreeClassifier", "ExtraTreeClassifier":
		imp, _, err = treeImportances(est, nf, true)
		return imp, true, err
	case "RandomForestClassifier", "ExtraTreesClassifier":
		l, isList := mustGet(est, "estimators_").(*pickle.List)
		if !isList || len(l.Items) == 0 {
			return nil, true, est.errf("estimators_ is %s", pickle.Describe(mustGet(est, "estimators_")))
		}
		trees := make([]obj, len(l.Items))
		for i, it := range l.Items {
			if trees[i], ok = asObj(it); !ok {
				return nil, true, est.errf("estimators_[%d] is %s", i, pickle.Describe(it))
			}
		}
		imp, err = meanImportances(trees, nf, true)
		return imp, true, err
	case "GradientBoostingClassifier":
		ea, isArr := mustGet(est, "estimators_").(*numpy.Array)
		if !isArr || ea.Dtype.Kind != 'O' {
			return nil, true, est.errf("estimators_ is %s", pickle.Describe(mustGet(est, "estimators_")))
		}
		items, err := ea.Values()
		if err != nil {
			return nil, true, est.errf("estimators_: %v", err)
		}
		trees := make([]obj, len(items))
		for i, it := range items {
			if trees[i], ok = asObj(it); !ok {
				return nil, true, est.errf("estimators_ holds %s", pickle.Describe(it))
			}
		}
		imp, err = meanImportances(trees, nf, false)
		return imp, true, err
	}
	return nil, false, nil
}

// meanImportances is a forest's (normalize: each tree's normalized) or
// gradient boosting's (unnormalized) importances: np.mean over the trees
// with more than one node, tree by tree, then divided by their pairwise
// sum; all zeros when every tree is a single node.
func meanImportances(trees []obj, nf int, normalize bool) ([]float64, error) {
	sum := make([]float64, nf)
	count := 0
	for _, tr := range trees {
		imp, trivial, err := treeImportances(tr, nf, normalize)
		if err != nil {
			return nil, err
		}
		if trivial {
			continue
		}
		for j, v := range imp {
			sum[j] += v
		}
		count++
	}
	if count == 0 {
		return sum, nil
	}
	for j := range sum {
		sum[j] /= float64(count)
	}
	s := pairwiseSum(sum)
	for j := range sum {
		sum[j] /= s
	}
	return sum, nil
}

// errNoImportances refuses SelectFromModel over an estimator whose
// importances mlserve does not compute.
func errNoImportances(est obj) error {
	return fmt.Errorf("%w: SelectFromModel over %s, whose feature_importances_ scikit-learn computes at predict time; "+
		"mlserve computes them for decision trees, random and extra-trees forests and gradient boosting, and applies any model with coef_ (or use SelectKBest)",
		model.ErrUnsupported, est.name())
}
