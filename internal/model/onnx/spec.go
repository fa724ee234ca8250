package onnx

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
)

// Spec is the onnx: section of an ONNX model's model.yaml.
type Spec struct {
	// Tokenizer turns a text into vocabulary ids.
	Tokenizer TokenizerSpec `yaml:"tokenizer"`
	// Inputs say what each graph input receives. Empty means every graph
	// input is named input_ids, attention_mask or token_type_ids and gets
	// ids, mask or type_ids in the graph's own dtype.
	Inputs []InputSpec `yaml:"inputs"`
	// Output names the graph output that is read and what it holds.
	Output OutputSpec `yaml:"output"`
	// Classifier is a scikit-learn estimator on the embeddings (file in the
	// version folder); required when Output.Kind is embedding.
	Classifier string `yaml:"classifier"`
}

// TokenizerSpec configures the tokenizer and the padded batch it makes.
type TokenizerSpec struct {
	// Type is regex, whitespace, wordpiece or huggingface (any
	// tokenizer.json: its normalizer, pre-tokenizer, model and
	// post-processor, special tokens included).
	Type string `yaml:"type"`
	// Pattern is the regex tokenizer's Python re token pattern; empty is
	// scikit-learn's default (?u)\b\w\w+\b.
	Pattern string `yaml:"pattern"`
	// Lowercase is Python's str.lower (regex, whitespace) or Hugging Face's
	// BertNormalizer lowercase (wordpiece); default true.
	Lowercase *bool `yaml:"lowercase"`
	// StripAccents is null, ascii or unicode as in scikit-learn (regex,
	// whitespace). For wordpiece, null follows Lowercase as Hugging Face
	// does, ascii or unicode strips accents and none keeps them.
	StripAccents *string `yaml:"strip_accents"`
	// Vocab is a vocab.txt in the version folder: one token per line, its id
	// the 0-based line number.
	Vocab string `yaml:"vocab"`
	// TokenizerJSON is a Hugging Face tokenizer.json: required for
	// huggingface, an alternative to Vocab for wordpiece (its normalizer
	// settings replace Lowercase and StripAccents).
	TokenizerJSON string `yaml:"tokenizer_json"`
	// UnkToken replaces words missing from the vocabulary; default <unk>
	// (regex, whitespace) or [UNK] (wordpiece).
	UnkToken string `yaml:"unk_token"`
	// PadToken pads short rows; default <pad> or [PAD].
	PadToken string `yaml:"pad_token"`
	// MaxLength truncates each text to this many ids, special tokens
	// included; 0 means no limit for regex and whitespace, 512 for
	// wordpiece (BERT's position limit), and for huggingface the
	// truncation of tokenizer.json, else tokenizer_config.json's
	// model_max_length, else 512.
	MaxLength int `yaml:"max_length"`
	// Padding is longest (pad the batch to its longest row) or max_length.
	Padding string `yaml:"padding"`
	// AddSpecialTokens wraps each text as [CLS] ... [SEP]; default true for
	// wordpiece, and only wordpiece has them.
	AddSpecialTokens *bool `yaml:"add_special_tokens"`
}

// InputSpec binds one graph input to what the tokenizer makes.
type InputSpec struct {
	// Name is the graph input's name.
	Name string `yaml:"name"`
	// Source is ids, mask or type_ids.
	Source string `yaml:"source"`
	// DType is the input's element type, int64 or int32; it must equal the
	// graph's. Empty means the graph's.
	DType string `yaml:"dtype"`
}

// OutputSpec says which graph output is read and what it holds.
type OutputSpec struct {
	// Name is the graph output; empty means the graph's only output.
	Name string `yaml:"name"`
	// Kind is logits (softmax is applied), multi_label_logits (a sigmoid
	// per label: a multi-label model), probabilities or embedding.
	Kind string `yaml:"kind"`
	// Pooling reduces an embedding output of shape [batch, seq, hidden] to
	// one vector per text: mean (over the attention mask, the default) or
	// cls (the first position). An output of shape [batch, hidden] is
	// already pooled: leave Pooling empty or none.
	Pooling string `yaml:"pooling"`
	// Normalize L2-normalises the pooled embedding.
	Normalize bool `yaml:"normalize"`
}

// Sources of a graph input.
const (
	SourceIDs     = "ids"
	SourceMask    = "mask"
	SourceTypeIDs = "type_ids"
)

// Output kinds.
const (
	KindLogits        = "logits"
	KindMultiLabel    = "multi_label_logits"
	KindProbabilities = "probabilities"
	KindEmbedding     = "embedding"
)

// Tokenizer types.
const (
	TokRegex      = "regex"
	TokWhitespace = "whitespace"
	TokWordPiece  = "wordpiece"
	TokHF         = "huggingface"
)

// Pooling modes.
const (
	PoolNone = "none"
	PoolMean = "mean"
	PoolCLS  = "cls"
)

