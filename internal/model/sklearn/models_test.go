package sklearn

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// modelCases are the fixtures make_skmodels_fixtures.py writes, each
// named after what it proves; TestModelsParity fails if one is missing.
var modelCases = []string{
	"ovr_lr", "ovr_sgd_binary", "ovr_mnb", "ovo_linsvc", "ovo_mnb_binary",
	"voting_hard_weights", "voting_soft", "stacking_auto", "stacking_passthrough_predict",
	"lrcv", "ridgecv_binary",
	"tree_tfidf", "tree_count_depth_binary", "extratree_svd", "forest_tfidf", "forest_svd_binary", "extratrees_count",
	"gb_tfidf", "gb_svd_binary_subsample", "gb_exponential_zero", "ada_stumps", "ada_tree_binary", "ada_mnb_int", "hgb_svd", "hgb_svd_binary_early",
	"svc_rbf", "svc_linear_ovo_proba", "svc_poly_binary_proba", "svc_sigmoid_svd_ties", "nusvc_rbf_proba",
	"mlp_relu", "mlp_tanh_2layers_binary", "mlp_logistic_svd_int",
	"knn_distance_binary", "knn_brute_svd", "knn_kdtree_svd_int", "centroid", "centroid_binary_priors", "centroid_manhattan_svd",
}

// TestModelsParity loads each meta-estimator, tree, ensemble, kernel and
// neighbour fixture and compares every text's label, probabilities and
// decision values with what scikit-learn computed.
func TestModelsParity(t *testing.T) {
	var texts []string
	readJSON(t, "testdata/texts.json", &texts)
	var exp struct {
		Version string                  `json:"sklearn_version"`
		Cases   map[string]expectedCase `json:"cases"`
	}
	readJSON(t, "testdata/models/expected.json", &exp)
	for _, name := range modelCases {
		t.Run(name, func(t *testing.T) {
			e, ok := exp.Cases[name]
			if !ok {
				t.Fatalf("no expected predictions for %s: rerun make_skmodels_fixtures.py", name)
			}
			m, err := Load(filepath.Join("testdata/models", name+".joblib"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(m.Labels(), "|") != strings.Join(e.Classes, "|") {
				t.Fatalf("labels %q, sklearn %q", m.Labels(), e.Classes)
			}
			if m.Info().Probabilistic != (e.Proba != nil) {
				t.Errorf("probabilistic %v, sklearn has predict_proba %v", m.Info().Probabilistic, e.Proba != nil)
			}
			preds, err := m.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range preds {
				var proba, dec []float64
				if e.Proba != nil {
					proba = e.Proba[i]
				}
				if e.Decision != nil {
					dec = e.Decision[i]
				}
				compare(t, i, texts[i], p, e.Labels[i], proba, dec)
			}
		})
	}
}

// TestKNeighborsSparseParity: on sparse rows scikit-learn takes the k
// nearest through numpy's argpartition, whose choice among rows exactly
// as far as the k-th depends on the CPU (AVX-512 selection or
// introselect); mlserve keeps the earliest such rows, as scikit-learn's
// ArgKmin does on dense rows. Every text without a tie at the k-th
// distance must match exactly, and most texts have none.
func TestKNeighborsSparseParity(t *testing.T) {
	var texts []string
	readJSON(t, "testdata/texts.json", &texts)
	var exp struct {
		Cases map[string]expectedCase `json:"cases"`
	}
	readJSON(t, "testdata/models/expected.json", &exp)
	for _, name := range []string{"knn_uniform", "knn_distance_binary"} {
		t.Run(name, func(t *testing.T) {
			e := exp.Cases[name]
			m, err := Load(filepath.Join("testdata/models", name+".joblib"))
			if err != nil {
				t.Fatal(err)
			}
			kn := m.clf.(*kNeighbors)
			preds, err := m.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			compared := 0
			for i, p := range preds {
				var v vec
				if err := m.feat.featurize(context.Background(), texts[i], &v); err != nil {
					t.Fatal(err)
				}
				xx := sqNorm(&v)
				d := make([]float64, len(kn.fit))
				for j, r := range kn.fit {
					d[j] = kn.dist2(&v, xx, r)
				}
				slices.Sort(d)
				if d[kn.k-1] == d[kn.k] {
					continue // a tie at the k-th distance
				}
				compared++
				compare(t, i, texts[i], p, e.Labels[i], e.Proba[i], nil)
			}
			if compared < len(texts)/3 {
				t.Errorf("only %d of %d texts without a tie at the k-th distance", compared, len(texts))
			}
			t.Logf("%d of %d texts compared", compared, len(texts))
		})
	}
}

// TestHardVotingConfidence: hard voting has neither probabilities nor
// decision values; Info says so and the confidence is 1.
func TestHardVotingConfidence(t *testing.T) {
	m, err := Load("testdata/models/voting_hard_weights.joblib")
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Info().Confidence; !strings.HasPrefix(c, "none:") {
		t.Errorf("confidence text %q", c)
	}
	preds, err := m.Predict(context.Background(), []string{"goal match team"})
	if err != nil {
		t.Fatal(err)
	}
	if p := preds[0]; p.Confidence != 1 || p.Decision != nil || p.Probabilities != nil {
		t.Errorf("prediction %+v", p)
	}
}

// TestMetaRefusals: a meta-estimator whose parts do not fit together is
// refused with an error wrapping the right sentinel and naming the part.
func TestMetaRefusals(t *testing.T) {
	lr := func(classes ...any) *pickle.Object {
		return fakeObj("sklearn.linear_model._logistic", "LogisticRegression", map[string]any{
			"classes_": list(classes...), "coef_": 1.0, "intercept_": 0.0,
		})
	}
	for _, tc := range []struct {
		name string
		o    *pickle.Object
		err  error
		msg  string
	}{
		{"constant predictor", fakeObj("sklearn.multiclass", "OneVsRestClassifier", map[string]any{
			"classes_":    list("a", "b", "c"),
			"estimators_": list(lr(int64(0), int64(1)), fakeObj("sklearn.multiclass", "_ConstantPredictor", nil), lr(int64(0), int64(1))),
		}), model.ErrUnsupported, "_ConstantPredictor"},
		{"ovr count", fakeObj("sklearn.multiclass", "OneVsRestClassifier", map[string]any{
			"classes_":    list("a", "b", "c"),
			"estimators_": list(lr(int64(0), int64(1))),
		}), model.ErrInvalid, "1 estimators_ for 3 classes"},
		{"ovo precomputed", fakeObj("sklearn.multiclass", "OneVsOneClassifier", map[string]any{
			"classes_": list("a", "b"), "pairwise_indices_": list(int64(1)),
		}), model.ErrUnsupported, "precomputed kernel"},
		{"voting kind", fakeObj("sklearn.ensemble._voting", "VotingClassifier", map[string]any{
			"classes_": list("a", "b"), "voting": "loud",
		}), model.ErrInvalid, "voting is \"loud\""},
		{"voting not encoded", fakeObj("sklearn.ensemble._voting", "VotingClassifier", map[string]any{
			"classes_": list("a", "b"), "voting": "hard",
			"estimators_": list(lr("a", "b")),
		}), model.ErrInvalid, "want the encoded 0"},
		{"stacking no final", fakeObj("sklearn.ensemble._stacking", "StackingClassifier", map[string]any{
			"classes_": list("a", "b"), "stack_method_": list("decision_function"),
			"estimators_": list(lr(int64(0), int64(1))),
		}), model.ErrInvalid, "missing final_estimator_"},
		{"stacking method", fakeObj("sklearn.ensemble._stacking", "StackingClassifier", map[string]any{
			"classes_": list("a", "b"), "stack_method_": list("predict_log_proba"),
			"estimators_": list(lr(int64(0), int64(1))),
		}), model.ErrInvalid, "predict_log_proba"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &translator{}
			_, _, err := tr.classifier(tc.o)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.err, tc.msg)
			}
		})
	}
}

