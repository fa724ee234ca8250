package sklearn

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/preprocess"
	"github.com/mlserve/mlserve/internal/scipy"
)

// translator walks the decoded estimator tree, recording what Info reports.
type translator struct {
	chain []string
	// vecs describes each text vectorizer met, in order; cur is the one
	// being translated.
	vecs []map[string]any
	cur  map[string]any

	// path is the estimators from the top to the one being translated,
	// for cycle and depth checks; via is the attribute through which the
	// next estimator entered is reached; nodes counts estimators entered.
	path  []frame
	via   string
	nodes int

	// text, while an ensemble of text pipelines is translated, collects
	// its members' featurizers (textensemble.go); nil otherwise.
	text *textUnion
}

// frame is one estimator on the translator's path.
type frame struct {
	o    *pickle.Object
	name string
	via  string // the parent's attribute that holds it
}

// Bounds of the estimator tree. scikit-learn's own trees are a few levels
// deep (a search around a pipeline around a union of pipelines) with tens of
// estimators; these leave room for far more while keeping a hostile file
// from recursing without end, or, through shared references (a DAG whose
// every level refers twice to the next), from translating 2^depth nodes.
const (
	maxEstimatorDepth = 64
	maxEstimators     = 4096
)

// enter records that the translator steps into estimator o, reached
// through t.via, and returns the function that steps back out. It refuses
// an estimator already on the path (a model that contains itself), a path
// deeper than maxEstimatorDepth and more than maxEstimators in all, with
// an error wrapping model.ErrInvalid that names the path.
func (t *translator) enter(o obj) (leave func(), err error) {
	via := t.via
	t.via = ""
	for _, f := range t.path {
		if f.o == o.Object {
			return nil, fmt.Errorf("%w: the estimator contains itself: %s", model.ErrInvalid, t.pathString(o.name(), via))
		}
	}
	if len(t.path) >= maxEstimatorDepth {
		return nil, fmt.Errorf("%w: estimators nested deeper than %d: %s", model.ErrInvalid, maxEstimatorDepth, t.pathString(o.name(), via))
	}
	if t.nodes++; t.nodes > maxEstimators {
		return nil, fmt.Errorf("%w: more than %d estimators (shared references count each time they are reached): %s",
			model.ErrInvalid, maxEstimators, t.pathString(o.name(), via))
	}
	t.path = append(t.path, frame{o: o.Object, name: o.name(), via: via})
	return func() { t.path = t.path[:len(t.path)-1] }, nil
}

// pathString renders the path to an estimator called name, reached
// through via: "GridSearchCV.best_estimator_ → GridSearchCV". Long paths
// keep their first and last four steps.
func (t *translator) pathString(name, via string) string {
	fs := append(append([]frame(nil), t.path...), frame{name: name, via: via})
	var b strings.Builder
	for i, f := range fs {
		if len(fs) > 8 && i == 4 {
			fmt.Fprintf(&b, " → … %d more …", len(fs)-8)
		}
		if len(fs) > 8 && i >= 4 && i < len(fs)-4 {
			continue
		}
		if i > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(f.name)
		if i+1 < len(fs) && fs[i+1].via != "" {
			b.WriteString("." + fs[i+1].via)
		}
	}
	return b.String()
}

func unsupported(v any) error {
	name := pickle.Describe(v)
	if o, ok := v.(*pickle.Object); ok {
		name = o.Class.Module + "." + o.Class.Name
		if err := notServed(o); err != nil { // a search's candidate reached as a step
			return err
		}
	}
	return fmt.Errorf("%w: %s is not supported; supported estimators: %s",
		model.ErrUnsupported, name, strings.Join(Supported(), ", "))
}

