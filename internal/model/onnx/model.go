package onnx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/preprocess"
	"github.com/mlserve/mlserve/internal/tokenizer"
)

// ErrClosed is returned by a Model used after Close.
var ErrClosed = errors.New("onnx model closed")

// DefaultArtifact is the graph's file name when model.yaml names none.
const DefaultArtifact = "model.onnx"

// Model is an ONNX text classifier: tokenizer, ONNX Runtime session and
// output handling, with an optional scikit-learn stage on embeddings. It is
// safe for concurrent use: ONNX Runtime runs one session from many
// goroutines at once.
type Model struct {
	spec     *Spec
	artifact string
	tok      preprocess.Tokenizer
	enc      preprocess.EncodeOptions
	unk      int // the unknown token's id: what OOV rates count
	inputs   []binding
	out      tensorInfo
	labels   []string
	clf      *sklearn.VectorModel
	info     model.Info

	// A huggingface tokenizer (tokenizer.json) replaces tok for Predict;
	// hfConfig is the folder's config.json, when it has one.
	hf        *tokenizer.Tokenizer
	hfConfig  *hfConfig
	threshold float64 // a multi-label model's, model.yaml's or model.DefaultThreshold

	batches sync.Pool // *preprocess.Batch

	mu     sync.RWMutex // held for reading while the session runs
	sess   *ort.DynamicAdvancedSession
	closed bool
}

var _ model.Model = (*Model)(nil)

// binding is one graph input and what feeds it.
type binding struct {
	name   string
	source string
	dtype  ort.TensorElementDataType
}

// tensorInfo is a graph input or output as the graph declares it.
type tensorInfo struct {
	name  string
	dtype ort.TensorElementDataType
	shape []int64 // -1 for a dynamic dimension
}

func (t tensorInfo) String() string {
	return fmt.Sprintf("%s %s %v", t.name, dtypeName(t.dtype), t.shape)
}

// Loader loads ONNX models for a Registry with fixed Options.
type Loader struct {
	// Options apply to every model it loads.
	Options Options
}

var _ model.Loader = Loader{}

// Load reads the model in dir as m describes it.
func (l Loader) Load(ctx context.Context, dir string, m *model.Manifest) (model.Model, error) {
	om, err := Load(ctx, dir, m, l.Options)
	if err != nil {
		return nil, err
	}
	return om, nil
}

// LoadDir reads dir/model.yaml, when there is one, and loads the model it
// describes.
func LoadDir(ctx context.Context, dir string, o Options) (*Model, error) {
	path, err := model.ResolvePath(dir, model.ManifestFile, model.ManifestFile)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A Hugging Face export needs no model.yaml (Load reads config.json);
		// any other folder fails in Load asking for the onnx: section.
		b, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	man, _, err := model.ParseManifest(b)
	if err != nil {
		return nil, err
	}
	if man.Framework != "" && man.Framework != "onnx" {
		return nil, fmt.Errorf("%w: %s says framework %q, not onnx", model.ErrUnsupported, model.ManifestFile, man.Framework)
	}
	return Load(ctx, dir, man, o)
}