// fakeObj builds a decoded estimator of class module.name with the given
// attributes, for refusals no scikit-learn fit writes.
func fakeObj(module, name string, attrs map[string]any) *pickle.Object {
	d := pickle.NewDict(len(attrs))
	for k, v := range attrs {
		if err := d.Set(k, v); err != nil {
			panic(err)
		}
	}
	return &pickle.Object{Class: pickle.Global{Module: module, Name: name}, State: d}
}

// list is a Python list of items.
func list(items ...any) *pickle.List { return &pickle.List{Items: items} }

// TestPairwiseSum checks pairwiseSum against numpy's np.sum bit for bit
// on arrays whose in-order sum differs from numpy's (values from
// numpy 2.4: x[i] = ((i*7919)%113)*1e-3 + (1e8 if i%17==0 else 0.1)/(i+1)).
func TestPairwiseSum(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want float64
	}{
		{5, 0x1.7d78400df92c6p+26},
		{8, 0x1.7d78401b1f4e2p+26},
		{20, 0x1.92a9992ea43b9p+26},
		{131, 0x1.b5be8e0587408p+26},
		{300, 0x1.c8a4d9fd3c902p+26},
	} {
		x := make([]float64, tc.n)
		for i := range x {
			big := 0.1
			if i%17 == 0 {
				big = 1e8
			}
			x[i] = float64((i*7919)%113)*1e-3 + big/float64(i+1)
		}
		if got := pairwiseSum(x); got != tc.want {
			t.Errorf("n=%d: %x, numpy %x", tc.n, got, tc.want)
		}
	}
}