// top translates the outermost estimator into a featurizer and classifier.
func (t *translator) top(v any) (featurizer, classifier, []string, error) {
	o, ok := asObj(v)
	if !ok {
		return nil, nil, nil, unsupported(v)
	}
	leave, err := t.enter(o)
	if err != nil {
		return nil, nil, nil, err
	}
	defer leave()
	t.chain = append(t.chain, o.name())
	if o.name() == "CalibratedClassifierCV" && calibratedWraps(o) {
		return t.calibratedPipelines(o)
	}
	switch o.name() {
	case "VotingClassifier", "StackingClassifier":
		if textMembers(o) {
			return t.textEnsemble(o)
		}
	case "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV":
		if r, ok := o.get("refit"); ok && r == false {
			return nil, nil, nil, fmt.Errorf("%w: %s with refit=False has no best_estimator_ to serve", model.ErrUnsupported, o.name())
		}
		best, ok := o.get("best_estimator_")
		if !ok {
			return nil, nil, nil, o.errf("missing best_estimator_")
		}
		t.via = "best_estimator_"
		return t.top(best)
	case "Pipeline":
		steps, err := pipelineSteps(o)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(steps) == 0 {
			return nil, nil, nil, o.errf("empty pipeline")
		}
		last := steps[len(steps)-1]
		f, err := t.transformers(o, steps[:len(steps)-1])
		if err != nil {
			return nil, nil, nil, err
		}
		t.via = "steps"
		c, labels, err := t.classifier(last)
		if err != nil {
			return nil, nil, nil, err
		}
		return f, c, labels, nil
	}
	if _, ok := o.get("classes_"); ok {
		return nil, nil, nil, fmt.Errorf("%w: %s.%s is not a text pipeline (a Pipeline whose first step is a vectorizer): "+
			"a bare classifier takes vectors, not text; serve it as the classifier stage of a two-stage model (onnx.classifier in model.yaml)",
			model.ErrUnsupported, o.Class.Module, o.name())
	}
	return nil, nil, nil, fmt.Errorf("%w: %s.%s is not a text pipeline (a Pipeline whose first step is a vectorizer); supported estimators: %s",
		model.ErrUnsupported, o.Class.Module, o.name(), strings.Join(Supported(), ", "))
}

// pipelineSteps returns the estimators of a Pipeline, without passthrough
// steps.
func pipelineSteps(o obj) ([]any, error) {
	v, ok := o.get("steps")
	if !ok {
		return nil, o.errf("missing steps")
	}
	l, ok := v.(*pickle.List)
	if !ok {
		return nil, o.errf("steps is %s", pickle.Describe(v))
	}
	var out []any
	for _, it := range l.Items {
		tu, ok := it.(pickle.Tuple)
		if !ok || len(tu) != 2 {
			return nil, o.errf("step is %s, want (name, estimator)", pickle.Describe(it))
		}
		if tu[1] == nil || tu[1] == "passthrough" {
			continue
		}
		out = append(out, tu[1])
	}
	return out, nil
}

// transformers translates a list of transformers, the first of which maps
// text to features.
func (t *translator) transformers(parent obj, steps []any) (featurizer, error) {
	if len(steps) == 0 {
		return nil, parent.errf("no vectorizer before the classifier: mlserve needs text features")
	}
	t.via = "steps"
	first, err := t.textFeaturizer(steps[0])
	if err != nil {
		return nil, err
	}
	c := &chain{first: first}
	w := first.width()
	for _, s := range steps[1:] {
		t.via = "steps"
		r, err := t.rowStep(s)
		if err != nil {
			return nil, err
		}
		if err := r.check(w); err != nil {
			return nil, fmt.Errorf("%w: %w", model.ErrInvalid, err)
		}
		w = r.width(w)
		c.steps = append(c.steps, r)
	}
	if len(c.steps) == 0 {
		return first, nil
	}
	return c, nil
}

func (t *translator) textFeaturizer(v any) (featurizer, error) {
	o, ok := asObj(v)
	if !ok {
		return nil, unsupported(v)
	}
	leave, err := t.enter(o)
	if err != nil {
		return nil, err
	}
	defer leave()
	t.chain = append(t.chain, o.name())
	switch o.name() {
	case "CountVectorizer", "TfidfVectorizer", "HashingVectorizer":
		tv, err := t.vectorizer(o)
		if err != nil {
			return nil, err
		}
		return textVec{tv}, nil
	case "Pipeline":
		steps, err := pipelineSteps(o)
		if err != nil {
			return nil, err
		}
		return t.transformers(o, steps)
	case "FeatureUnion":
		return t.union(o)
	}
	if vectorStep(o.name()) {
		return nil, fmt.Errorf("%w: the pipeline starts with %s, which takes numeric vectors, not text: "+
			"this is a classifier on vectors; serve it as the classifier stage of a two-stage model (onnx.classifier in model.yaml)",
			model.ErrUnsupported, o.name())
	}
	return nil, unsupported(v)
}

