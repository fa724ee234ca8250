package sklearn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/mlserve/mlserve/internal/joblib"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/tracing"
)

// Model is a scikit-learn text classifier translated to Go. It is safe for
// concurrent use.
type Model struct {
	feat   featurizer
	clf    classifier
	labels []string
	info   model.Info
	pool   sync.Pool // *work

	oovOnce sync.Once
	oov     *oovRater // nil: no word vectorizer

	inv inverse // column names for Explain, built on first use
}

var _ model.Model = (*Model)(nil)

// work is one goroutine's scratch space for Predict.
type work struct {
	v          vec
	dec, proba []float64
}

// DefaultMaxModelBytes is the cap on a file's budget when
// Options.MaxModelBytes is zero: config's default limits.max_model_bytes.
const DefaultMaxModelBytes = 2 << 30

// Options are the limits of one load.
type Options struct {
	// MaxModelBytes caps the memory, and the decompressed bytes, that
	// loading one file may take (limits.max_model_bytes; default
	// DefaultMaxModelBytes). A file's own budget is smaller: joblib.Budget
	// of its size on disk.
	MaxModelBytes int64
	// BytesPerFileByte is what a file may take per byte on disk, above
	// joblib.BudgetBase (limits.model_bytes_per_file_byte; default
	// joblib.BudgetPerByte): raised for a model that compresses better.
	BytesPerFileByte int64
}

func (o Options) maxModelBytes() int64 {
	if o.MaxModelBytes <= 0 {
		return DefaultMaxModelBytes
	}
	return o.MaxModelBytes
}

// Load reads a scikit-learn estimator from a .pkl or .joblib file (any
// compression joblib writes) and translates it, with default Options.
func Load(path string) (*Model, error) { return LoadContext(context.Background(), path, Options{}) }

// LoadContext is Load within the budget of opts, derived from the file's
// size (joblib.Budget), and stopped when ctx is done. A file past its
// budget, or one whose loading ctx cancels, is refused with an error
// wrapping model.ErrInvalid and pickle.ErrLimit that names the limit.
func LoadContext(ctx context.Context, path string, opts Options) (*Model, error) {
	return fromFile(ctx, path, opts, translate)
}

// fromFile opens path, decodes it within its budget and hands the value to
// translate; a panic on the way is the last line of defence: it becomes an
// error wrapping model.ErrInvalid, with its stack logged.
func fromFile[T any](ctx context.Context, path string, opts Options, translate func(any) (T, error)) (_ T, err error) {
	defer recoverLoad(path, &err)
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return zero, err
	}
	b := joblib.ScaledBudget(st.Size(), opts.BytesPerFileByte, opts.maxModelBytes())
	v, err := decodeBudget(ctx, f, b)
	if err != nil {
		if errors.Is(err, pickle.ErrLimit) && ctx.Err() == nil {
			// What a user whose real model is refused needs to know.
			per := opts.BytesPerFileByte
			if per <= 0 {
				per = joblib.BudgetPerByte
			}
			err = fmt.Errorf("%w (a file of %d bytes may take %d MiB: %d MiB + %d per byte on disk "+
				"(limits.model_bytes_per_file_byte), at most limits.max_model_bytes; raise the first for a model "+
				"that compresses better than that)", err, st.Size(), b>>20, joblib.BudgetBase>>20, per)
		}
		return zero, err
	}
	return translate(v)
}

// fromReader is fromFile for a stream of unknown size: its budget is
// opts' cap.
func fromReader[T any](ctx context.Context, r io.Reader, opts Options, translate func(any) (T, error)) (_ T, err error) {
	defer recoverLoad("stream", &err)
	v, err := decodeBudget(ctx, r, opts.maxModelBytes())
	if err != nil {
		var zero T
		return zero, err
	}
	return translate(v)
}

// recoverLoad turns a panic while loading into an error. No input is known
// to panic (the fuzz targets look for one); this keeps one that does from
// taking the server down.
func recoverLoad(what string, err *error) {
	if r := recover(); r != nil {
		slog.Default().Error("sklearn: panic while loading a model", "file", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = fmt.Errorf("%w: loading %s failed: internal error: %v", model.ErrInvalid, what, r)
	}
}

// LoadReader is Load from a stream, with default Options.
func LoadReader(r io.Reader) (*Model, error) {
	return LoadReaderContext(context.Background(), r, Options{})
}

// LoadReaderContext is LoadContext from a stream; with no file size to
// derive a budget from, the budget is opts.MaxModelBytes.
func LoadReaderContext(ctx context.Context, r io.Reader, opts Options) (*Model, error) {
	return fromReader(ctx, r, opts, translate)
}

// decode is decodeBudget with default Options' budget.
func decode(r io.Reader) (any, error) {
	return decodeBudget(context.Background(), r, DefaultMaxModelBytes)
}

// decodeBudget reads a joblib or pickle stream through the allow-list
// within a budget of b bytes (decompressed input and decoded memory),
// turning a refused global into an error that says what is supported.
func decodeBudget(ctx context.Context, r io.Reader, b int64) (any, error) {
	v, err := joblib.LoadContext(ctx, r, joblib.Options{Allow: AllowList(), MaxBytes: b, MaxMemory: b})
	if err != nil {
		var fe *pickle.ForbiddenError
		if errors.As(err, &fe) && strings.HasPrefix(fe.Module, "sklearn.") {
			return nil, fmt.Errorf("%w: %s.%s is not supported; supported estimators: %s (%w)",
				model.ErrUnsupported, fe.Module, fe.Name, strings.Join(Supported(), ", "), err)
		}
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%w: the file names the Python global %s.%s, which mlserve does not allow "+
				"(a custom function such as a tokenizer, preprocessor or FunctionTransformer's func cannot be served: "+
				"refit without it, with the vectorizer's own options (token_pattern, lowercase, strip_accents, stop_words, ngram_range) "+
				"doing its work, or export the pipeline to ONNX; supported estimators: %s): %w",
				model.ErrInvalid, fe.Module, fe.Name, strings.Join(Supported(), ", "), err)
		}
		return nil, fmt.Errorf("%w: %w", model.ErrInvalid, err)
	}
	return v, nil
}

