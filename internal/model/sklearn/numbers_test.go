package sklearn

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/model"
)

// numbersCase is one fixture of python/fixtures/make_numbers_fixtures.py.
type numbersCase struct {
	Loader string      `json:"loader"`
	Refuse string      `json:"refuse"`
	Texts  []string    `json:"texts"`
	Labels []string    `json:"labels"`
	Proba  [][]float64 `json:"proba"`
}

func readNumbersCases(t *testing.T) map[string]numbersCase {
	t.Helper()
	var f struct {
		Cases map[string]numbersCase `json:"cases"`
	}
	readJSON(t, filepath.Join("testdata", "numbers", "cases.json"), &f)
	if len(f.Cases) < 30 {
		t.Fatalf("cases.json holds %d cases", len(f.Cases))
	}
	return f.Cases
}

func numbersPath(name string) string { return filepath.Join("testdata", "numbers", name+".joblib") }

// TestNumbersRefused loads files that real scikit-learn fitted and that
// then had one number made NaN, infinite or out of scikit-learn's bounds:
// every one is refused, with an error naming the estimator, the attribute
// and the index, wrapping model.ErrInvalid for a non-finite value.
func TestNumbersRefused(t *testing.T) {
	n := 0
	for name, c := range readNumbersCases(t) {
		if c.Refuse == "" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			var err error
			if c.Loader == "vectors" {
				_, err = LoadVectors(numbersPath(name))
			} else {
				_, err = Load(numbersPath(name))
			}
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), c.Refuse) {
				t.Fatalf("error %q does not say %q", err, c.Refuse)
			}
			if strings.Contains(c.Refuse, " holds ") && !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("error %v does not wrap model.ErrInvalid", err)
			}
			if !errors.Is(err, model.ErrInvalid) && !errors.Is(err, model.ErrUnsupported) {
				t.Fatalf("error %v wraps neither model.ErrInvalid nor model.ErrUnsupported", err)
			}
		})
	}
	if n < 30 {
		t.Fatalf("%d refusal cases", n)
	}
}

// TestNumbersServed loads the files whose numbers are unusual but
// scikit-learn's own: a -Inf class prior (a class partial_fit never saw)
// and ngram_range maxima far above the vocabulary's longest term, which
// are lowered to it. Each predicts what scikit-learn predicted with the
// file as it is.
func TestNumbersServed(t *testing.T) {
	served := 0
	for name, c := range readNumbersCases(t) {
		if c.Refuse != "" || c.Loader != "text" {
			continue
		}
		served++
		t.Run(name, func(t *testing.T) {
			m, err := Load(numbersPath(name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Predict(context.Background(), c.Texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range got {
				var proba []float64
				if c.Proba != nil {
					proba = c.Proba[i]
				}
				if p.Label != c.Labels[i] {
					t.Errorf("text %d %q: label %q, sklearn %q", i, c.Texts[i], p.Label, c.Labels[i])
				}
				for k := range proba {
					if !near(p.Probabilities[k], proba[k]) {
						t.Errorf("text %d: proba[%d] = %v, sklearn %v", i, k, p.Probabilities[k], proba[k])
					}
				}
			}
		})
	}
	if served != 3 {
		t.Fatalf("%d served cases, want 3", served)
	}
}

// TestNgramLoweredInfo checks that Info reports the file's ngram_range even
// where featurization uses a lower maximum.
func TestNgramLoweredInfo(t *testing.T) {
	m, err := Load(numbersPath("count_ngram_million"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := m.Info().Features["ngram_range"].([]int)
	if len(r) != 2 || r[0] != 1 || r[1] != 1_000_000 {
		t.Fatalf("Info ngram_range %v", m.Info().Features["ngram_range"])
	}
	an := countOf(m.feat.(oovVec).tv).Analyzer
	if got := an.Config().NgramMax; got != 2 {
		t.Fatalf("analyzer max n %d, want 2 (the longest vocabulary term)", got)
	}
}

// TestPredictCancelsWithinText gives one 1 MB text to models with 1-100
// n-grams (the bound: seconds of work) and cancels the request a few
// milliseconds in (or lets its deadline pass): Predict returns the
// context's error within 200 ms (1 s under the race detector, which slows
// the linear passes before the first look at ctx), from inside that one
// text's featurization, and its goroutine ends.
func TestPredictCancelsWithinText(t *testing.T) {
	words := strings.Repeat("goal team server bread ", 1<<20/23)
	oneWord := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		model, text string
		deadline    bool
	}{
		{"hashing_word_1_100", words, false},
		{"hashing_word_1_100", words, true},
		{"hashing_charwb_1_100", oneWord, false},
		{"hashing_charwb_1_100", words, true},
	} {
		name := tc.model
		if tc.deadline {
			name += "/deadline"
		}
		t.Run(name, func(t *testing.T) {
			m, err := Load(numbersPath(tc.model))
			if err != nil {
				t.Fatal(err)
			}
			var ctx context.Context
			var cancel context.CancelFunc
			if tc.deadline {
				ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
			}
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := m.Predict(ctx, []string{tc.text})
				done <- err
			}()
			var at time.Time
			if tc.deadline {
				at, _ = ctx.Deadline()
			} else {
				time.Sleep(20 * time.Millisecond)
				cancel()
				at = time.Now()
			}
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Predict still running 5 s after its context was cancelled")
			}
			if took := time.Since(at); took > raceSlowdown*200*time.Millisecond {
				t.Errorf("Predict returned %v after the cancellation", took)
			}
			want := context.Canceled
			if tc.deadline {
				want = context.DeadlineExceeded
			}
			if !errors.Is(err, want) {
				t.Fatalf("error %v, want %v (nil: the text finished before the cancellation)", err, want)
			}
		})
	}
	runtime.GC()
}