func (t *translator) union(o obj) (featurizer, error) {
	v, _ := o.get("transformer_list")
	l, ok := v.(*pickle.List)
	if !ok {
		return nil, o.errf("transformer_list is %s", pickle.Describe(v))
	}
	var weights *pickle.Dict
	if w, ok := o.get("transformer_weights"); ok && w != nil {
		if weights, ok = w.(*pickle.Dict); !ok {
			return nil, o.errf("transformer_weights is %s", pickle.Describe(w))
		}
	}
	u := &union{}
	for _, it := range l.Items {
		tu, ok := it.(pickle.Tuple)
		if !ok || len(tu) != 2 {
			return nil, o.errf("transformer is %s", pickle.Describe(it))
		}
		if tu[1] == "drop" || tu[1] == nil {
			continue
		}
		t.via = "transformer_list"
		f, err := t.textFeaturizer(tu[1])
		if err != nil {
			return nil, err
		}
		w := 1.0
		if weights != nil {
			if x, ok := weights.Get(tu[0]); ok {
				if w, ok = toFloat(x); !ok {
					return nil, o.errf("weight of %v is %s", tu[0], pickle.Describe(x))
				}
				if err := o.finite(fmt.Sprintf("transformer_weights[%v]", tu[0]), []float64{w}, nil, false); err != nil {
					return nil, err
				}
			}
		}
		u.parts = append(u.parts, f)
		u.weights = append(u.weights, w)
	}
	if len(u.parts) == 0 {
		return nil, o.errf("no transformers")
	}
	return u, nil
}

// refuseCallable refuses a preprocessor/tokenizer/analyzer that is not one
// of the built-in choices.
func refuseCallable(o obj, name string) error {
	v, ok := o.get(name)
	if !ok || v == nil {
		return nil
	}
	if name == "analyzer" {
		if _, ok := v.(string); ok {
			return nil
		}
	}
	what := pickle.Describe(v)
	if g, ok := v.(pickle.Global); ok {
		what = g.Module + "." + g.Name
	}
	return fmt.Errorf("%w: %s.%s is the Python callable %s; only the built-in analysis can be served "+
		"(analyzer 'word', 'char' or 'char_wb', lowercase, strip_accents, token_pattern, stop_words, ngram_range)",
		model.ErrUnsupported, o.name(), name, what)
}

// analyzer reads the analysis parameters of a vectorizer; vocab is its
// vocabulary_, nil for a HashingVectorizer (see ngramBound).
func (t *translator) analyzer(o obj, vocab map[string]int32) (*preprocess.Analyzer, error) {
	for _, n := range []string{"preprocessor", "tokenizer", "analyzer"} {
		if err := refuseCallable(o, n); err != nil {
			return nil, err
		}
	}
	var cfg preprocess.AnalyzerConfig
	var err error
	if cfg.Kind, err = o.str("analyzer", "word"); err != nil {
		return nil, err
	}
	if cfg.Lowercase, err = o.boolean("lowercase", true); err != nil {
		return nil, err
	}
	if cfg.StripAccents, err = o.str("strip_accents", ""); err != nil {
		return nil, err
	}
	if cfg.TokenPattern, err = o.str("token_pattern", preprocess.DefaultTokenPattern); err != nil {
		return nil, err
	}
	if sw, ok := o.get("stop_words"); ok && sw != nil {
		switch x := sw.(type) {
		case string:
			if x != "english" {
				return nil, fmt.Errorf("%w: %s.stop_words=%q (only \"english\" or a list)", model.ErrUnsupported, o.name(), x)
			}
			cfg.StopWords = preprocess.EnglishStopWords
		case *pickle.List:
			cfg.StopWords, err = stringsOf(o, x.Items)
		case pickle.Tuple:
			cfg.StopWords, err = stringsOf(o, x)
		case *pickle.Set:
			cfg.StopWords, err = stringsOf(o, x.Items)
		default:
			return nil, o.errf("stop_words is %s", pickle.Describe(sw))
		}
		if err != nil {
			return nil, err
		}
	}
	cfg.NgramMin, cfg.NgramMax = 1, 1
	if ng, ok := o.get("ngram_range"); ok {
		tu, ok := ng.(pickle.Tuple)
		if !ok || len(tu) != 2 {
			return nil, o.errf("ngram_range is %s", pickle.Describe(ng))
		}
		lo, ok1 := tu[0].(int64)
		hi, ok2 := tu[1].(int64)
		if !ok1 || !ok2 {
			return nil, o.errf("ngram_range is %s", pickle.Describe(ng))
		}
		if lo < 1 || hi < lo {
			return nil, o.errf("ngram_range (%d, %d): scikit-learn needs 1 <= min_n <= max_n", lo, hi)
		}
		// Clamped here so that int conversion cannot wrap; ngramBound
		// refuses or lowers anything above preprocess.MaxNgram anyway.
		cfg.NgramMin, cfg.NgramMax = int(min(lo, math.MaxInt32)), int(min(hi, math.MaxInt32))
	}
	t.cur["analyzer"] = cfg.Kind
	t.cur["ngram_range"] = []int{cfg.NgramMin, cfg.NgramMax}
	if cfg.NgramMax, err = ngramBound(o, cfg, vocab); err != nil {
		return nil, err
	}
	a, err := preprocess.NewAnalyzer(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", model.ErrUnsupported, o.name(), err)
	}
	return a, nil
}

