package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/preprocess"
	"github.com/mlserve/mlserve/internal/tokenizer"
)

// The files of a Hugging Face export (what `optimum-cli export onnx --task
// text-classification` writes beside model.onnx) that mlserve reads.
const (
	// ConfigFile is the transformers configuration: id2label gives the
	// labels (in id order), problem_type softmax or sigmoid, pad_token_id
	// the padding id.
	ConfigFile = "config.json"
	// TokenizerFile is the tokenizer: normalizer, pre-tokenizer, model,
	// post-processor, added tokens and truncation.
	TokenizerFile = "tokenizer.json"
	// TokenizerConfigFile gives model_max_length, the truncation when
	// tokenizer.json has none.
	TokenizerConfigFile = "tokenizer_config.json"
)

// DefaultHFMaxLength is a huggingface tokenizer's max_length when neither
// model.yaml, tokenizer.json nor tokenizer_config.json sets one: the
// position limit of BERT- and RoBERTa-sized encoders.
const DefaultHFMaxLength = 512

// maxConfigBytes bounds config.json and tokenizer_config.json: a few
// kilobytes in practice; a large id2label (thousands of classes) fits.
const maxConfigBytes = 4 << 20

// Problem types of config.json.
const (
	problemSingle = "single_label_classification"
	problemMulti  = "multi_label_classification"
)

// hfConfig is what mlserve reads of a transformers config.json.
type hfConfig struct {
	ID2Label    map[string]string `json:"id2label"`
	NumLabels   *int              `json:"num_labels"`
	ProblemType string            `json:"problem_type"`
	PadTokenID  *int              `json:"pad_token_id"`
}

// readHFConfig reads dir's config.json; nil, nil when the folder has none.
func readHFConfig(dir string) (*hfConfig, error) {
	var c hfConfig
	found, err := readJSON(dir, ConfigFile, &c)
	if err != nil || !found {
		return nil, err
	}
	return &c, nil
}

// readJSON decodes the file name of dir into v; false when it is absent.
// The file must stay inside dir and be at most maxConfigBytes.
func readJSON(dir, name string, v any) (bool, error) {
	path, err := model.ResolvePath(dir, name, name)
	if err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxConfigBytes {
		return false, fmt.Errorf("%w: %s is larger than %d bytes", model.ErrInvalid, name, maxConfigBytes)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%w: %s: %s", model.ErrInvalid, name, model.ContentFreeError(err))
	}
	return true, nil
}

// labels returns id2label's labels in id order. The ids must be 0..n-1,
// each once, and agree with num_labels when it is given.
func (c *hfConfig) labels() ([]string, error) {
	if len(c.ID2Label) == 0 {
		return nil, nil
	}
	out := make([]string, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(out) || strconv.Itoa(id) != k {
			return nil, fmt.Errorf("%w: %s id2label: id %q is not one of 0..%d (ids must number the outputs from 0)",
				model.ErrInvalid, ConfigFile, k, len(out)-1)
		}
		if v == "" {
			return nil, fmt.Errorf("%w: %s id2label: label %d is empty", model.ErrInvalid, ConfigFile, id)
		}
		out[id] = v // canonical, distinct and in range: every slot is filled once
	}
	if c.NumLabels != nil && *c.NumLabels != len(out) {
		return nil, fmt.Errorf("%w: %s: num_labels %d but id2label has %d labels", model.ErrInvalid, ConfigFile, *c.NumLabels, len(out))
	}
	return out, nil
}

// hfSpec is the onnx: section a folder with config.json implies: a
// huggingface tokenizer from tokenizer.json, the graph's inputs by their
// names, and its one output read as logits (softmax) or, for
// problem_type multi_label_classification, as one sigmoid per label.
// n, model.yaml's onnx: section, may override any part; a tokenizer type
// given there replaces the whole implied tokenizer.
func hfSpec(c *hfConfig, n *yaml.Node) (*Spec, error) {
	s := &Spec{Tokenizer: TokenizerSpec{Type: TokHF, TokenizerJSON: TokenizerFile}, Output: OutputSpec{Kind: KindLogits}}
	switch c.ProblemType {
	case "", problemSingle:
	case problemMulti:
		s.Output.Kind = KindMultiLabel
	default:
		return nil, fmt.Errorf("%w: %s problem_type %q: mlserve serves %s and %s", model.ErrUnsupported, ConfigFile,
			c.ProblemType, problemSingle, problemMulti)
	}
	if hasKey(n, "tokenizer", "type") {
		s.Tokenizer = TokenizerSpec{}
	}
	return parseSpec(n, s)
}

