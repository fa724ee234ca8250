package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits bound what a tokenizer.json may hold, so a hostile file fails
// fast with a clear error instead of exhausting memory.
type Limits struct {
	// FileBytes bounds the file's size (default 64 MiB).
	FileBytes int64
	// Vocab bounds the vocabulary's entries (default 1,000,000).
	Vocab int
	// Merges bounds a BPE model's merges (default 2,000,000).
	Merges int
	// AddedTokens bounds added_tokens (default 100,000).
	AddedTokens int
	// TokenBytes bounds one vocabulary entry or added token (default 1,024).
	TokenBytes int
	// Depth bounds the nesting of Sequence components (default 16).
	Depth int
	// PieceBytes bounds the total bytes of a Unigram vocabulary's pieces,
	// and of the added tokens, which prefix tries hold (default 8 MiB; a
	// 250,000-piece vocabulary of 8-byte pieces takes 2 MiB).
	PieceBytes int
}

func (l Limits) withDefaults() Limits {
	if l.FileBytes <= 0 {
		l.FileBytes = 64 << 20
	}
	if l.Vocab <= 0 {
		l.Vocab = 1_000_000
	}
	if l.Merges <= 0 {
		l.Merges = 2_000_000
	}
	if l.AddedTokens <= 0 {
		l.AddedTokens = 100_000
	}
	if l.TokenBytes <= 0 {
		l.TokenBytes = 1024
	}
	if l.Depth <= 0 {
		l.Depth = 16
	}
	if l.PieceBytes <= 0 {
		l.PieceBytes = 8 << 20
	}
	return l
}

// maxPadding bounds a fixed padding length and pad_to_multiple_of.
const maxPadding = 1 << 16

// fileJSON is the top of a tokenizer.json.
type fileJSON struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
}

// typed is any component: its "type" field picks the implementation.
type typed struct {
	Type string `json:"type"`
}

func isNull(b json.RawMessage) bool {
	return len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null"
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// build assembles a Tokenizer from the file's bytes.
func build(b []byte, lim Limits) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, invalid("%v", err)
	}
	if isNull(f.Model) {
		return nil, invalid("no model")
	}
	t := &Tokenizer{}
	var err error
	if t.model, t.modelType, err = buildModel(f.Model, lim); err != nil {
		return nil, err
	}
	if !isNull(f.Normalizer) {
		if t.normalizer, err = buildNormalizer(f.Normalizer, lim, 0); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.pre, err = buildPre(f.PreTokenizer, lim, 0); err != nil {
			return nil, err
		}
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = buildPost(f.PostProcessor, lim, 0); err != nil {
			return nil, err
		}
	}
	if len(f.AddedTokens) > lim.AddedTokens {
		return nil, invalid("%d added tokens (limit %d)", len(f.AddedTokens), lim.AddedTokens)
	}
	t.vocabSize = t.model.size()
	total := 0
	for _, a := range f.AddedTokens {
		if total += len(a.Content); total > lim.PieceBytes {
			return nil, invalid("added tokens of more than %d bytes in all", lim.PieceBytes)
		}
		if len(a.Content) > lim.TokenBytes {
			return nil, invalid("added token of %d bytes (limit %d)", len(a.Content), lim.TokenBytes)
		}
		if a.ID < 0 || a.ID > math.MaxInt32 {
			return nil, invalid("added token %q has id %d", a.Content, a.ID)
		}
		t.vocabSize = max(t.vocabSize, a.ID+1)
	}
	t.added = newAddedVocab(f.AddedTokens, t.normalizer)
	if t.truncation, err = buildTruncation(f.Truncation); err != nil {
		return nil, err
	}
	if t.padding, err = buildPadding(f.Padding); err != nil {
		return nil, err
	}
	return t, nil
}

