package sklearn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
)

// ErrInput means the vectors given to VectorModel.PredictVectors do not fit
// the model: the wrong width, a slice of the wrong length, or a value that
// is NaN or infinite (which scikit-learn refuses too).
var ErrInput = errors.New("invalid input vectors")

// VectorModel is a scikit-learn classifier applied to dense feature vectors
// (for instance sentence embeddings from an ONNX encoder): a bare
// classifier, or a Pipeline of dense transformers (StandardScaler,
// Normalizer, TruncatedSVD, PCA) ending in one. It is safe for concurrent
// use.
type VectorModel struct {
	steps  []rowStep
	clf    classifier
	labels []string
	dim    int
	info   model.Info
	pool   sync.Pool // *work
}

// LoadVectors reads a scikit-learn estimator that takes dense vectors from a
// .pkl or .joblib file (any compression joblib writes) and translates it. A
// text pipeline (one that starts with a vectorizer) is refused with an error
// wrapping model.ErrUnsupported that says to use Load.
func LoadVectors(path string) (*VectorModel, error) {
	return LoadVectorsContext(context.Background(), path, Options{})
}

// LoadVectorsContext is LoadVectors within the budget of opts (see
// LoadContext), stopped when ctx is done.
func LoadVectorsContext(ctx context.Context, path string, opts Options) (*VectorModel, error) {
	return fromFile(ctx, path, opts, translateVectors)
}

// LoadVectorsReader is LoadVectors from a stream.
func LoadVectorsReader(r io.Reader) (*VectorModel, error) {
	return fromReader(context.Background(), r, Options{}, translateVectors)
}

func translateVectors(v any) (*VectorModel, error) {
	t := &translator{}
	steps, clf, labels, first, err := t.vectorTop(v)
	if err != nil {
		return nil, err
	}
	if len(labels) < 2 {
		return nil, fmt.Errorf("%w: %d classes", model.ErrUnsupported, len(labels))
	}
	dim := inputWidth(steps, clf)
	if dim < 1 {
		return nil, fmt.Errorf("%w: the estimator takes %d features", model.ErrInvalid, dim)
	}
	if n, ok := first.get("n_features_in_"); ok {
		if k, ok := n.(int64); ok && int(k) != dim {
			return nil, first.errf("n_features_in_ is %d, the fitted attributes say %d", k, dim)
		}
	}
	w := dim
	for _, s := range steps {
		if err := s.check(w); err != nil {
			return nil, fmt.Errorf("%w: %w", model.ErrInvalid, err)
		}
		w = s.width(w)
	}
	if w != clf.nFeatures() {
		return nil, fmt.Errorf("%w: the classifier expects %d features, the transformers give %d", model.ErrInvalid, clf.nFeatures(), w)
	}
	m := &VectorModel{steps: steps, clf: clf, labels: labels, dim: dim}
	m.info = model.Info{
		Framework:     "sklearn",
		Estimator:     t.chain,
		Probabilistic: clf.probabilistic(),
		Confidence:    confidenceText(clf),
		Features:      map[string]any{"input_features": dim, "n_classes": len(labels)},
	}
	if o, ok := asObj(v); ok {
		m.info.LibraryVersion, _ = o.str("_sklearn_version", "")
	}
	m.pool.New = func() any { return newWork(clf, len(labels)) }
	return m, nil
}

// vectorTop translates the outermost estimator of a vector model; first is
// the estimator that receives the input (for its n_features_in_).
func (t *translator) vectorTop(v any) ([]rowStep, classifier, []string, obj, error) {
	o, ok := asObj(v)
	if !ok {
		return nil, nil, nil, obj{}, unsupported(v)
	}
	switch o.name() {
	case "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV", "Pipeline":
		leave, err := t.enter(o)
		if err != nil {
			return nil, nil, nil, o, err
		}
		defer leave()
	}
	switch o.name() {
	case "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV":
		t.chain = append(t.chain, o.name())
		if r, ok := o.get("refit"); ok && r == false {
			return nil, nil, nil, o, fmt.Errorf("%w: %s with refit=False has no best_estimator_ to serve", model.ErrUnsupported, o.name())
		}
		best, ok := o.get("best_estimator_")
		if !ok {
			return nil, nil, nil, o, o.errf("missing best_estimator_")
		}
		t.via = "best_estimator_"
		return t.vectorTop(best)
	case "Pipeline":
		t.chain = append(t.chain, o.name())
		items, err := pipelineSteps(o)
		if err != nil {
			return nil, nil, nil, o, err
		}
		if len(items) == 0 {
			return nil, nil, nil, o, o.errf("empty pipeline")
		}
		first, _ := asObj(items[0])
		var steps []rowStep
		for _, it := range items[:len(items)-1] {
			if so, ok := asObj(it); ok && textStep(so.name()) {
				return nil, nil, nil, o, textModelError(so.name())
			}
			if so, ok := asObj(it); ok && so.name() == "TfidfTransformer" {
				return nil, nil, nil, o, fmt.Errorf("%w: TfidfTransformer weighs term counts; on dense vectors it is not supported "+
					"(dense transformers: StandardScaler, Normalizer, TruncatedSVD, PCA)", model.ErrUnsupported)
			}
			t.via = "steps"
			s, err := t.rowStep(it)
			if err != nil {
				return nil, nil, nil, o, err
			}
			steps = append(steps, s)
		}
		t.via = "steps"
		c, labels, err := t.vectorClassifier(items[len(items)-1])
		return steps, c, labels, first, err
	}
	c, labels, err := t.vectorClassifier(v)
	return nil, c, labels, o, err
}