// MaxLengthLimit bounds onnx.tokenizer.max_length. With max_length
// padding every row of a batch is padded to it, so it sizes each run's
// input tensors (rows × max_length ids, mask and type ids) and the graph's
// activations; the longest-context text encoders in use take 8,192
// positions, so 65,536 leaves room while keeping one row's inputs under a
// megabyte.
const MaxLengthLimit = 1 << 16

// defaultInputs maps the conventional graph input names to their sources.
var defaultInputs = map[string]string{
	"input_ids": SourceIDs, "attention_mask": SourceMask, "token_type_ids": SourceTypeIDs,
}

// ParseSpec decodes an onnx: section strictly: an unknown key, a wrong type
// or a missing section is an error wrapping model.ErrInvalid. Defaults are
// filled and every value checked that can be without the graph.
func ParseSpec(n *yaml.Node) (*Spec, error) {
	if n == nil || n.Kind == 0 {
		return nil, invalid("onnx", "missing: an ONNX model's %s needs an onnx: section (tokenizer, inputs, output), "+
			"or the folder a config.json and tokenizer.json (a Hugging Face export)", model.ManifestFile)
	}
	return parseSpec(n, &Spec{})
}

// parseSpec decodes n (which may be empty) over s, whose fields are the
// defaults, and checks the result.
func parseSpec(n *yaml.Node, s *Spec) (*Spec, error) {
	if n == nil || n.Kind == 0 {
		return s, s.check()
	}
	// yaml.Node.Decode has no KnownFields: check the keys against the
	// struct first, so errors keep model.yaml's line numbers.
	if err := knownKeys(n, reflect.TypeOf(Spec{}), "onnx"); err != nil {
		return nil, err
	}
	if err := n.Decode(s); err != nil {
		// model.yaml is inside the version folder (a link out is refused
		// before it is read), so its own values may be quoted.
		return nil, invalid("onnx", "%s", strings.ReplaceAll(err.Error(), "\n  ", " "))
	}
	return s, s.check()
}

// knownKeys refuses a mapping key that no field of t (or of its nested
// structs) is tagged with.
func knownKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				if err := knownKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			return nil
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return nil
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		fields[tag] = t.Field(i).Type
		names = append(names, tag)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			return invalid(path, "line %d: unknown key %q (known: %s)", k.Line, k.Value, strings.Join(names, ", "))
		}
		if err := knownKeys(n.Content[i+1], ft, path+"."+k.Value); err != nil {
			return err
		}
	}
	return nil
}

// invalid is a manifest error naming the key.
func invalid(key, format string, a ...any) error {
	return fmt.Errorf("%w: %s %s: %s", model.ErrInvalid, model.ManifestFile, key, fmt.Sprintf(format, a...))
}