// ngramBound is the largest n-gram length worth computing for a vectorizer,
// which bounds what one text costs however large the file's ngram_range.
//
// A vectorizer with a vocabulary (Count, Tfidf) counts only the terms in
// it, and no n-gram longer than its longest term can be one: a word n-gram
// of n tokens holds at least n-1 spaces (the joins), a char or char_wb
// n-gram is n code points. So a max_n above that is lowered to it, which
// changes no feature, rather than refused: ngram_range=(1, 1_000_000) with
// a vocabulary of unigrams and bigrams serves as (1, 2). (char_wb also
// emits a word shorter than n whole, once, whatever the n; with max_n kept
// at least min_n that still happens for every word it happened for.)
// What remains above preprocess.MaxNgram, and a HashingVectorizer's max_n
// above it (it has no vocabulary to bound it), is refused with an error
// wrapping model.ErrUnsupported.
func ngramBound(o obj, cfg preprocess.AnalyzerConfig, vocab map[string]int32) (int, error) {
	hi := cfg.NgramMax
	if vocab != nil {
		hi = max(cfg.NgramMin, min(hi, preprocess.LongestTerm(cfg.Kind, vocab)))
	}
	if hi > preprocess.MaxNgram {
		why := "its vocabulary_ has terms that long"
		if vocab == nil {
			why = "a HashingVectorizer has no vocabulary_ to bound it"
		}
		return 0, fmt.Errorf("%w: %s.ngram_range (%d, %d): mlserve computes n-grams of at most %d (%s); each text would cost time and memory in proportion",
			model.ErrUnsupported, o.name(), cfg.NgramMin, cfg.NgramMax, preprocess.MaxNgram, why)
	}
	return hi, nil
}

// checkDF checks the fitting parameters min_df, max_df and max_features
// against scikit-learn's own constraints. They do not change how a fitted
// vectorizer transforms, but a file that breaks them was not written by
// scikit-learn's fit; max_features also bounds the vocabulary_.
func checkDF(o obj, vocabSize int) error {
	for _, name := range []string{"min_df", "max_df"} {
		v, ok := o.get(name)
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case int64:
			if x >= 0 {
				continue
			}
		case float64:
			if x >= 0 && x <= 1 {
				continue
			}
		}
		return o.errf("%s is %s, want an int >= 0 or a float in [0, 1]", name, pickle.Describe(v))
	}
	v, ok := o.get("max_features")
	if !ok || v == nil {
		return nil
	}
	n, ok := v.(int64)
	if !ok || n < 1 {
		return o.errf("max_features is %s, want None or an int >= 1", pickle.Describe(v))
	}
	if int64(vocabSize) > n {
		return o.errf("vocabulary_ has %d terms, more than max_features=%d", vocabSize, n)
	}
	return nil
}

func stringsOf(o obj, items []any) ([]string, error) {
	out := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, o.errf("stop word %s is not a string", pickle.Describe(it))
		}
		out[i] = s
	}
	return out, nil
}