// Load builds the model in the version folder dir from its manifest m: the
// onnx: section is decoded and checked, ONNX Runtime is loaded if this is
// the first ONNX model, and the graph's inputs and output are checked
// against the section. Errors wrap model.ErrInvalid (a manifest that does
// not fit the graph, a corrupt graph), model.ErrUnsupported or
// ErrRuntimeMissing.
//
// A folder with a config.json (a Hugging Face export, as optimum writes it)
// needs no onnx: section: the tokenizer is tokenizer.json, the labels are
// config.json's id2label and its problem_type says softmax or sigmoid (see
// ConfigFile); model.yaml's labels, threshold and onnx: keys override.
func Load(ctx context.Context, dir string, m *model.Manifest, o Options) (*Model, error) {
	cfg, err := readHFConfig(dir)
	if err != nil {
		return nil, err
	}
	var spec *Spec
	if cfg != nil {
		spec, err = hfSpec(cfg, &m.ONNX)
	} else {
		spec, err = ParseSpec(&m.ONNX)
	}
	if err != nil {
		return nil, err
	}
	md := &Model{spec: spec, artifact: m.Artifact, hfConfig: cfg, threshold: model.DefaultThreshold}
	if m.Threshold != nil {
		md.threshold = *m.Threshold
	}
	if md.artifact == "" {
		md.artifact = DefaultArtifact
	}
	paths, err := spec.resolve(dir, md.artifact)
	if err != nil {
		return nil, err
	}
	if spec.Tokenizer.Type == TokHF {
		err = md.buildHFTokenizer(dir, paths)
	} else {
		err = md.buildTokenizer(paths)
	}
	if err != nil {
		return nil, err
	}
	if spec.Classifier != "" {
		md.clf, err = sklearn.LoadVectorsContext(ctx, paths.classifier, o.Classifier)
		if err != nil {
			return nil, fileErr("onnx.classifier", spec.Classifier, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ensureRuntime(o); err != nil {
		return nil, err
	}
	// ONNX Runtime reads the graph from its path, twice (graphInfo, then the
	// session): a copy in Go's heap would stay resident until a collection
	// and set the next one's target twice as high (24 MB for MiniLM).
	path := paths.artifact
	st, err := os.Stat(path)
	if err != nil {
		return nil, fileErr("artifact", md.artifact, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", model.ErrInvalid, md.artifact)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%w: %s is empty", model.ErrInvalid, md.artifact)
	}
	// Tensors kept in other files are checked before ONNX Runtime opens
	// any of them (external.go).
	external, err := externalFiles(dir, path, md.artifact)
	if err != nil {
		return nil, err
	}
	ins, outs, err := graphInfo(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid ONNX model: %s", model.ErrInvalid, md.artifact, ortReason(err))
	}
	if err := md.bindInputs(infos(ins)); err != nil {
		return nil, err
	}
	if err := md.bindOutput(infos(outs)); err != nil {
		return nil, err
	}
	labels := m.Labels
	if len(labels) == 0 && cfg != nil && md.clf == nil {
		if labels, err = cfg.labels(); err != nil {
			return nil, err
		}
	}
	if err := md.setLabels(labels); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if externalAdvice {
		dropCached(external)
	}
	provider, err := md.newSession(path, o)
	if err != nil {
		return nil, err
	}
	if externalAdvice {
		adviseRandom(external)
	}
	releaseLoadMemory()
	md.describe(provider)
	md.batches.New = func() any { return new(preprocess.Batch) }
	return md, nil
}

// graphInfo reads the graph's inputs and outputs through a throwaway
// session that skips graph optimisation and the memory arena: the real
// session needs the names, and the probe should cost neither time nor a
// second copy of the optimised weights.
func graphInfo(path string) ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, err
	}
	if err := so.SetCpuMemArena(false); err != nil {
		return nil, nil, err
	}
	if err := so.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	return ort.GetInputOutputInfoWithOptions(path, so)
}

// buildTokenizer makes the tokenizer and encode options from the spec.
func (m *Model) buildTokenizer(paths files) error {
	t := m.spec.Tokenizer
	var (
		vocab *preprocess.Vocab
		err   error
	)
	readVocab := func() error {
		f, err := os.Open(paths.vocab)
		if err != nil {
			return fileErr("onnx.tokenizer.vocab", t.Vocab, err)
		}
		defer f.Close()
		if vocab, err = preprocess.LoadVocab(f); err != nil {
			return fmt.Errorf("%w: onnx.tokenizer.vocab %s: %s", model.ErrInvalid, t.Vocab, model.ContentFreeError(err))
		}
		return nil
	}
	special := func(key, tok string) (int, error) {
		id, ok := vocab.ID(tok)
		if !ok {
			return 0, invalid("onnx.tokenizer."+key, "%q is not in the vocabulary", tok)
		}
		return id, nil
	}
	m.enc = preprocess.EncodeOptions{MaxLength: t.MaxLength, Padding: t.Padding, AddSpecial: *t.AddSpecialTokens}
	switch t.Type {
	case TokRegex, TokWhitespace:
		if err := readVocab(); err != nil {
			return err
		}
		unk, err := special("unk_token", t.UnkToken)
		if err != nil {
			return err
		}
		m.unk = unk
		if m.enc.PAD, err = special("pad_token", t.PadToken); err != nil {
			return err
		}
		strip := ""
		if t.StripAccents != nil {
			strip = *t.StripAccents
		}
		if t.Type == TokRegex {
			m.tok, err = preprocess.NewWordTokenizer(t.Pattern, *t.Lowercase, strip, vocab, unk)
		} else {
			m.tok, err = preprocess.NewWhitespaceTokenizer(*t.Lowercase, strip, vocab, unk)
		}
		if err != nil {
			return fmt.Errorf("%w: %s onnx.tokenizer: %w", model.ErrInvalid, model.ManifestFile, err)
		}
	case TokWordPiece:
		var wp *preprocess.WordPiece
		if t.TokenizerJSON != "" {
			f, err := os.Open(paths.tokenizerJSON)
			if err != nil {
				return fileErr("onnx.tokenizer.tokenizer_json", t.TokenizerJSON, err)
			}
			wp, vocab, err = preprocess.LoadTokenizerJSON(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%w: onnx.tokenizer.tokenizer_json %s: %s", model.ErrInvalid, t.TokenizerJSON, model.ContentFreeError(err))
			}
		} else {
			if err := readVocab(); err != nil {
				return err
			}
			o := preprocess.DefaultWordPieceOptions()
			o.Lowercase = *t.Lowercase
			if t.StripAccents != nil {
				o.StripAccents = ptr(*t.StripAccents != "none")
			}
			if t.UnkToken != "" {
				o.UnkToken = t.UnkToken
			}
			if t.PadToken != "" {
				o.PADToken = t.PadToken
			}
			if wp, err = preprocess.NewWordPiece(vocab, o); err != nil {
				return fmt.Errorf("%w: %s onnx.tokenizer: %w", model.ErrInvalid, model.ManifestFile, err)
			}
		}
		sp := wp.Special()
		m.enc.CLS, m.enc.SEP, m.enc.PAD = sp.CLS, sp.SEP, sp.PAD
		m.unk = sp.UNK
		m.tok = wp
	}
	if err := m.enc.Validate(); err != nil {
		return fmt.Errorf("%w: %s onnx.tokenizer: %w", model.ErrInvalid, model.ManifestFile, err)
	}
	m.info.Features = map[string]any{
		"tokenizer":          t.Type,
		"vocab_size":         vocab.Len(),
		"max_length":         t.MaxLength,
		"padding":            t.Padding,
		"add_special_tokens": *t.AddSpecialTokens,
	}
	return nil
}

func infos(list []ort.InputOutputInfo) []tensorInfo {
	out := make([]tensorInfo, len(list))
	for i, x := range list {
		out[i] = tensorInfo{name: x.Name, dtype: x.DataType, shape: x.Dimensions}
		if x.OrtValueType != ort.ONNXTypeTensor {
			out[i].dtype = -1
		}
	}
	return out
}

func list(ts []tensorInfo) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

// bindInputs checks the manifest's inputs against the graph's: every graph
// input fed, every listed name a graph input, dtypes equal, rank 2 with a
// dynamic batch.
func (m *Model) bindInputs(graph []tensorInfo) error {
	byName := map[string]tensorInfo{}
	for _, g := range graph {
		byName[g.name] = g
	}
	specs := m.spec.Inputs
	key := "onnx.inputs"
	if len(specs) == 0 {
		key = "onnx.inputs (not given: inferred from the graph's input names)"
		for _, g := range graph {
			src, ok := defaultInputs[g.name]
			if !ok {
				return invalid(key, "graph input %s has no conventional name (input_ids, attention_mask, token_type_ids): list the inputs with their sources", g)
			}
			specs = append(specs, InputSpec{Name: g.name, Source: src})
		}
	}
	fed := map[string]bool{}
	for i, in := range specs {
		g, ok := byName[in.Name]
		if !ok {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "%q is not an input of %s (graph inputs: %s)", in.Name, m.artifact, list(graph))
		}
		if g.dtype != ort.TensorElementDataTypeInt64 && g.dtype != ort.TensorElementDataTypeInt32 {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "graph input %s is not an int64 or int32 tensor: mlserve feeds token ids", g)
		}
		if in.DType != "" && in.DType != dtypeName(g.dtype) {
			return invalid(fmt.Sprintf("%s[%d].dtype", key, i), "%s, but %s's input is %s", in.DType, m.artifact, g)
		}
		if len(g.shape) != 2 {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "graph input %s is not [batch, sequence]", g)
		}
		if g.shape[0] >= 0 {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "graph input %s has a fixed batch size: export it with a dynamic batch axis", g)
		}
		if n := g.shape[1]; n >= 0 && !(m.enc.Padding == preprocess.PadMaxLength && m.enc.MaxLength == int(n)) {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "graph input %s has a fixed sequence length: set onnx.tokenizer max_length: %d and padding: max_length", g, n)
		}
		fed[in.Name] = true
		m.inputs = append(m.inputs, binding{name: in.Name, source: in.Source, dtype: g.dtype})
	}
	for _, g := range graph {
		if !fed[g.name] {
			return invalid(key, "graph input %s is not listed: give it a source (ids, mask or type_ids)", g)
		}
	}
	names := make([]string, len(m.inputs))
	for i, b := range m.inputs {
		names[i] = fmt.Sprintf("%s (%s)", b.name, b.source)
	}
	m.info.Features["inputs"] = names
	return nil
}