func buildTruncation(raw json.RawMessage) (*Truncation, error) {
	if isNull(raw) {
		return nil, nil
	}
	var j struct {
		Direction string `json:"direction"`
		MaxLength int    `json:"max_length"`
		Strategy  string `json:"strategy"`
		Stride    int    `json:"stride"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, invalid("truncation: %v", err)
	}
	if j.MaxLength < 0 {
		return nil, invalid("truncation: max_length %d", j.MaxLength)
	}
	d := Right
	switch j.Direction {
	case "", "Right":
	case "Left":
		d = Left
	default:
		return nil, unsupported("truncation direction %q", j.Direction)
	}
	switch j.Strategy {
	case "", "LongestFirst", "OnlyFirst":
	case "OnlySecond":
		// tokenizers fails a single text that needs truncating.
		return &Truncation{MaxLength: j.MaxLength, Direction: d, onlySecond: true}, nil
	default:
		return nil, unsupported("truncation strategy %q", j.Strategy)
	}
	return &Truncation{MaxLength: j.MaxLength, Direction: d}, nil
}

func buildPadding(raw json.RawMessage) (*Padding, error) {
	if isNull(raw) {
		return nil, nil
	}
	var j struct {
		Strategy        json.RawMessage `json:"strategy"`
		Direction       string          `json:"direction"`
		PadToMultipleOf *int            `json:"pad_to_multiple_of"`
		PadID           int             `json:"pad_id"`
		PadTypeID       int             `json:"pad_type_id"`
		PadToken        string          `json:"pad_token"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, invalid("padding: %v", err)
	}
	p := &Padding{ID: j.PadID, TypeID: j.PadTypeID, Token: j.PadToken, Direction: Right}
	switch j.Direction {
	case "", "Right":
	case "Left":
		p.Direction = Left
	default:
		return nil, unsupported("padding direction %q", j.Direction)
	}
	if j.PadToMultipleOf != nil {
		if *j.PadToMultipleOf < 0 {
			return nil, invalid("padding: pad_to_multiple_of %d", *j.PadToMultipleOf)
		}
		p.MultipleOf = *j.PadToMultipleOf
	}
	var s string
	if err := json.Unmarshal(j.Strategy, &s); err == nil {
		if s != "BatchLongest" {
			return nil, unsupported("padding strategy %q", s)
		}
	} else {
		var fixed struct {
			Fixed *int `json:"Fixed"`
		}
		if err := json.Unmarshal(j.Strategy, &fixed); err != nil || fixed.Fixed == nil || *fixed.Fixed < 0 {
			return nil, unsupported("padding strategy %s", string(j.Strategy))
		}
		p.Length = *fixed.Fixed
	}
	if p.Length > maxPadding || p.MultipleOf > maxPadding {
		return nil, invalid("padding to %d (multiple of %d): more than %d", p.Length, p.MultipleOf, maxPadding)
	}
	return p, nil
}

// ---- models ----

func buildModel(raw json.RawMessage, lim Limits) (model, string, error) {
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, "", invalid("model: %v", err)
	}
	switch ty.Type {
	case "BPE":
		m, err := buildBPE(raw, lim)
		return m, ty.Type, err
	case "Unigram":
		m, err := buildUnigram(raw, lim)
		return m, ty.Type, err
	case "WordLevel":
		var j struct {
			Vocab    map[string]int `json:"vocab"`
			UnkToken string         `json:"unk_token"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, "", invalid("WordLevel model: %v", err)
		}
		n, err := checkVocab("WordLevel", j.Vocab, lim)
		if err != nil {
			return nil, "", err
		}
		v, err := newVocab(j.Vocab, n)
		if err != nil {
			return nil, "", err
		}
		m := &wordLevel{vocab: v, n: n, unk: -1, unkS: j.UnkToken}
		if id, ok := j.Vocab[j.UnkToken]; ok {
			m.unk = id
		}
		return m, ty.Type, nil
	case "WordPiece":
		var j struct {
			Vocab                   map[string]int `json:"vocab"`
			UnkToken                string         `json:"unk_token"`
			ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
			MaxInputCharsPerWord    *int           `json:"max_input_chars_per_word"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, "", invalid("WordPiece model: %v", err)
		}
		n, err := checkVocab("WordPiece", j.Vocab, lim)
		if err != nil {
			return nil, "", err
		}
		v, err := newVocab(j.Vocab, n)
		if err != nil {
			return nil, "", err
		}
		m := &wordPiece{vocab: v, n: n, unk: -1, unkS: j.UnkToken, prefix: "##", maxChars: 100}
		if j.ContinuingSubwordPrefix != nil {
			m.prefix = *j.ContinuingSubwordPrefix
		}
		if j.MaxInputCharsPerWord != nil {
			m.maxChars = *j.MaxInputCharsPerWord
		}
		if id, ok := j.Vocab[j.UnkToken]; ok {
			m.unk = id
		}
		return m, ty.Type, nil
	case "":
		return nil, "", invalid("model has no type")
	}
	return nil, "", unsupported("model %q", ty.Type)
}