func (s *Spec) check() error {
	t := &s.Tokenizer
	lowercaseSet := t.Lowercase != nil
	if t.Lowercase == nil {
		t.Lowercase = ptr(true)
	}
	switch t.Type {
	case TokHF:
		if t.TokenizerJSON == "" {
			return invalid("onnx.tokenizer.tokenizer_json", "required: a huggingface tokenizer is its tokenizer.json")
		}
		for key, set := range map[string]bool{"pattern": t.Pattern != "", "vocab": t.Vocab != "", "lowercase": lowercaseSet,
			"strip_accents": t.StripAccents != nil} {
			if set {
				return invalid("onnx.tokenizer."+key, "a huggingface tokenizer takes it from tokenizer.json")
			}
		}
		if t.AddSpecialTokens != nil && !*t.AddSpecialTokens {
			return invalid("onnx.tokenizer.add_special_tokens", "a huggingface tokenizer adds what tokenizer.json's post-processor says")
		}
		t.AddSpecialTokens = ptr(true)
	case TokRegex, TokWhitespace:
		if t.TokenizerJSON != "" {
			return invalid("onnx.tokenizer.tokenizer_json", "only a wordpiece tokenizer reads tokenizer.json")
		}
		if t.Pattern != "" && t.Type == TokWhitespace {
			return invalid("onnx.tokenizer.pattern", "only a regex tokenizer has a pattern")
		}
		if t.Vocab == "" {
			return invalid("onnx.tokenizer.vocab", "required: the vocabulary file (one token per line)")
		}
		if t.StripAccents != nil {
			switch *t.StripAccents {
			case "ascii", "unicode":
			default:
				return invalid("onnx.tokenizer.strip_accents", "%q is not null, ascii or unicode", *t.StripAccents)
			}
		}
		if t.AddSpecialTokens != nil && *t.AddSpecialTokens {
			return invalid("onnx.tokenizer.add_special_tokens", "only a wordpiece tokenizer has [CLS] and [SEP]")
		}
		t.AddSpecialTokens = ptr(false)
		t.UnkToken = or(t.UnkToken, "<unk>")
		t.PadToken = or(t.PadToken, "<pad>")
	case TokWordPiece:
		if t.Pattern != "" {
			return invalid("onnx.tokenizer.pattern", "only a regex tokenizer has a pattern")
		}
		if (t.Vocab == "") == (t.TokenizerJSON == "") {
			return invalid("onnx.tokenizer", "a wordpiece tokenizer needs exactly one of vocab and tokenizer_json")
		}
		if t.StripAccents != nil {
			switch *t.StripAccents {
			case "ascii", "unicode", "none":
			default:
				return invalid("onnx.tokenizer.strip_accents", "%q is not null, ascii, unicode or none", *t.StripAccents)
			}
		}
		if t.AddSpecialTokens == nil {
			t.AddSpecialTokens = ptr(true)
		}
		if t.MaxLength == 0 {
			t.MaxLength = 512
		}
	case "":
		return invalid("onnx.tokenizer.type", "required: regex, whitespace, wordpiece or huggingface")
	default:
		return invalid("onnx.tokenizer.type", "%q is not regex, whitespace, wordpiece or huggingface", t.Type)
	}
	if t.MaxLength < 0 {
		return invalid("onnx.tokenizer.max_length", "must not be negative, got %d", t.MaxLength)
	}
	if t.MaxLength > MaxLengthLimit {
		return invalid("onnx.tokenizer.max_length", "%d is above the limit of %d positions", t.MaxLength, MaxLengthLimit)
	}
	t.Padding = or(t.Padding, preprocess.PadLongest)
	switch t.Padding {
	case preprocess.PadLongest:
	case preprocess.PadMaxLength:
		if t.MaxLength == 0 && t.Type != TokHF {
			return invalid("onnx.tokenizer.padding", "max_length padding needs max_length")
		}
	default:
		return invalid("onnx.tokenizer.padding", "%q is not longest or max_length", t.Padding)
	}
	if *t.AddSpecialTokens && t.Type != TokHF && t.MaxLength > 0 && t.MaxLength < 2 {
		return invalid("onnx.tokenizer.max_length", "%d leaves no room for [CLS] and [SEP]", t.MaxLength)
	}

	seen := map[string]bool{}
	for i, in := range s.Inputs {
		key := fmt.Sprintf("onnx.inputs[%d]", i)
		if in.Name == "" {
			return invalid(key+".name", "required")
		}
		if seen[in.Name] {
			return invalid(key+".name", "%q is listed twice", in.Name)
		}
		seen[in.Name] = true
		switch in.Source {
		case SourceIDs, SourceMask, SourceTypeIDs:
		default:
			return invalid(key+".source", "%q is not ids, mask or type_ids", in.Source)
		}
		switch in.DType {
		case "", "int64", "int32":
		default:
			return invalid(key+".dtype", "%q is not int64 or int32", in.DType)
		}
	}

	o := &s.Output
	switch o.Kind {
	case KindLogits, KindMultiLabel, KindProbabilities:
		if o.Pooling != "" || o.Normalize {
			return invalid("onnx.output", "pooling and normalize apply to an embedding output, not %s", o.Kind)
		}
		if s.Classifier != "" {
			return invalid("onnx.classifier", "a classifier stage needs output kind embedding, not %s", o.Kind)
		}
	case KindEmbedding:
		switch o.Pooling {
		case "", PoolNone, PoolMean, PoolCLS:
		default:
			return invalid("onnx.output.pooling", "%q is not mean, cls or none", o.Pooling)
		}
		if s.Classifier == "" {
			return invalid("onnx.classifier", "required with output kind embedding: the scikit-learn estimator on the embeddings")
		}
	case "":
		return invalid("onnx.output.kind", "required: logits, multi_label_logits, probabilities or embedding")
	default:
		return invalid("onnx.output.kind", "%q is not logits, multi_label_logits, probabilities or embedding", o.Kind)
	}
	return nil
}

// files are the paths of the files a spec names, each resolved inside the
// version folder.
type files struct {
	artifact, vocab, tokenizerJSON, classifier string
}

// resolve confines every file the manifest names (the artifact, the
// vocabulary, tokenizer.json, the classifier) to the version folder dir:
// an absolute name, a ".." that climbs out, or a symbolic link that leads
// out is an error wrapping model.ErrInvalid naming the key, and nothing
// outside dir is ever opened.
func (s *Spec) resolve(dir, artifact string) (files, error) {
	var f files
	for _, k := range []struct {
		key, name string
		dst       *string
	}{
		{"artifact", artifact, &f.artifact},
		{"onnx.tokenizer.vocab", s.Tokenizer.Vocab, &f.vocab},
		{"onnx.tokenizer.tokenizer_json", s.Tokenizer.TokenizerJSON, &f.tokenizerJSON},
		{"onnx.classifier", s.Classifier, &f.classifier},
	} {
		if k.name == "" {
			continue
		}
		p, err := model.ResolvePath(dir, k.key, k.name)
		if err != nil {
			return files{}, err
		}
		*k.dst = p
	}
	return f, nil
}

func ptr[T any](v T) *T { return &v }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