// bindOutput checks the output the manifest names against the graph's.
func (m *Model) bindOutput(graph []tensorInfo) error {
	o := &m.spec.Output
	if o.Name == "" {
		if len(graph) != 1 {
			return invalid("onnx.output.name", "required: %s has %d outputs (%s)", m.artifact, len(graph), list(graph))
		}
		o.Name = graph[0].name
	}
	var out tensorInfo
	found := false
	for _, g := range graph {
		if g.name == o.Name {
			out, found = g, true
		}
	}
	if !found {
		return invalid("onnx.output.name", "%q is not an output of %s (graph outputs: %s)", o.Name, m.artifact, list(graph))
	}
	if out.dtype != ort.TensorElementDataTypeFloat && out.dtype != ort.TensorElementDataTypeDouble {
		return invalid("onnx.output.name", "output %s is not a float32 or float64 tensor", out)
	}
	if len(out.shape) > 0 && out.shape[0] >= 0 {
		return invalid("onnx.output.name", "output %s has a fixed batch size: export it with a dynamic batch axis", out)
	}
	switch o.Kind {
	case KindLogits, KindMultiLabel, KindProbabilities:
		if len(out.shape) != 2 {
			return invalid("onnx.output.name", "%s output %s is not [batch, classes]", o.Kind, out)
		}
	case KindEmbedding:
		switch len(out.shape) {
		case 2:
			if o.Pooling == PoolMean || o.Pooling == PoolCLS {
				return invalid("onnx.output.pooling", "output %s is already one vector per text: pooling must be none", out)
			}
			o.Pooling = PoolNone
		case 3:
			if o.Pooling == "" {
				o.Pooling = PoolMean
			}
			if o.Pooling == PoolNone {
				return invalid("onnx.output.pooling", "output %s has a vector per token: pooling must be mean or cls", out)
			}
		default:
			return invalid("onnx.output.name", "embedding output %s is not [batch, hidden] or [batch, sequence, hidden]", out)
		}
		if d := out.shape[len(out.shape)-1]; d >= 0 && int(d) != m.clf.Dim() {
			return invalid("onnx.classifier", "%s takes %d features, the embeddings of %s have %d", m.spec.Classifier, m.clf.Dim(), out, d)
		}
		m.info.Features["embedding_dim"] = out.shape[len(out.shape)-1]
		m.info.Features["pooling"] = o.Pooling
		m.info.Features["normalize"] = o.Normalize
	}
	m.out = out
	m.info.Features["output"] = fmt.Sprintf("%s (%s)", out, o.Kind)
	return nil
}