func (t *translator) vectorizer(o obj) (preprocess.TextVectorizer, error) {
	t.cur = map[string]any{"estimator": o.name()}
	t.vecs = append(t.vecs, t.cur)
	binary, err := o.boolean("binary", false)
	if err != nil {
		return nil, err
	}
	if o.name() == "HashingVectorizer" {
		a, err := t.analyzer(o, nil)
		if err != nil {
			return nil, err
		}
		n, err := o.integer("n_features", 1<<20)
		if err != nil {
			return nil, err
		}
		// scikit-learn: Interval(Integral, 1, np.iinfo(np.int32).max, closed="left").
		if n < 1 || n >= math.MaxInt32 {
			return nil, o.errf("n_features is %d, want 1 <= n_features < 2**31-1", n)
		}
		alt, err := o.boolean("alternate_sign", true)
		if err != nil {
			return nil, err
		}
		norm, err := o.str("norm", "")
		if err != nil {
			return nil, err
		}
		h, err := preprocess.NewHashingVectorizer(a, n, alt, binary, norm)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", model.ErrUnsupported, o.name(), err)
		}
		t.cur["n_features"] = n
		return h, nil
	}
	vocab, err := vocabulary(o)
	if err != nil {
		return nil, err
	}
	if err := checkDF(o, len(vocab)); err != nil {
		return nil, err
	}
	a, err := t.analyzer(o, vocab)
	if err != nil {
		return nil, err
	}
	t.cur["vocabulary_size"] = len(vocab)
	cv, err := preprocess.NewCountVectorizer(a, vocab, binary)
	if err != nil {
		return nil, o.errf("%v", err)
	}
	if o.name() == "CountVectorizer" {
		return cv, nil
	}
	params := o
	if _, ok := o.get("norm"); !ok {
		// scikit-learn 1.0 keeps norm, use_idf, smooth_idf and sublinear_tf
		// on the inner _tfidf only (the vectorizer's are properties).
		if tf, ok := asObj(mustGet(o, "_tfidf")); ok {
			params = tf
		}
	}
	tt, err := tfidf(o, params)
	if err != nil {
		return nil, err
	}
	tt.Float32 = float32Dtype(o)
	if tf, ok := asObj(mustGet(o, "_tfidf")); ok {
		tt.ProductOrder = idfByProduct(tf)
		if tt.IDF, err = idf(tf, tt.IDF != nil); err != nil {
			return nil, err
		}
	} else if tt.IDF != nil {
		return nil, o.errf("missing _tfidf (is the vectorizer fitted?)")
	}
	v, err := preprocess.NewTfidfVectorizer(cv, tt)
	if err != nil {
		return nil, o.errf("%v", err)
	}
	return v, nil
}

func mustGet(o obj, name string) any { v, _ := o.get(name); return v }

// tfidf reads the weighting parameters of p; IDF is set non-nil (empty) when
// use_idf is on, to be filled by idf.
func tfidf(o, p obj) (preprocess.TfidfTransformer, error) {
	var t preprocess.TfidfTransformer
	var err error
	if t.Norm, err = p.str("norm", ""); err != nil {
		return t, err
	}
	if t.SublinearTF, err = p.boolean("sublinear_tf", false); err != nil {
		return t, err
	}
	use, err := p.boolean("use_idf", true)
	if err != nil {
		return t, err
	}
	if use {
		t.IDF = []float64{}
	}
	return t, nil
}

// idf reads idf_ (scikit-learn ≥1.5) or the diagonal of _idf_diag (≤1.4).
func idf(o obj, use bool) ([]float64, error) {
	if !use {
		return nil, nil
	}
	if v, ok := o.get("idf_"); ok {
		if _, ok := v.(*numpy.Array); ok {
			f, _, err := o.floats("idf_")
			return f, err
		}
	}
	if v, ok := o.get("_idf_diag"); ok {
		if s, ok := v.(*scipy.Sparse); ok {
			if s.Rows != s.Cols {
				return nil, o.errf("_idf_diag has shape (%d, %d), want a square diagonal", s.Rows, s.Cols)
			}
			d := s.Diagonal()
			if err := o.finite("_idf_diag", d, nil, false); err != nil {
				return nil, err
			}
			return d, nil
		}
		return nil, o.errf("_idf_diag is %s", pickle.Describe(v))
	}
	return nil, o.errf("missing idf_ (is it fitted?)")
}

func vocabulary(o obj) (map[string]int32, error) {
	v, ok := o.get("vocabulary_")
	if !ok {
		return nil, o.errf("missing vocabulary_ (is the vectorizer fitted?)")
	}
	d, ok := v.(*pickle.Dict)
	if !ok {
		return nil, o.errf("vocabulary_ is %s", pickle.Describe(v))
	}
	out := make(map[string]int32, d.Len())
	err := d.Each(func(k, val any) error {
		s, ok := k.(string)
		if !ok {
			return o.errf("vocabulary_ has a %s key where terms are str", pickle.Describe(k))
		}
		i, ok := val.(int64)
		if !ok {
			return o.errf("vocabulary_ entry %s maps to %s, not a column index", pickle.Describe(k), pickle.Describe(val))
		}
		if i < 0 || i > math.MaxInt32 {
			return o.errf("vocabulary_ entry %s: column index %d out of range [0, %d]", pickle.Describe(k), i, math.MaxInt32)
		}
		out[s] = int32(i)
		return nil
	})
	return out, err
}

