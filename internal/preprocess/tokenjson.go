package preprocess

import (
	"encoding/json"
	"fmt"
	"io"
)

// maxTokenizerJSON bounds the size of a tokenizer.json.
const maxTokenizerJSON = 64 << 20

// hfTokenizer is the part of a Hugging Face tokenizer.json that a BERT
// WordPiece tokenizer needs.
type hfTokenizer struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type          string            `json:"type"`
		SEP           []json.RawMessage `json:"sep"`
		CLS           []json.RawMessage `json:"cls"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
	} `json:"post_processor"`
	Padding *struct {
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Truncation *struct {
		MaxLength int `json:"max_length"`
	} `json:"truncation"`
	Model *struct {
		Type                    string         `json:"type"`
		UnkToken                *string        `json:"unk_token"`
		ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int           `json:"max_input_chars_per_word"`
		Vocab                   map[string]int `json:"vocab"`
	} `json:"model"`
}

// LoadTokenizerJSON reads a Hugging Face tokenizer.json for a BERT WordPiece
// tokenizer: normalizer BertNormalizer, pre_tokenizer BertPreTokenizer and
// model WordPiece. Special added tokens are matched verbatim before
// normalization, as Hugging Face does; [CLS] and [SEP] come from the
// post_processor (TemplateProcessing or BertProcessing) and [PAD] from
// padding, else from their usual names. The file's own truncation and
// padding are not applied: [EncodeOptions] decide them; the declared
// truncation length is reported by [WordPiece.MaxLength]. Any other
// component type is refused with an error wrapping ErrVocab.
func LoadTokenizerJSON(r io.Reader) (*WordPiece, *Vocab, error) {
	var h hfTokenizer
	dec := json.NewDecoder(io.LimitReader(r, maxTokenizerJSON))
	if err := dec.Decode(&h); err != nil {
		return nil, nil, fmt.Errorf("%w: tokenizer.json: %v", ErrVocab, err)
	}
	if h.Model == nil || h.Model.Type != "WordPiece" {
		return nil, nil, fmt.Errorf("%w: tokenizer.json: model type %s is not supported (want WordPiece)", ErrVocab, typeName(h.Model == nil, func() string { return h.Model.Type }))
	}
	if h.Normalizer == nil || h.Normalizer.Type != "BertNormalizer" {
		return nil, nil, fmt.Errorf("%w: tokenizer.json: normalizer %s is not supported (want BertNormalizer)", ErrVocab, typeName(h.Normalizer == nil, func() string { return h.Normalizer.Type }))
	}
	if h.PreTokenizer == nil || h.PreTokenizer.Type != "BertPreTokenizer" {
		return nil, nil, fmt.Errorf("%w: tokenizer.json: pre_tokenizer %s is not supported (want BertPreTokenizer)", ErrVocab, typeName(h.PreTokenizer == nil, func() string { return h.PreTokenizer.Type }))
	}
	v, err := NewVocab(h.Model.Vocab)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	o := DefaultWordPieceOptions()
	n := h.Normalizer
	setBool(&o.CleanText, n.CleanText)
	setBool(&o.HandleChineseChars, n.HandleChineseChars)
	setBool(&o.Lowercase, n.Lowercase)
	o.StripAccents = n.StripAccents
	m := h.Model
	if m.UnkToken != nil {
		o.UnkToken = *m.UnkToken
	}
	if m.ContinuingSubwordPrefix != nil {
		o.ContinuingSubwordPrefix = *m.ContinuingSubwordPrefix
	}
	if m.MaxInputCharsPerWord != nil {
		o.MaxInputCharsPerWord = *m.MaxInputCharsPerWord
	}
	o.NeverSplit = nil
	for _, a := range h.AddedTokens {
		if id, ok := v.ID(a.Content); !ok || id != a.ID {
			return nil, nil, fmt.Errorf("%w: tokenizer.json: added token %q (id %d) is not that id in the model's vocabulary", ErrVocab, a.Content, a.ID)
		}
		if !a.Special || a.Normalized || a.SingleWord || a.LStrip || a.RStrip {
			return nil, nil, fmt.Errorf("%w: tokenizer.json: added token %q: only special, non-normalized tokens without single_word/lstrip/rstrip are supported", ErrVocab, a.Content)
		}
		o.NeverSplit = append(o.NeverSplit, a.Content)
	}
	if p := h.PostProcessor; p != nil {
		switch p.Type {
		case "BertProcessing":
			if len(p.CLS) == 2 && len(p.SEP) == 2 {
				_ = json.Unmarshal(p.CLS[0], &o.CLSToken)
				_ = json.Unmarshal(p.SEP[0], &o.SEPToken)
			}
		case "TemplateProcessing":
			var specials []string
			for _, piece := range p.Single {
				if piece.SpecialToken != nil {
					specials = append(specials, piece.SpecialToken.ID)
				}
			}
			if len(specials) != 2 {
				return nil, nil, fmt.Errorf("%w: tokenizer.json: post_processor template %v is not [CLS] $A [SEP]", ErrVocab, specials)
			}
			for i, name := range specials {
				st, ok := p.SpecialTokens[name]
				if !ok || len(st.IDs) != 1 {
					return nil, nil, fmt.Errorf("%w: tokenizer.json: special token %q must map to one id", ErrVocab, name)
				}
				if i == 0 {
					o.CLSToken = v.Token(st.IDs[0])
				} else {
					o.SEPToken = v.Token(st.IDs[0])
				}
			}
		default:
			return nil, nil, fmt.Errorf("%w: tokenizer.json: post_processor %s is not supported (want TemplateProcessing or BertProcessing)", ErrVocab, p.Type)
		}
	}
	if h.Padding != nil && h.Padding.PadToken != "" {
		o.PADToken = h.Padding.PadToken
	}
	w, err := NewWordPiece(v, o)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if h.Truncation != nil && h.Truncation.MaxLength > 0 {
		w.maxLength = h.Truncation.MaxLength
	}
	return w, v, nil
}

// typeName names a component's type for an error message.
func typeName(missing bool, name func() string) string {
	if missing {
		return "(none)"
	}
	return fmt.Sprintf("%q", name())
}

// setBool copies *p into dst when p is set.
func setBool(dst *bool, p *bool) {
	if p != nil {
		*dst = *p
	}
}