func (t *translator) vectorClassifier(v any) (classifier, []string, error) {
	if o, ok := asObj(v); ok && textStep(o.name()) {
		return nil, nil, textModelError(o.name())
	}
	if o, ok := asObj(v); ok && vectorStep(o.name()) {
		return nil, nil, fmt.Errorf("%w: the estimator ends with %s, a transformer: the last step must be a classifier",
			model.ErrUnsupported, o.name())
	}
	return t.classifier(v)
}

// textStep says whether an estimator takes text.
func textStep(name string) bool {
	switch name {
	case "CountVectorizer", "TfidfVectorizer", "HashingVectorizer", "FeatureUnion":
		return true
	}
	return false
}

// vectorStep says whether an estimator is a transformer of dense vectors
// that a vector model may start with.
func vectorStep(name string) bool {
	switch name {
	case "StandardScaler", "Normalizer", "TruncatedSVD", "PCA":
		return true
	}
	return false
}

func textModelError(step string) error {
	return fmt.Errorf("%w: the estimator takes text, not vectors (its %s step is a text vectorizer): "+
		"load it as a text model (sklearn.Load, framework sklearn), not as a classifier on vectors",
		model.ErrUnsupported, step)
}

// inputWidth is the number of features the first step (or the classifier,
// when every step keeps the width) takes.
func inputWidth(steps []rowStep, clf classifier) int {
	for _, s := range steps {
		if n := stepInput(s); n > 0 {
			return n
		}
	}
	return clf.nFeatures()
}

// stepInput is the input width a fitted step requires; 0 when it takes any
// width and keeps it.
func stepInput(s rowStep) int {
	switch x := s.(type) {
	case scaleStep:
		if x.s.WithMean {
			return len(x.s.Mean)
		}
		if x.s.WithStd {
			return len(x.s.Scale)
		}
	case svdStep:
		return x.s.NFeatures
	case *pcaStep:
		return x.nf
	}
	return 0
}

// PredictVectors classifies rows vectors of dim values each, stored
// row-major in x (len rows*dim), as the scikit-learn estimator's predict,
// predict_proba and decision_function would on the same values. The
// float32 values are widened to float64 exactly and every step computes in
// float64. A dim other than Dim(), a slice of another length or a
// non-finite value is an error wrapping ErrInput.
func (m *VectorModel) PredictVectors(ctx context.Context, x []float32, rows, dim int) ([]model.Prediction, error) {
	if dim != m.dim {
		return nil, fmt.Errorf("%w: the vectors have %d features, the model expects %d", ErrInput, dim, m.dim)
	}
	if rows < 0 || len(x) != rows*dim {
		return nil, fmt.Errorf("%w: %d values for %d rows of %d", ErrInput, len(x), rows, dim)
	}
	out := make([]model.Prediction, rows)
	w := m.pool.Get().(*work)
	defer m.pool.Put(w)
	vals, per := batchValues(m.clf, len(m.labels), rows)
	for i := range rows {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if cap(w.v.dense) < dim {
			w.v.dense = make([]float64, dim)
		}
		d := w.v.dense[:dim]
		// z stays 0 unless a value is NaN or ±Inf (Inf·0 is NaN).
		var z float64
		for j, f := range x[i*dim : (i+1)*dim] {
			d[j] = float64(f)
			z += d[j] * 0
		}
		if z != 0 || z != z {
			return nil, nonFinite(x[i*dim:(i+1)*dim], i)
		}
		w.v.dense, w.v.isDense = d, true
		for _, s := range m.steps {
			if err := s.apply(&w.v); err != nil {
				return nil, err
			}
		}
		scoreRow(m.clf, m.labels, w, &out[i], vals[i*per:(i+1)*per:(i+1)*per])
	}
	return out, nil
}