// setLabels takes the labels from the manifest or the classifier stage.
func (m *Model) setLabels(labels []string) error {
	if m.clf != nil {
		if len(labels) > 0 && !slices.Equal(labels, m.clf.Labels()) {
			return invalid("labels", "%v differ from the classifier's classes %v (leave labels out to use them)", labels, m.clf.Labels())
		}
		m.labels = m.clf.Labels()
		return nil
	}
	if len(labels) < 2 {
		return invalid("labels", "an ONNX model with %s output needs its class labels (at least 2), in output order", m.spec.Output.Kind)
	}
	if w := m.out.shape[1]; w >= 0 && int(w) != len(labels) {
		return invalid("labels", "%d labels for output %s", len(labels), m.out)
	}
	m.labels = labels
	return nil
}

// newSession creates the session on the graph at path; it returns the
// execution provider used.
func (m *Model) newSession(path string, o Options) (string, error) {
	names := make([]string, len(m.inputs))
	for i, b := range m.inputs {
		names[i] = b.name
	}
	create := func(o Options) (string, error) {
		so, provider, err := sessionOptions(o)
		if err != nil {
			return "", err
		}
		defer so.Destroy()
		m.sess, err = ort.NewDynamicAdvancedSession(path, names, []string{m.out.name}, so)
		return provider, err
	}
	provider, err := create(o)
	if err != nil && provider == "cuda" {
		o.log().Warn("CUDA session failed; running on the CPU", "model", m.artifact, "error", ortReason(err))
		o.ExecutionProvider = "cpu"
		provider, err = create(o)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s: %s", model.ErrInvalid, m.artifact, ortReason(err))
	}
	return provider, nil
}