func (t *translator) rowStep(v any) (rowStep, error) {
	o, ok := asObj(v)
	if !ok {
		return nil, unsupported(v)
	}
	leave, err := t.enter(o)
	if err != nil {
		return nil, err
	}
	defer leave()
	t.chain = append(t.chain, o.name())
	switch o.name() {
	case "TfidfTransformer":
		tt, err := tfidf(o, o)
		if err != nil {
			return nil, err
		}
		if tt.IDF, err = idf(o, tt.IDF != nil); err != nil {
			return nil, err
		}
		return tfidfStep{tt}, nil
	case "TruncatedSVD":
		c, shape, err := o.floats("components_")
		if err != nil {
			return nil, err
		}
		if len(shape) != 2 {
			return nil, o.errf("components_ has shape %v", shape)
		}
		s, err := preprocess.NewTruncatedSVD(c, shape[0], shape[1])
		if err != nil {
			return nil, o.errf("%v", err)
		}
		return svdStep{s}, nil
	case "PCA":
		return t.pca(o)
	case "LinearDiscriminantAnalysis":
		return ldaStep(o)
	case "Normalizer":
		n, err := o.str("norm", "l2")
		if err != nil {
			return nil, err
		}
		return normStep{preprocess.Normalizer{Norm: n}}, nil
	case "StandardScaler":
		s := &preprocess.StandardScaler{}
		var err error
		if s.WithMean, err = o.boolean("with_mean", true); err != nil {
			return nil, err
		}
		if s.WithStd, err = o.boolean("with_std", true); err != nil {
			return nil, err
		}
		if s.WithMean {
			if s.Mean, _, err = o.floats("mean_"); err != nil {
				return nil, err
			}
		}
		if s.WithStd {
			if s.Scale, _, err = o.floats("scale_"); err != nil {
				return nil, err
			}
			// scikit-learn's _handle_zeros_in_scale stores 1 for a
			// constant feature; a 0 would divide by zero.
			for j, v := range s.Scale {
				if v == 0 {
					return nil, o.errf("scale_ holds 0 at [%d]; scikit-learn stores 1 for a constant feature", j)
				}
			}
		}
		return scaleStep{s}, nil
	}
	if r, ok, err := t.selectionStep(o); ok {
		return r, err
	}
	return nil, unsupported(v)
}

func (t *translator) classifier(v any) (classifier, []string, error) {
	o, ok := asObj(v)
	if !ok {
		return nil, nil, unsupported(v)
	}
	leave, err := t.enter(o)
	if err != nil {
		return nil, nil, err
	}
	defer leave()
	t.chain = append(t.chain, o.name())
	if best, ok, err := searchBest(o); ok || err != nil { // a search as the pipeline's last step
		return t.viaSearch(best, err)
	}
	labels, err := o.labels()
	if err != nil {
		return nil, nil, err
	}
	switch o.name() {
	case "LogisticRegression", "SGDClassifier", "LinearSVC", "RidgeClassifier", "Perceptron", "PassiveAggressiveClassifier":
		l, err := linearOf(o, len(labels))
		if err != nil {
			return nil, nil, err
		}
		l.rule, err = linearRule(o, len(labels))
		l.f32 = isFloat32Array(mustGet(o, "coef_"))
		l.intercept64 = l.f32 && !isFloat32Array(mustGet(o, "intercept_"))
		return l, labels, err
	case "MultinomialNB", "ComplementNB", "BernoulliNB":
		nb, err := naiveBayesOf(o, len(labels))
		return nb, labels, err
	case "CalibratedClassifierCV":
		c, err := t.calibrated(o, labels)
		return c, labels, err
	}
	if f := moreClassifier(o.name()); f != nil {
		c, err := f(t, o, labels)
		return c, labels, err
	}
	return nil, nil, unsupported(v)
}

func linearOf(o obj, nclasses int) (*linear, error) {
	coef, shape, err := o.floats("coef_")
	if err != nil {
		return nil, err
	}
	rows, nf := 1, len(coef)
	if len(shape) == 2 {
		rows, nf = shape[0], shape[1]
	}
	want := nclasses
	if nclasses == 2 {
		want = 1
	}
	if rows != want {
		return nil, o.errf("coef_ has %d rows for %d classes", rows, nclasses)
	}
	ic, _, err := o.floats("intercept_")
	if err != nil {
		return nil, err
	}
	if len(ic) == 1 && rows > 1 {
		b := ic[0]
		ic = make([]float64, rows)
		for i := range ic {
			ic[i] = b
		}
	}
	if len(ic) != rows {
		return nil, o.errf("intercept_ has %d values for %d rows", len(ic), rows)
	}
	return &linear{coef: coef, intercept: ic, rows: rows, nf: nf, classes: nclasses}, nil
}

