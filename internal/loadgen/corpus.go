package loadgen

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// corpusJSON is written by gencorpus from the SpamAssassin public corpus.
//
//go:generate go run ./gencorpus -data ../../.cache/data/spam-assassin-0.2.3/data -out corpus.json
//go:embed corpus.json
var corpusJSON []byte

var corpus = sync.OnceValue(func() []string {
	var t []string
	if err := json.Unmarshal(corpusJSON, &t); err != nil {
		panic("loadgen: embedded corpus: " + err.Error())
	}
	return t
})

// Corpus returns the built-in texts: a few hundred ham and spam emails of
// varied length. The caller must not modify the slice.
func Corpus() []string { return corpus() }

// ErrNoTexts is returned when a texts file holds no text.
var ErrNoTexts = errors.New("no texts")

// ReadTexts reads benchmark texts from path: a JSON array of strings when the
// file starts with '[', otherwise one text per non-empty line.
func ReadTexts(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var texts []string
	if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &texts); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		for line := range strings.Lines(s) {
			if line = strings.TrimSpace(line); line != "" {
				texts = append(texts, line)
			}
		}
	}
	texts = slicesDeleteEmpty(texts)
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrNoTexts)
	}
	return texts, nil
}

func slicesDeleteEmpty(t []string) []string {
	out := t[:0]
	for _, s := range t {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}