// hasKey says whether the mapping n holds the nested key path.
func hasKey(n *yaml.Node, path ...string) bool {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n != nil
}

// buildHFTokenizer loads tokenizer.json for a huggingface tokenizer spec:
// truncation from model.yaml, else tokenizer.json, else
// tokenizer_config.json's model_max_length, else DefaultHFMaxLength;
// padding is mlserve's own (longest or max_length, with the pad id of
// model.yaml's pad_token, else config.json's pad_token_id, else
// tokenizer.json's padding).
func (m *Model) buildHFTokenizer(dir string, paths files) error {
	t := m.spec.Tokenizer
	opts := tokenizer.Options{NoPadding: true}
	if t.MaxLength > 0 {
		opts.Truncation = &tokenizer.Truncation{MaxLength: t.MaxLength}
	}
	tk, err := loadTokenizer(paths.tokenizerJSON, t.TokenizerJSON, opts)
	if err != nil {
		return err
	}
	source := "model.yaml"
	if opts.Truncation == nil {
		source = t.TokenizerJSON
		if tk.Truncation() == nil {
			n, from, err := modelMaxLength(dir)
			if err != nil {
				return err
			}
			source = from
			opts.Truncation = &tokenizer.Truncation{MaxLength: n}
			if tk, err = loadTokenizer(paths.tokenizerJSON, t.TokenizerJSON, opts); err != nil {
				return err
			}
		}
	}
	maxLen := tk.Truncation().MaxLength
	if maxLen <= 0 || maxLen > MaxLengthLimit {
		return invalid("onnx.tokenizer.max_length", "%d (from %s) is not in 1..%d", maxLen, source, MaxLengthLimit)
	}
	pad, err := m.hfPadID(tk, t)
	if err != nil {
		return err
	}
	m.unk = -1 // no unknown token: nothing is out of vocabulary
	for _, name := range []string{t.UnkToken, "<unk>", "[UNK]", "<UNK>"} {
		if id, ok := tk.TokenID(name); ok && name != "" {
			m.unk = id
			break
		}
	}
	if t.UnkToken != "" && m.unk < 0 {
		return invalid("onnx.tokenizer.unk_token", "%q is not a token of %s", t.UnkToken, t.TokenizerJSON)
	}
	m.hf = tk
	m.tok = hfWords{tk}
	m.enc = preprocess.EncodeOptions{MaxLength: maxLen, Padding: t.Padding, PAD: pad}
	if err := m.enc.Validate(); err != nil {
		return fmt.Errorf("%w: %s onnx.tokenizer: %w", model.ErrInvalid, model.ManifestFile, err)
	}
	m.info.Features = map[string]any{
		"tokenizer":       t.Type,
		"tokenizer_model": tk.Model(),
		"vocab_size":      tk.VocabSize(),
		"max_length":      maxLen,
		"padding":         t.Padding,
	}
	return nil
}

// loadTokenizer reads tokenizer.json, mapping its errors to the model's.
func loadTokenizer(path, name string, opts tokenizer.Options) (*tokenizer.Tokenizer, error) {
	tk, err := tokenizer.LoadFile(path, opts)
	switch {
	case err == nil:
		return tk, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fileErr("onnx.tokenizer.tokenizer_json", name, err)
	case errors.Is(err, tokenizer.ErrUnsupported):
		return nil, fmt.Errorf("%w: %s: %s", model.ErrUnsupported, name, model.ContentFreeError(err))
	default:
		return nil, fmt.Errorf("%w: %s: %s", model.ErrInvalid, name, model.ContentFreeError(err))
	}
}

// modelMaxLength reads tokenizer_config.json's model_max_length; transformers
// writes a huge sentinel (int(1e30)) when the model has no limit, which
// counts as none. It returns DefaultHFMaxLength when there is no limit.
func modelMaxLength(dir string) (int, string, error) {
	var tc struct {
		ModelMaxLength *float64 `json:"model_max_length"`
	}
	found, err := readJSON(dir, TokenizerConfigFile, &tc)
	if err != nil {
		return 0, "", err
	}
	if found && tc.ModelMaxLength != nil && *tc.ModelMaxLength >= 1 && *tc.ModelMaxLength <= MaxLengthLimit {
		return int(*tc.ModelMaxLength), TokenizerConfigFile, nil
	}
	return DefaultHFMaxLength, "the default", nil
}