// checkVocab bounds a token->id vocabulary and returns its id range.
func checkVocab(what string, v map[string]int, lim Limits) (int, error) {
	if len(v) > lim.Vocab {
		return 0, invalid("%s: %d vocabulary entries (limit %d)", what, len(v), lim.Vocab)
	}
	n := 0
	for tok, id := range v {
		if len(tok) > lim.TokenBytes {
			return 0, invalid("%s: a vocabulary entry of %d bytes (limit %d)", what, len(tok), lim.TokenBytes)
		}
		if id < 0 || id >= len(v)+lim.AddedTokens {
			return 0, invalid("%s: token %q has id %d", what, tok, id)
		}
		n = max(n, id+1)
	}
	return n, nil
}

func buildBPE(raw json.RawMessage, lim Limits) (*bpe, error) {
	var j struct {
		Dropout                 *float64          `json:"dropout"`
		UnkToken                *string           `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		FuseUnk                 bool              `json:"fuse_unk"`
		ByteFallback            bool              `json:"byte_fallback"`
		IgnoreMerges            bool              `json:"ignore_merges"`
		Vocab                   map[string]int    `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, invalid("BPE model: %v", err)
	}
	if j.Dropout != nil && *j.Dropout != 0 {
		return nil, unsupported("BPE dropout %v (only 0 or null: encoding must be deterministic)", *j.Dropout)
	}
	n, err := checkVocab("BPE", j.Vocab, lim)
	if err != nil {
		return nil, err
	}
	if len(j.Merges) > lim.Merges {
		return nil, invalid("BPE: %d merges (limit %d)", len(j.Merges), lim.Merges)
	}
	v, err := newVocab(j.Vocab, n)
	if err != nil {
		return nil, err
	}
	m := &bpe{vocab: v, n: n, unk: -1, fuseUnk: j.FuseUnk, byteFallback: j.ByteFallback, ignoreMerges: j.IgnoreMerges}
	if j.UnkToken != nil {
		m.hasUnk, m.unkS = true, *j.UnkToken
		if id, ok := j.Vocab[*j.UnkToken]; ok {
			m.unk = id
		}
	}
	if j.ContinuingSubwordPrefix != nil {
		m.prefix = *j.ContinuingSubwordPrefix
	}
	if j.EndOfWordSuffix != nil {
		m.suffix = *j.EndOfWordSuffix
	}
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := j.Vocab[byteToken(byte(b))]; ok {
			m.byteIDs[b] = id
		}
	}
	m.merges = make(map[pair]mergeTo, len(j.Merges))
	for rank, raw := range j.Merges {
		var a, b string
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return nil, invalid("BPE: merge %d %q is not two tokens separated by a space", rank, s)
			}
			a, b = parts[0], parts[1]
		} else {
			var ab []string
			if err := json.Unmarshal(raw, &ab); err != nil || len(ab) != 2 {
				return nil, invalid("BPE: merge %d is neither \"a b\" nor [a, b]", rank)
			}
			a, b = ab[0], ab[1]
		}
		ia, ok1 := j.Vocab[a]
		ib, ok2 := j.Vocab[b]
		if !ok1 || !ok2 {
			return nil, invalid("BPE: merge %d (%q, %q) references a token not in the vocabulary", rank, a, b)
		}
		if len(m.prefix) > len(b) {
			return nil, invalid("BPE: merge %d: %q is shorter than the continuing_subword_prefix", rank, b)
		}
		merged := a + b[len(m.prefix):]
		id, ok := j.Vocab[merged]
		if !ok {
			return nil, invalid("BPE: merge %d (%q, %q) makes %q, which is not in the vocabulary", rank, a, b, merged)
		}
		m.merges[pair{int32(ia), int32(ib)}] = mergeTo{int32(rank), int32(id)}
	}
	return m, nil
}

