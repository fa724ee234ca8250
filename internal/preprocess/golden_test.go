package preprocess

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
)

// golden is testdata/golden.json, written by
// python/fixtures/make_preprocess_golden.py with real scikit-learn.
type golden struct {
	Sklearn string   `json:"sklearn"`
	Texts   []string `json:"texts"`
	Lower   []string `json:"lower"`
	Cases   []struct {
		Config struct {
			Analyzer     string `json:"analyzer"`
			Lowercase    *bool  `json:"lowercase"`
			StripAccents string `json:"strip_accents"`
			TokenPattern string `json:"token_pattern"`
			StopWords    string `json:"stop_words"`
			NgramRange   []int  `json:"ngram_range"`
		} `json:"config"`
		Terms       [][]string       `json:"terms"`
		Vocabulary  map[string]int32 `json:"vocabulary"`
		Count       []goldenRow      `json:"count"`
		CountBinary []goldenRow      `json:"count_binary"`
		Tfidf       []struct {
			IDF         []float64   `json:"idf"`
			Norm        string      `json:"norm"`
			SublinearTF bool        `json:"sublinear_tf"`
			Rows        []goldenRow `json:"rows"`
		} `json:"tfidf"`
		Hashing []struct {
			Params struct {
				NFeatures     int    `json:"n_features"`
				AlternateSign bool   `json:"alternate_sign"`
				Binary        bool   `json:"binary"`
				Norm          string `json:"norm"`
			} `json:"params"`
			Rows []goldenRow `json:"rows"`
		} `json:"hashing"`
	} `json:"cases"`
}

type goldenRow struct {
	Idx []int32   `json:"idx"`
	Val []float64 `json:"val"`
}

func loadGolden(t testing.TB) *golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 || len(g.Texts) == 0 {
		t.Fatal("empty golden file")
	}
	return &g
}

func sameRow(t *testing.T, what string, got Sparse, want goldenRow) {
	t.Helper()
	if !slices.Equal(got.Idx, want.Idx) {
		t.Errorf("%s: columns\n got %v\nwant %v", what, got.Idx, want.Idx)
		return
	}
	for k := range got.Val {
		if d := math.Abs(got.Val[k] - want.Val[k]); d > 1e-12 {
			t.Errorf("%s: column %d = %.17g, want %.17g", what, got.Idx[k], got.Val[k], want.Val[k])
		}
	}
}

func TestGoldenLower(t *testing.T) {
	g := loadGolden(t)
	for i, text := range g.Texts {
		if got := Lower(text); got != g.Lower[i] {
			t.Errorf("Lower(%q) = %q, Python says %q", text, got, g.Lower[i])
		}
	}
}

func TestGoldenScikitLearn(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Cases {
		cfg := AnalyzerConfig{
			Kind: c.Config.Analyzer, Lowercase: c.Config.Lowercase == nil || *c.Config.Lowercase,
			StripAccents: c.Config.StripAccents, TokenPattern: c.Config.TokenPattern,
		}
		if c.Config.StopWords == "english" {
			cfg.StopWords = EnglishStopWords
		}
		if r := c.Config.NgramRange; r != nil {
			cfg.NgramMin, cfg.NgramMax = r[0], r[1]
		}
		name := fmt.Sprintf("%s/%v/%s/%q/%s/lower=%v", cfg.Kind, c.Config.NgramRange, cfg.StripAccents, cfg.TokenPattern, c.Config.StopWords, cfg.Lowercase)
		t.Run(name, func(t *testing.T) {
			a, err := NewAnalyzer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range g.Texts {
				got := a.Analyze(text)
				if !slices.Equal(got, c.Terms[i]) && !(len(got) == 0 && len(c.Terms[i]) == 0) {
					t.Errorf("text %d %q:\n got %q\nwant %q", i, text, got, c.Terms[i])
				}
			}
			cv, err := NewCountVectorizer(a, c.Vocabulary, false)
			if err != nil {
				t.Fatal(err)
			}
			cvb, _ := NewCountVectorizer(a, c.Vocabulary, true)
			var row Sparse
			for i, text := range g.Texts {
				cv.Transform(text, &row)
				sameRow(t, fmt.Sprintf("count %d", i), row, c.Count[i])
				cvb.Transform(text, &row)
				sameRow(t, fmt.Sprintf("count binary %d", i), row, c.CountBinary[i])
			}
			for k, tf := range c.Tfidf {
				v, err := NewTfidfVectorizer(cv, TfidfTransformer{IDF: tf.IDF, Norm: tf.Norm, SublinearTF: tf.SublinearTF})
				if err != nil {
					t.Fatal(err)
				}
				for i, text := range g.Texts {
					v.Transform(text, &row)
					sameRow(t, fmt.Sprintf("tfidf %d text %d", k, i), row, tf.Rows[i])
				}
			}
			for _, h := range c.Hashing {
				hv, err := NewHashingVectorizer(a, h.Params.NFeatures, h.Params.AlternateSign, h.Params.Binary, h.Params.Norm)
				if err != nil {
					t.Fatal(err)
				}
				for i, text := range g.Texts {
					hv.Transform(text, &row)
					sameRow(t, fmt.Sprintf("hashing %+v text %d", h.Params, i), row, h.Rows[i])
				}
			}
		})
	}
}