// hfPadID picks the id padding positions hold. It matters beyond the
// mask: RoBERTa-family graphs number positions by counting the ids that
// are not the pad id.
func (m *Model) hfPadID(tk *tokenizer.Tokenizer, t TokenizerSpec) (int, error) {
	if t.PadToken != "" {
		id, ok := tk.TokenID(t.PadToken)
		if !ok {
			return 0, invalid("onnx.tokenizer.pad_token", "%q is not a token of %s", t.PadToken, t.TokenizerJSON)
		}
		return id, nil
	}
	if m.hfConfig != nil && m.hfConfig.PadTokenID != nil {
		id := *m.hfConfig.PadTokenID
		if id < 0 || id >= tk.VocabSize() {
			return 0, fmt.Errorf("%w: %s pad_token_id %d is outside the vocabulary of %d ids", model.ErrInvalid, ConfigFile, id, tk.VocabSize())
		}
		return id, nil
	}
	if p := tk.Padding(); p != nil {
		return p.ID, nil
	}
	for _, name := range []string{"<pad>", "[PAD]"} {
		if id, ok := tk.TokenID(name); ok {
			return id, nil
		}
	}
	return 0, invalid("onnx.tokenizer.pad_token", "required: neither %s (pad_token_id) nor %s names the padding token", ConfigFile, t.TokenizerJSON)
}

// encodeHF encodes texts with the huggingface tokenizer into b, padded as
// m.enc says: each row as tokenizer.json's post-processor makes it
// (special tokens and segment ids included), truncated to max_length. A
// non-nil oov receives each text's share of unknown ids among the ids
// from its text (special tokens aside), as OOVRate counts them.
func (m *Model) encodeHF(b *preprocess.Batch, texts []string, oov []model.OOVRate) error {
	encs := make([]tokenizer.Encoding, len(texts))
	cols := 0
	for i, s := range texts {
		e, err := m.hf.Encode(s)
		if err != nil {
			return fmt.Errorf("%w: text %d: %w", model.ErrInvalid, i, err)
		}
		encs[i] = e
		cols = max(cols, len(e.IDs))
		if oov != nil {
			words, unknown := 0, 0
			for j, id := range e.IDs {
				if e.SpecialTokensMask[j] == 0 {
					words++
					if id == m.unk {
						unknown++
					}
				}
			}
			oov[i] = model.OOVRate{Measured: true}
			if words > 0 {
				oov[i].Rate = float64(unknown) / float64(words)
			}
		}
	}
	if m.enc.Padding == preprocess.PadMaxLength {
		cols = m.enc.MaxLength
	}
	b.Rows, b.Cols = len(texts), cols
	b.Lens = b.Lens[:0]
	n := b.Rows * cols
	b.IDs, b.Mask, b.TypeIDs = resize(b.IDs, n), resize(b.Mask, n), resize(b.TypeIDs, n)
	for i, e := range encs {
		row := i * cols
		for j := range cols {
			if j < len(e.IDs) {
				b.IDs[row+j], b.Mask[row+j], b.TypeIDs[row+j] = int64(e.IDs[j]), 1, int64(e.TypeIDs[j])
			} else {
				b.IDs[row+j], b.Mask[row+j], b.TypeIDs[row+j] = int64(m.enc.PAD), 0, 0
			}
		}
		b.Lens = append(b.Lens, len(e.IDs))
	}
	return nil
}

func resize(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

// hfWords gives a huggingface tokenizer's ids of a text without the
// special tokens the post-processor adds: what an out-of-vocabulary rate
// counts (OOVRate).
type hfWords struct{ tk *tokenizer.Tokenizer }

func (h hfWords) Tokenize(text string, dst []int) []int { return h.TokenizeN(text, dst, 0) }

func (h hfWords) TokenizeN(text string, dst []int, limit int) []int {
	e, err := h.tk.Encode(text)
	if err != nil {
		return dst // OOV only: Predict reports the error
	}
	n := 0
	for j, id := range e.IDs {
		if e.SpecialTokensMask[j] == 0 && (limit <= 0 || n < limit) {
			dst = append(dst, id)
			n++
		}
	}
	return dst
}

// Threshold is a multi-label model's threshold (model.yaml's threshold,
// else model.DefaultThreshold); ok is false for other output kinds.
func (m *Model) Threshold() (float64, bool) {
	return m.threshold, m.spec.Output.Kind == KindMultiLabel
}

var _ model.MultiLabel = (*Model)(nil)