func translate(v any) (*Model, error) {
	t := &translator{}
	feat, clf, labels, err := t.top(v)
	if err != nil {
		return nil, err
	}
	if w := feat.width(); w != clf.nFeatures() {
		return nil, fmt.Errorf("%w: the classifier expects %d features, the transformers give %d", model.ErrInvalid, clf.nFeatures(), w)
	}
	if len(labels) < 2 {
		return nil, fmt.Errorf("%w: %d classes", model.ErrUnsupported, len(labels))
	}
	markOOV(&feat)
	m := &Model{feat: feat, clf: clf, labels: labels}
	m.info = model.Info{
		Framework:     "sklearn",
		Estimator:     t.chain,
		Probabilistic: clf.probabilistic(),
		Features:      t.features(clf.nFeatures()),
	}
	m.info.Features["n_classes"] = len(labels)
	if o, ok := asObj(v); ok {
		m.info.LibraryVersion, _ = o.str("_sklearn_version", "")
	}
	m.info.Confidence = confidenceText(clf)
	m.pool.New = func() any { return newWork(clf, len(labels)) }
	return m, nil
}

// confidenceText is what Info.Confidence says for clf.
func confidenceText(clf classifier) string {
	switch {
	case clf.probabilistic():
		return "predict_proba of the predicted label"
	case clf.nDecision() == 0:
		return "none: the model gives neither probabilities nor decision values (hard voting); always 1"
	case clf.nDecision() == 1:
		return "uncalibrated: expit(|decision_function|), the logistic of the binary decision value's magnitude"
	default:
		return "uncalibrated: softmax of the decision_function values, taken at the predicted label"
	}
}

func newWork(clf classifier, nlabels int) *work {
	return &work{dec: make([]float64, max(clf.nDecision(), 1)), proba: make([]float64, nlabels)}
}

// batchValues allocates one backing array for n predictions' decision
// values and probabilities; per is each prediction's share.
func batchValues(clf classifier, nlabels, n int) (vals []float64, per int) {
	per = clf.nDecision()
	if clf.probabilistic() {
		per += nlabels
	}
	return make([]float64, per*n), per
}

// scoreRow scores the features in w.v with clf and fills p, its decision
// values and probabilities stored in row (len per from batchValues).
func scoreRow(clf classifier, labels []string, w *work, p *model.Prediction, row []float64) {
	nd, prob := clf.nDecision(), clf.probabilistic()
	var proba []float64
	if prob {
		proba = w.proba
	}
	idx := clf.score(&w.v, w.dec, proba)
	p.Index, p.Label = idx, labels[idx]
	if nd > 0 {
		p.Decision = row[:nd:nd]
		copy(p.Decision, w.dec[:nd])
	}
	if prob {
		p.Probabilities = row[nd:]
		copy(p.Probabilities, w.proba)
		p.Confidence = p.Probabilities[idx]
	} else {
		p.Confidence = confidence(p.Decision, idx)
	}
}

// Predict classifies texts as the scikit-learn estimator's predict,
// predict_proba and decision_function would. It returns ctx.Err() once ctx
// is done, noticed between texts and within a text's featurization every
// few thousand terms, so a long text stops soon after its request does. Each prediction's OOV is the
// text's out-of-vocabulary rate, equal to OOVRate(text), counted while the
// first word vectorizer transforms it; not measured when OOVRate's ok would
// be false, or when that vectorizer's n-grams start above 1.
func (m *Model) Predict(ctx context.Context, texts []string) (_ []model.Prediction, err error) {
	// Featurization and scoring alternate text by text: one span for both.
	_, span := tracing.Child(ctx, "sklearn.predict")
	defer func() {
		tracing.Fail(span, err)
		span.End()
	}()
	out := make([]model.Prediction, len(texts))
	w := m.pool.Get().(*work)
	defer m.pool.Put(w)
	vals, per := batchValues(m.clf, len(m.labels), len(texts))
	for i, text := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		w.v.oov.ok = false
		if err := m.feat.featurize(ctx, text, &w.v); err != nil {
			return nil, err
		}
		scoreRow(m.clf, m.labels, w, &out[i], vals[i*per:(i+1)*per:(i+1)*per])
		out[i].OOV = w.v.oov.rate()
	}
	return out, nil
}

// confidence is the uncalibrated score named in Info for a model without
// probabilities.
func confidence(dec []float64, idx int) float64 {
	if len(dec) == 0 {
		return 1
	}
	if len(dec) == 1 {
		return 1 / (1 + math.Exp(-math.Abs(dec[0])))
	}
	m := dec[argmax(dec)]
	var s float64
	for _, d := range dec {
		s += math.Exp(d - m)
	}
	return math.Exp(dec[idx]-m) / s
}

// Labels returns the class labels as Python's str() renders them, in
// classes_ order.
func (m *Model) Labels() []string { return m.labels }

// Info describes the model as read from the file.
func (m *Model) Info() model.Info { return m.info }

// Close releases nothing: a Model holds only Go memory.
func (m *Model) Close() error { return nil }