func buildUnigram(raw json.RawMessage, lim Limits) (*unigram, error) {
	var j struct {
		UnkID        *int              `json:"unk_id"`
		Vocab        []json.RawMessage `json:"vocab"`
		ByteFallback bool              `json:"byte_fallback"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, invalid("Unigram model: %v", err)
	}
	if len(j.Vocab) > lim.Vocab {
		return nil, invalid("Unigram: %d vocabulary entries (limit %d)", len(j.Vocab), lim.Vocab)
	}
	m := &unigram{unk: -1, byteFallback: j.ByteFallback, ids: make(map[string]int, len(j.Vocab)), trie: newTrie(), minScore: math.Inf(1)}
	total := 0
	for i, e := range j.Vocab {
		var pc [2]json.RawMessage
		var piece string
		if err := json.Unmarshal(e, &pc); err != nil || json.Unmarshal(pc[0], &piece) != nil {
			return nil, invalid("Unigram: vocabulary entry %d is not [piece, score]", i)
		}
		score, err := parseSerdeFloat(bytes.TrimSpace(pc[1]))
		if err != nil {
			return nil, invalid("Unigram: vocabulary entry %d: %v", i, err)
		}
		if len(piece) > lim.TokenBytes {
			return nil, invalid("Unigram: a piece of %d bytes (limit %d)", len(piece), lim.TokenBytes)
		}
		if total += len(piece); total > lim.PieceBytes {
			return nil, invalid("Unigram: pieces of more than %d bytes in all", lim.PieceBytes)
		}
		m.pieces = append(m.pieces, piece)
		m.scores = append(m.scores, score)
		m.ids[piece] = i
		if piece != "" {
			m.trie.add(piece, i)
		}
		m.minScore = math.Min(m.minScore, score)
	}
	if j.UnkID != nil {
		if len(m.pieces) == 0 {
			return nil, invalid("Unigram: empty vocabulary")
		}
		if *j.UnkID < 0 || *j.UnkID >= len(m.pieces) {
			return nil, invalid("Unigram: unk_id %d is outside the vocabulary", *j.UnkID)
		}
		m.unk = *j.UnkID
	}
	// The trie maps to the last id of a piece listed twice, as the map does.
	for p, id := range m.ids {
		if p != "" {
			m.trie.add(p, id)
		}
	}
	return m, nil
}

// ---- normalizers ----

func buildNormalizer(raw json.RawMessage, lim Limits, depth int) (normalizer, error) {
	if depth > lim.Depth {
		return nil, invalid("normalizer Sequence nested deeper than %d", lim.Depth)
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, invalid("normalizer: %v", err)
	}
	switch ty.Type {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Strip":
		var j struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Strip normalizer: %v", err)
		}
		return stripN{j.Left, j.Right}, nil
	case "Prepend":
		var j struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Prepend normalizer: %v", err)
		}
		return prependN{j.Prepend}, nil
	case "Replace":
		var j struct {
			Pattern json.RawMessage `json:"pattern"`
			Content string          `json:"content"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Replace normalizer: %v", err)
		}
		lit, re, err := buildPattern("Replace normalizer", j.Pattern)
		if err != nil {
			return nil, err
		}
		return replaceN{literal: lit, re: re, content: j.Content}, nil
	case "BertNormalizer":
		var j struct {
			CleanText          *bool `json:"clean_text"`
			HandleChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents       *bool `json:"strip_accents"`
			Lowercase          *bool `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("BertNormalizer: %v", err)
		}
		b := bertNorm{clean: true, chinese: true, lower: true}
		setBool(&b.clean, j.CleanText)
		setBool(&b.chinese, j.HandleChineseChars)
		setBool(&b.lower, j.Lowercase)
		b.strip = b.lower
		setBool(&b.strip, j.StripAccents)
		return b, nil
	case "Precompiled":
		var j struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Precompiled normalizer: %v", err)
		}
		if j.Charsmap == nil {
			return nil, invalid("Precompiled normalizer has no precompiled_charsmap")
		}
		b, err := base64.StdEncoding.DecodeString(*j.Charsmap)
		if err != nil {
			return nil, invalid("Precompiled normalizer: precompiled_charsmap: %v", err)
		}
		p, err := parsePrecompiled(b)
		if err != nil {
			return nil, invalid("Precompiled normalizer: %v", err)
		}
		return p, nil
	case "Sequence":
		var j struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("normalizer Sequence: %v", err)
		}
		var q sequenceN
		for _, r := range j.Normalizers {
			n, err := buildNormalizer(r, lim, depth+1)
			if err != nil {
				return nil, err
			}
			q = append(q, n)
		}
		return q, nil
	}
	return nil, unsupported("normalizer %q", ty.Type)
}

func setBool(dst *bool, p *bool) {
	if p != nil {
		*dst = *p
	}
}

// buildPattern reads {"String": s} or {"Regex": r}. A regex must be one Go's
// regexp reads with the same meaning (no lookaround, no backreferences).
func buildPattern(what string, raw json.RawMessage) (string, *regexp.Regexp, error) {
	var j struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", nil, invalid("%s pattern: %v", what, err)
	}
	switch {
	case j.String != nil:
		return *j.String, nil, nil
	case j.Regex != nil:
		re, err := compileOnig(*j.Regex)
		if err != nil {
			return "", nil, unsupported("%s regex %q: %v", what, *j.Regex, err)
		}
		return "", re, nil
	}
	return "", nil, invalid("%s pattern is neither String nor Regex", what)
}

// ---- pre-tokenizers ----

func parseBehavior(what, s string) (behavior, error) {
	switch s {
	case "Removed":
		return behRemoved, nil
	case "Isolated":
		return behIsolated, nil
	case "MergedWithPrevious":
		return behMergedWithPrevious, nil
	case "MergedWithNext":
		return behMergedWithNext, nil
	case "Contiguous":
		return behContiguous, nil
	}
	return 0, unsupported("%s behavior %q", what, s)
}

// gpt2Pattern is the ByteLevel regex; a Split that names it gets the
// hand-written matcher (Go's regexp has no lookahead).
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func buildPre(raw json.RawMessage, lim Limits, depth int) (preTokenizer, error) {
	if depth > lim.Depth {
		return nil, invalid("pre_tokenizer Sequence nested deeper than %d", lim.Depth)
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, invalid("pre_tokenizer: %v", err)
	}
	switch ty.Type {
	case "ByteLevel":
		j := struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("ByteLevel pre_tokenizer: %v", err)
		}
		b := byteLevel{addPrefixSpace: true, useRegex: true}
		setBool(&b.addPrefixSpace, j.AddPrefixSpace)
		setBool(&b.useRegex, j.UseRegex)
		return b, nil
	case "Metaspace":
		var j struct {
			Replacement    *string `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			Split          *bool   `json:"split"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Metaspace pre_tokenizer: %v", err)
		}
		m := metaspace{repl: "▁", prepend: "always", split: true}
		if j.Replacement != nil {
			m.repl = *j.Replacement
		}
		if utf8.RuneCountInString(m.repl) != 1 {
			return nil, invalid("Metaspace replacement %q is not one character", m.repl)
		}
		m.replR, _ = utf8.DecodeRuneInString(m.repl)
		if j.PrependScheme != nil {
			switch *j.PrependScheme {
			case "always", "first", "never":
				m.prepend = *j.PrependScheme
			default:
				return nil, unsupported("Metaspace prepend_scheme %q", *j.PrependScheme)
			}
		}
		if j.AddPrefixSpace != nil && !*j.AddPrefixSpace {
			m.prepend = "never"
		}
		setBool(&m.split, j.Split)
		return m, nil
	case "Whitespace":
		return whitespaceP{}, nil
	case "WhitespaceSplit":
		return charSplit{isSpace, behRemoved}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Punctuation":
		var j struct {
			Behavior *string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Punctuation pre_tokenizer: %v", err)
		}
		beh := behIsolated
		if j.Behavior != nil {
			var err error
			if beh, err = parseBehavior("Punctuation", *j.Behavior); err != nil {
				return nil, err
			}
		}
		return charSplit{isPunct, beh}, nil
	case "Digits":
		var j struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Digits pre_tokenizer: %v", err)
		}
		if j.Individual {
			return charSplit{isNumber, behIsolated}, nil
		}
		return charSplit{isNumber, behContiguous}, nil
	case "Split":
		var j struct {
			Pattern  json.RawMessage `json:"pattern"`
			Behavior string          `json:"behavior"`
			Invert   bool            `json:"invert"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("Split pre_tokenizer: %v", err)
		}
		beh, err := parseBehavior("Split", j.Behavior)
		if err != nil {
			return nil, err
		}
		var rx struct {
			Regex *string `json:"Regex"`
		}
		if json.Unmarshal(j.Pattern, &rx) == nil && rx.Regex != nil {
			find, err := splitFinder(*rx.Regex)
			if err != nil {
				return nil, unsupported("Split pre_tokenizer regex %q: %v", *rx.Regex, err)
			}
			return splitP{find: find, beh: beh, invert: j.Invert}, nil
		}
		lit, re, err := buildPattern("Split pre_tokenizer", j.Pattern)
		if err != nil {
			return nil, err
		}
		if re != nil {
			return splitP{find: regexFinder(re), beh: beh, invert: j.Invert}, nil
		}
		return splitP{find: literalFinder(lit), beh: beh, invert: j.Invert}, nil
	case "Sequence":
		var j struct {
			Pre []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("pre_tokenizer Sequence: %v", err)
		}
		var q sequenceP
		for _, r := range j.Pre {
			p, err := buildPre(r, lim, depth+1)
			if err != nil {
				return nil, err
			}
			q = append(q, p)
		}
		return q, nil
	}
	return nil, unsupported("pre_tokenizer %q", ty.Type)
}