func linearRule(o obj, nclasses int) (probaRule, error) {
	switch o.name() {
	case "LogisticRegression", "LogisticRegressionCV":
		mc, ok := o.get("multi_class")
		if !ok {
			// scikit-learn ≥1.8: binary is expit, multiclass softmax.
			if nclasses <= 2 {
				return probaOVR, nil
			}
			return probaSoftmax, nil
		}
		solver, _ := o.str("solver", "lbfgs")
		m, _ := mc.(string)
		ovr := m == "ovr" || m == "warn" ||
			((m == "auto" || m == "deprecated") && (nclasses <= 2 || solver == "liblinear" || solver == "newton-cholesky"))
		if ovr {
			return probaOVR, nil
		}
		return probaSoftmax, nil
	case "SGDClassifier":
		loss, err := o.str("loss", "hinge")
		if err != nil {
			return 0, err
		}
		switch loss {
		case "log_loss", "log":
			return probaOVR, nil
		case "modified_huber":
			return probaModHuber, nil
		}
	}
	return probaNone, nil
}

func naiveBayesOf(o obj, nclasses int) (*naiveBayes, error) {
	flp, shape, err := o.floats("feature_log_prob_")
	if err != nil {
		return nil, err
	}
	if len(shape) != 2 || shape[0] != nclasses {
		return nil, o.errf("feature_log_prob_ has shape %v for %d classes", shape, nclasses)
	}
	nf := shape[1]
	prior, _, err := o.logProbs("class_log_prior_")
	if err != nil {
		return nil, err
	}
	if len(prior) != nclasses {
		return nil, o.errf("class_log_prior_ has %d values", len(prior))
	}
	if o.name() != "ComplementNB" || nclasses == 1 {
		if !slices.ContainsFunc(prior, func(p float64) bool { return !math.IsInf(p, -1) }) {
			return nil, o.errf("class_log_prior_ is -Inf for every class: no class can be predicted")
		}
	}
	nb := &naiveBayes{flp: flp, bias: prior, classes: nclasses, nf: nf, binarize: math.NaN()}
	switch o.name() {
	case "ComplementNB":
		// ComplementNB adds the prior only when there is a single class.
		if nclasses != 1 {
			nb.bias = make([]float64, nclasses)
		}
	case "BernoulliNB":
		if b, ok := o.get("binarize"); ok && b != nil {
			if nb.binarize, ok = toFloat(b); !ok {
				return nil, o.errf("binarize is %s", pickle.Describe(b))
			}
			// NaN is this struct's "no threshold"; a file's own NaN
			// would silently mean that.
			if err := o.finite("binarize", []float64{nb.binarize}, nil, false); err != nil {
				return nil, err
			}
		}
		w := make([]float64, len(flp))
		bias := make([]float64, nclasses)
		for k := 0; k < nclasses; k++ {
			var s float64
			for j := 0; j < nf; j++ {
				p := flp[k*nf+j]
				// A log-probability of 0 (probability 1) or above makes
				// log(1-p) -Inf or NaN: scikit-learn's smoothing
				// (alpha >= 1e-10) keeps p below 1.
				if p >= 0 {
					return nil, o.errf("feature_log_prob_ holds %v at [%d, %d], a probability of 1 or more; BernoulliNB's log(1 - p) would be infinite", p, k, j)
				}
				neg := math.Log(1 - math.Exp(p))
				w[k*nf+j] = p - neg
				s += neg
			}
			bias[k] = prior[k] + s
		}
		nb.flp, nb.bias = w, bias
	}
	return nb, nil
}

func (t *translator) calibrated(o obj, labels []string) (*calibrated, error) {
	v, ok := o.get("calibrated_classifiers_")
	l, ok2 := v.(*pickle.List)
	if !ok || !ok2 || len(l.Items) == 0 {
		return nil, o.errf("calibrated_classifiers_ is %s", pickle.Describe(v))
	}
	c := &calibrated{classes: len(labels)}
	for i, it := range l.Items {
		m, ok := asObj(it)
		if !ok || m.name() != "_CalibratedClassifier" {
			return nil, o.errf("calibrated_classifiers_[%d] is %s", i, pickle.Describe(it))
		}
		t.via = "calibrated_classifiers_"
		leave, err := t.enter(m)
		if err != nil {
			return nil, err
		}
		one, err := t.calibratedOne(m, labels, i == 0)
		leave()
		if err != nil {
			return nil, err
		}
		c.members = append(c.members, one)
	}
	c.nf = c.members[0].base.nFeatures()
	for _, m := range c.members {
		if m.base.nFeatures() != c.nf {
			return nil, o.errf("calibrated classifiers of %d and %d features", c.nf, m.base.nFeatures())
		}
	}
	return c, nil
}