// FuzzLoadModels feeds mutated meta-estimator, tree, ensemble, kernel and
// neighbour files (seeded uncompressed, so that mutations reach the
// estimators rather than the zlib stream): loading may fail, never panic
// nor hang, and a model that loads must predict.
func FuzzLoadModels(f *testing.F) {
	files, _ := filepath.Glob("testdata/models/*.joblib")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			f.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			f.Fatal(err)
		}
		if len(raw) < 40000 {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		preds, err := m.Predict(context.Background(), []string{"goal café server", ""})
		if err == nil && len(preds) != 2 {
			t.Fatalf("%d predictions", len(preds))
		}
	})
}

// TestTreeRefusals corrupts a real tree's node records and checks each
// corruption is refused with model.ErrInvalid naming it, rather than
// walked: a child that is not after its parent (a loop), a feature out of
// range, a NaN threshold.
func TestTreeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string
		value uint64
		want  string
	}{
		{"loop", "left_child", 0, "want two later nodes"},
		{"child past the end", "right_child", 1 << 40, "holds"},
		{"feature out of range", "feature", 1 << 20, "splits on feature"},
		{"NaN threshold", "threshold", math.Float64bits(math.NaN()), "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open("testdata/models/tree_tfidf.joblib")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v, err := decode(f)
			if err != nil {
				t.Fatal(err)
			}
			steps, err := pipelineSteps(obj{v.(*pickle.Object)})
			if err != nil {
				t.Fatal(err)
			}
			tree := obj{steps[1].(*pickle.Object)}
			ts, _ := tree.get("tree_")
			nodes, _ := obj{ts.(*pickle.Object)}.get("nodes")
			na := nodes.(*numpy.Array)
			var off int
			for _, fd := range na.Dtype.Fields() {
				if fd.Name == tc.field {
					off = fd.Offset
				}
			}
			binary.LittleEndian.PutUint64(na.Raw()[off:], tc.value) // node 0, a split
			_, err = decisionTreeOf(tree, 3)
			if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

// TestModelRefusals: a tree, kernel or neighbour model configured in a way
// mlserve does not serve is refused with model.ErrUnsupported, naming the
// setting and what is served instead.
func TestModelRefusals(t *testing.T) {
	ab := list("a", "b")
	for _, tc := range []struct {
		name string
		o    *pickle.Object
		want string
	}{
		{"svc precomputed", fakeObj("sklearn.svm._classes", "SVC", map[string]any{"classes_": ab, "kernel": "precomputed"}), "precomputed"},
		{"svc callable", fakeObj("sklearn.svm._classes", "SVC", map[string]any{"classes_": ab, "kernel": pickle.Global{Module: "__main__", Name: "k"}}), "callable kernel"},
		// SAMME.R is served (the release fixtures hold it, 1.0 to 1.5); an algorithm no release has is refused by name
		{"adaboost unknown algorithm", fakeObj("sklearn.ensemble._weight_boosting", "AdaBoostClassifier", map[string]any{"classes_": ab, "algorithm": "SAMME.X"}), "SAMME.X"},
		{"knn cosine", fakeObj("sklearn.neighbors._classification", "KNeighborsClassifier", map[string]any{"classes_": ab, "effective_metric_": "cosine"}), "cosine"},
		{"gb init", fakeObj("sklearn.ensemble._gb", "GradientBoostingClassifier", map[string]any{"classes_": ab, "n_features_in_": int64(3),
			"learning_rate": 0.1, "init_": fakeObj("sklearn.linear_model._logistic", "LogisticRegression", nil)}), "init_"},
		{"gb huber", fakeObj("sklearn.ensemble._gb", "GradientBoostingClassifier", map[string]any{"classes_": ab, "n_features_in_": int64(3), "loss": "huber"}), "huber"},
		{"mlp multilabel", fakeObj("sklearn.neural_network._multilayer_perceptron", "MLPClassifier", map[string]any{"classes_": list("a", "b", "c"),
			"out_activation_": "logistic"}), "multilabel"},
		{"hgb categorical", fakeObj("sklearn.ensemble._hist_gradient_boosting.gradient_boosting", "HistGradientBoostingClassifier", map[string]any{
			"classes_": ab, "n_features_in_": int64(3), "_preprocessor": fakeObj("sklearn.compose._column_transformer", "ColumnTransformer", nil)}), "categorical"},
		{"centroid cosine", fakeObj("sklearn.neighbors._nearest_centroid", "NearestCentroid", map[string]any{"classes_": ab, "metric": "cosine",
			"centroids_": mustArray(t, []float64{1, 0, 0, 1}, 2, 2)}), "cosine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := (&translator{}).classifier(tc.o)
			if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrUnsupported containing %q", err, tc.want)
			}
		})
	}
}

// mustArray is a float64 numpy array of the given shape.
func mustArray(t *testing.T, vals []float64, shape ...int) *numpy.Array {
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
	}
	a, err := numpy.NewArray(numpy.Dtype{Kind: 'f', ItemSize: 8, Order: '<'}, shape, false, raw)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