// ---- post-processors ----

func buildPost(raw json.RawMessage, lim Limits, depth int) (postProcessor, error) {
	if depth > lim.Depth {
		return nil, invalid("post_processor Sequence nested deeper than %d", lim.Depth)
	}
	var ty typed
	if err := json.Unmarshal(raw, &ty); err != nil {
		return nil, invalid("post_processor: %v", err)
	}
	// tokID reads a ["token", id] pair.
	tokID := func(what string, r json.RawMessage) (int, error) {
		var pr [2]json.RawMessage
		var id int
		if err := json.Unmarshal(r, &pr); err != nil || json.Unmarshal(pr[1], &id) != nil {
			return 0, invalid("%s: %s is not [token, id]", ty.Type, what)
		}
		return id, nil
	}
	switch ty.Type {
	case "BertProcessing", "RobertaProcessing":
		var j struct {
			Sep            json.RawMessage `json:"sep"`
			Cls            json.RawMessage `json:"cls"`
			TrimOffsets    *bool           `json:"trim_offsets"`
			AddPrefixSpace *bool           `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("%s: %v", ty.Type, err)
		}
		sep, err := tokID("sep", j.Sep)
		if err != nil {
			return nil, err
		}
		cls, err := tokID("cls", j.Cls)
		if err != nil {
			return nil, err
		}
		t := &template{pieces: []templatePiece{
			{special: &specialPiece{ids: []int{cls}}},
			{},
			{special: &specialPiece{ids: []int{sep}}},
		}}
		if ty.Type == "RobertaProcessing" {
			t.trim, t.addPrefixSpace = true, true
			setBool(&t.trim, j.TrimOffsets)
			setBool(&t.addPrefixSpace, j.AddPrefixSpace)
		}
		return t, nil
	case "TemplateProcessing":
		var j struct {
			Single []struct {
				SpecialToken *struct {
					ID     string `json:"id"`
					TypeID int    `json:"type_id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID     string `json:"id"`
					TypeID int    `json:"type_id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				ID  string `json:"id"`
				IDs []int  `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("TemplateProcessing: %v", err)
		}
		t := &template{}
		seqs := 0
		for _, p := range j.Single {
			switch {
			case p.SpecialToken != nil:
				st, ok := j.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return nil, invalid("TemplateProcessing: special token %q is not in special_tokens", p.SpecialToken.ID)
				}
				if len(st.IDs) > 64 {
					return nil, invalid("TemplateProcessing: special token %q has %d ids", p.SpecialToken.ID, len(st.IDs))
				}
				t.pieces = append(t.pieces, templatePiece{special: &specialPiece{ids: st.IDs, typeID: p.SpecialToken.TypeID}})
			case p.Sequence != nil:
				if p.Sequence.ID != "A" {
					return nil, unsupported("TemplateProcessing single template sequence %q (want A)", p.Sequence.ID)
				}
				seqs++
				t.pieces = append(t.pieces, templatePiece{typeID: p.Sequence.TypeID})
			default:
				return nil, invalid("TemplateProcessing: a piece is neither SpecialToken nor Sequence")
			}
		}
		if seqs != 1 || len(t.pieces) > 64 {
			return nil, invalid("TemplateProcessing: single template must hold $A once (and at most 64 pieces)")
		}
		return t, nil
	case "ByteLevel":
		var j struct {
			TrimOffsets    *bool `json:"trim_offsets"`
			AddPrefixSpace *bool `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("ByteLevel post_processor: %v", err)
		}
		b := byteLevelPost{trim: true, addPrefixSpace: true}
		setBool(&b.trim, j.TrimOffsets)
		setBool(&b.addPrefixSpace, j.AddPrefixSpace)
		return b, nil
	case "Sequence":
		var j struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, invalid("post_processor Sequence: %v", err)
		}
		var q sequencePost
		for _, r := range j.Processors {
			p, err := buildPost(r, lim, depth+1)
			if err != nil {
				return nil, err
			}
			q = append(q, p)
		}
		return q, nil
	}
	return nil, unsupported("post_processor %q", ty.Type)
}