func (t *translator) calibratedOne(m obj, labels []string, record bool) (*calibratedOne, error) {
	method, err := m.str("method", "sigmoid")
	if err != nil {
		return nil, err
	}
	if err := checkCalibrationMethod(method); err != nil {
		return nil, err
	}
	est, ok := m.get("estimator")
	if !ok {
		est, ok = m.get("base_estimator")
	}
	if !ok {
		return nil, m.errf("missing estimator")
	}
	saved := t.chain
	t.via = "estimator"
	base, baseLabels, err := t.classifier(unfrozen(est))
	if !record {
		t.chain = saved
	}
	if err != nil {
		return nil, err
	}
	return t.calibrators(m, labels, base, baseLabels)
}

// calibrators reads the calibrators of _CalibratedClassifier m around its
// translated estimator base.
func (t *translator) calibrators(m obj, labels []string, base classifier, baseLabels []string) (*calibratedOne, error) {
	if method, _ := m.str("method", "sigmoid"); method == "temperature" {
		return temperatureOf(m, labels, base, baseLabels)
	}
	one := &calibratedOne{base: base, nclasses: len(labels), useProba: base.nDecision() == 0}
	pos := make(map[string]int, len(labels))
	for i, l := range labels {
		pos[l] = i
	}
	for _, l := range baseLabels {
		i, ok := pos[l]
		if !ok {
			return nil, m.errf("estimator class %q not in classes_", l)
		}
		one.classIdx = append(one.classIdx, i)
	}
	if len(labels) == 2 {
		// Binary: the one calibrator gives the positive class (column 1).
		one.classIdx = []int{0}
	}
	cv, _ := m.get("calibrators")
	cl, ok := cv.(*pickle.List)
	if !ok {
		return nil, m.errf("calibrators is %s", pickle.Describe(cv))
	}
	for _, it := range cl.Items {
		co, ok := asObj(it)
		if !ok {
			return nil, m.errf("calibrator is %s", pickle.Describe(it))
		}
		var cal calibrator
		switch co.name() {
		case "_SigmoidCalibration":
			a, err := co.float("a_")
			if err != nil {
				return nil, err
			}
			b, err := co.float("b_")
			if err != nil {
				return nil, err
			}
			cal = sigmoidCal{a, b}
		case "IsotonicRegression":
			x, _, err := co.floats("X_thresholds_")
			if err != nil {
				return nil, err
			}
			y, _, err := co.floats("y_thresholds_")
			if err != nil {
				return nil, err
			}
			if len(x) != len(y) || len(x) == 0 {
				return nil, co.errf("thresholds of %d and %d values", len(x), len(y))
			}
			// scikit-learn's _make_unique leaves them strictly increasing;
			// two equal ones would make the interpolation divide by zero.
			for i := 1; i < len(x); i++ {
				if !(x[i] > x[i-1]) {
					return nil, co.errf("X_thresholds_ is not strictly increasing at [%d] (%v after %v)", i, x[i], x[i-1])
				}
			}
			oob, err := co.str("out_of_bounds", "nan")
			if err != nil {
				return nil, err
			}
			ic := isotonicCal{x: x, y: y, clip: oob == "clip"}
			if a, ok := mustGet(co, "X_thresholds_").(*numpy.Array); ok && a.Dtype.Kind == 'f' && a.Dtype.ItemSize == 4 {
				ic.f32 = true
			}
			if ic.clip {
				if ic.xmin, err = co.float("X_min_"); err != nil {
					return nil, err
				}
				if ic.xmax, err = co.float("X_max_"); err != nil {
					return nil, err
				}
			}
			cal = ic
		default:
			return nil, unsupported(it)
		}
		one.cals = append(one.cals, cal)
	}
	npreds := base.nDecision()
	if one.useProba {
		npreds = base.nClasses()
		if npreds == 2 {
			npreds = 1
		}
	}
	if len(one.cals) != npreds || len(one.classIdx) < len(one.cals) {
		return nil, m.errf("%d calibrators for %d prediction columns", len(one.cals), npreds)
	}
	return one, nil
}

// features summarises the feature extraction for Info: a single vectorizer's
// description flat, several (a FeatureUnion) as a list with the total
// vocabulary; width is the number of features the classifier takes.
func (t *translator) features(width int) map[string]any {
	f := map[string]any{"input_features": width}
	if len(t.vecs) == 1 {
		for k, v := range t.vecs[0] {
			f[k] = v
		}
		return f
	}
	f["vectorizers"] = t.vecs
	total := 0
	for _, v := range t.vecs {
		n, _ := v["vocabulary_size"].(int)
		total += n
	}
	if total > 0 {
		f["vocabulary_size"] = total
	}
	return f
}