// nonFinite is the error for a row holding NaN or ±Inf.
func nonFinite(row []float32, i int) error {
	for j, f := range row {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%w: row %d, feature %d is %v", ErrInput, i, j, f)
		}
	}
	return fmt.Errorf("%w: row %d is not finite", ErrInput, i)
}

// Dim is the number of features each input vector must have.
func (m *VectorModel) Dim() int { return m.dim }

// Labels returns the class labels as Python's str() renders them, in
// classes_ order.
func (m *VectorModel) Labels() []string { return m.labels }

// Estimator is the chain of estimators, outermost first, e.g.
// ["Pipeline", "StandardScaler", "LogisticRegression"].
func (m *VectorModel) Estimator() []string { return m.info.Estimator }

// Probabilistic says whether predictions carry predict_proba probabilities
// (and Confidence is one); otherwise Confidence is the uncalibrated score
// Info().Confidence names.
func (m *VectorModel) Probabilistic() bool { return m.info.Probabilistic }

// Info describes the model as read from the file.
func (m *VectorModel) Info() model.Info { return m.info }

// pcaStep is a fitted PCA's transform: x·componentsᵀ − mean·componentsᵀ,
// divided by sqrt(explained_variance_) when whitening, in scikit-learn's
// order of operations.
type pcaStep struct {
	comp   []float64 // nc × nf
	offset []float64 // mean_·components_ᵀ
	scale  []float64 // nil unless whiten
	nc, nf int
	name   string // for errors: "PCA" unless set
}

func (t *translator) pca(o obj) (*pcaStep, error) {
	comp, shape, err := o.floats("components_")
	if err != nil {
		return nil, err
	}
	if len(shape) != 2 || shape[0] < 1 || shape[1] < 1 {
		return nil, o.errf("components_ has shape %v", shape)
	}
	p := &pcaStep{comp: comp, nc: shape[0], nf: shape[1]}
	mean, _, err := o.floats("mean_")
	if err != nil {
		return nil, err
	}
	if len(mean) != p.nf {
		return nil, o.errf("mean_ has %d values for %d features", len(mean), p.nf)
	}
	p.offset = make([]float64, p.nc)
	for c := range p.nc {
		var s float64
		for j, m := range mean {
			s += m * comp[c*p.nf+j]
		}
		p.offset[c] = s
	}
	whiten, err := o.boolean("whiten", false)
	if err != nil {
		return nil, err
	}
	if whiten {
		ev, _, err := o.floats("explained_variance_")
		if err != nil {
			return nil, err
		}
		if len(ev) != p.nc {
			return nil, o.errf("explained_variance_ has %d values for %d components", len(ev), p.nc)
		}
		// The smallest scale is the machine epsilon of explained_variance_'s
		// dtype.
		eps := math.Nextafter(1, 2) - 1
		if a, ok := mustGet(o, "explained_variance_").(*numpy.Array); ok && a.Dtype.Kind == 'f' && a.Dtype.ItemSize == 4 {
			eps = float64(math.Nextafter32(1, 2) - 1)
		}
		p.scale = make([]float64, p.nc)
		for c, e := range ev {
			if e < 0 {
				return nil, o.errf("explained_variance_ holds %v at [%d]; a variance is not negative", e, c)
			}
			p.scale[c] = max(math.Sqrt(e), eps)
		}
	}
	return p, nil
}

func (p *pcaStep) apply(v *vec) error {
	v.project(p.nc, func(c int) float64 {
		comp := p.comp[c*p.nf : (c+1)*p.nf]
		var s float64
		if v.isDense {
			s = dotDense(v.dense, comp)
		} else {
			for k, j := range v.sp.Idx {
				s += v.sp.Val[k] * comp[j]
			}
		}
		s -= p.offset[c]
		if p.scale != nil {
			s /= p.scale[c]
		}
		return s
	})
	return nil
}

func (p *pcaStep) width(int) int { return p.nc }

func (p *pcaStep) check(in int) error {
	name := p.name
	if name == "" {
		name = "PCA"
	}
	return wantWidth(name, p.nf, in)
}