// describe fills Info from what is known after the session exists.
func (m *Model) describe(provider string) {
	f := m.info.Features
	f["execution_provider"] = provider
	if md, err := m.sess.GetModelMetadata(); err == nil {
		if p, err := md.GetProducerName(); err == nil && p != "" {
			f["producer"] = p
		}
		md.Destroy()
	}
	est := []string{"ONNX", map[string]string{TokRegex: "RegexTokenizer", TokWhitespace: "WhitespaceTokenizer", TokWordPiece: "WordPiece"}[m.spec.Tokenizer.Type]}
	if m.hf != nil {
		est[1] = "HFTokenizer(" + m.hf.Model() + ")"
	}
	m.info.Framework = "onnx"
	switch m.spec.Output.Kind {
	case KindLogits:
		est = append(est, "Softmax")
		m.info.Probabilistic = true
		m.info.Confidence = "softmax of the graph's logits, taken at the predicted label"
	case KindMultiLabel:
		est = append(est, "Sigmoid")
		m.info.Probabilistic = true
		m.info.Confidence = fmt.Sprintf("sigmoid of the predicted label's logit (multi-label: every label over %g is returned in labels)", m.threshold)
	case KindProbabilities:
		m.info.Probabilistic = true
		m.info.Confidence = "the graph's probability of the predicted label"
	case KindEmbedding:
		switch m.spec.Output.Pooling {
		case PoolMean:
			est = append(est, "MeanPooling")
		case PoolCLS:
			est = append(est, "CLSPooling")
		}
		if m.spec.Output.Normalize {
			est = append(est, "L2Normalize")
		}
		est = append(est, m.clf.Estimator()...)
		ci := m.clf.Info()
		m.info.Probabilistic = ci.Probabilistic
		m.info.Confidence = ci.Confidence
		m.info.LibraryVersion = ci.LibraryVersion
		f["classifier"] = ci.Features
	}
	m.info.Estimator = est
}

// Labels are the class labels, in the order of Prediction.Probabilities.
func (m *Model) Labels() []string { return m.labels }

// Info describes the model: tokenizer, graph inputs and output, stages.
func (m *Model) Info() model.Info { return m.info }

// Close releases the ONNX Runtime session; it waits for runs in flight.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.sess.Destroy()
}

// Tokens are one text's model inputs, unpadded, after truncation.
type Tokens struct {
	IDs     []int64 `json:"ids"`
	Mask    []int64 `json:"mask"`
	TypeIDs []int64 `json:"type_ids"`
}

// Encode returns what the tokenizer makes of each text, as the graph
// receives it but without padding.
func (m *Model) Encode(texts []string) ([]Tokens, error) {
	var b *preprocess.Batch
	var err error
	if m.hf != nil {
		b = new(preprocess.Batch)
		err = m.encodeHF(b, texts, nil)
	} else {
		b, err = preprocess.EncodeBatch(m.tok, texts, m.enc)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Tokens, len(texts))
	for i := range texts {
		n := b.Lens[i]
		row := b.IDs[i*b.Cols : i*b.Cols+n]
		out[i] = Tokens{IDs: append([]int64{}, row...),
			Mask:    append([]int64{}, b.Mask[i*b.Cols:i*b.Cols+n]...),
			TypeIDs: append([]int64{}, b.TypeIDs[i*b.Cols:i*b.Cols+n]...)}
	}
	return out, nil
}

// dtypeName names an element type as numpy does.
func dtypeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	case ort.TensorElementDataTypeInt16:
		return "int16"
	case ort.TensorElementDataTypeInt8:
		return "int8"
	case ort.TensorElementDataTypeUint8:
		return "uint8"
	case ort.TensorElementDataTypeBool:
		return "bool"
	case ort.TensorElementDataTypeString:
		return "string"
	case -1:
		return "non-tensor"
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
}

// ortReason trims onnxruntime_go's wrapping from an ONNX Runtime error.
func ortReason(err error) string {
	s := err.Error()
	for _, p := range []string{"Error creating C session: ", "Error creating C session from file: ", "Error running network: ", "Error creating ORT session: ", "Error creating temporary session: ", "Error loading temporary session: "} {
		if i := strings.Index(s, p); i >= 0 {
			s = s[i+len(p):]
		}
	}
	return s
}

// fileErr describes a failure to read a file the manifest names (key): a
// file missing from the version folder is an invalid model (a folder uploaded
// without its vocabulary, say), not a server fault.
func fileErr(key, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s %s: %s is not in the version folder", model.ErrInvalid, model.ManifestFile, key, name)
	}
	return fmt.Errorf("%s %s: %w", key, name, err)
}
