package sklearn

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
)

func TestInfo(t *testing.T) {
	for _, tc := range []struct {
		file       string
		chain      []string
		prob       bool
		analyzer   string
		ngram      []int
		confidence string
	}{
		{"tfidf_lr_binary.joblib", []string{"Pipeline", "TfidfVectorizer", "LogisticRegression"}, true, "word", []int{1, 2}, "predict_proba of the predicted label"},
		{"charwb_linearsvc.joblib", []string{"Pipeline", "TfidfVectorizer", "LinearSVC"}, false, "char_wb", []int{2, 4}, "uncalibrated: expit(|decision_function|), the logistic of the binary decision value's magnitude"},
		{"tfidf_ridge.joblib", []string{"Pipeline", "TfidfVectorizer", "RidgeClassifier"}, false, "word", []int{1, 1}, "uncalibrated: softmax of the decision_function values, taken at the predicted label"},
		{"grid_lr.joblib", []string{"GridSearchCV", "Pipeline", "TfidfVectorizer", "LogisticRegression"}, true, "word", []int{1, 1}, "predict_proba of the predicted label"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			info := m.Info()
			if !reflect.DeepEqual(info.Estimator, tc.chain) {
				t.Errorf("chain %v, want %v", info.Estimator, tc.chain)
			}
			if info.Probabilistic != tc.prob || info.Confidence != tc.confidence {
				t.Errorf("probabilistic %v confidence %q", info.Probabilistic, info.Confidence)
			}
			if info.Features["analyzer"] != tc.analyzer || !reflect.DeepEqual(info.Features["ngram_range"], tc.ngram) {
				t.Errorf("features %v", info.Features)
			}
			if n, _ := info.Features["vocabulary_size"].(int); n <= 0 {
				t.Errorf("vocabulary size %v", info.Features["vocabulary_size"])
			}
			if info.LibraryVersion == "" || info.Framework != "sklearn" {
				t.Errorf("info %+v", info)
			}
		})
	}
}

// TestConcurrentPredict shares one model between goroutines (run with -race)
// and checks every answer equals the sequential one.
func TestConcurrentPredict(t *testing.T) {
	m, err := Load("testdata/union_lr.joblib")
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"goal match team", "café crème brûlée", "server code bug", "", "zzz"}
	want, err := m.Predict(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				got, err := m.Predict(context.Background(), texts)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent predict differs: %v %v", err, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestPredictCanceled(t *testing.T) {
	m, err := Load("testdata/count_mnb.joblib")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, model.ErrInvalid},
		{"not a pickle", []byte("hello world"), model.ErrInvalid},
		{"int", []byte("\x80\x04K\x01."), model.ErrUnsupported},
		{"os.system", []byte("cos\nsystem\n(S'true'\ntR."), model.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadReader(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzLoadReader feeds mutated model files: loading may fail, never panic,
// and a model that loads must predict.
func FuzzLoadReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.joblib")
	rel, _ := filepath.Glob("testdata/releases/*/*.joblib")
	files = append(files, rel...)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 20000 {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile("testdata/tfidf_lr_binary.pkl"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		preds, err := m.Predict(context.Background(), []string{"goal café server", ""})
		if err == nil && len(preds) != 2 {
			t.Fatalf("%d predictions", len(preds))
		}
	})
}

// TestInfoFeatureUnion: a union reports each vectorizer and their total, not
// just the last one met.
func TestInfoFeatureUnion(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "union_lr.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	f := m.Info().Features
	vecs, ok := f["vectorizers"].([]map[string]any)
	if !ok || len(vecs) < 2 {
		t.Fatalf("vectorizers %v", f["vectorizers"])
	}
	total := 0
	for _, v := range vecs {
		if v["estimator"] == "" || v["analyzer"] == "" {
			t.Errorf("vectorizer without a description: %v", v)
		}
		n, _ := v["vocabulary_size"].(int)
		total += n
	}
	if f["vocabulary_size"] != total || total == 0 {
		t.Errorf("vocabulary_size %v, want the sum %d", f["vocabulary_size"], total)
	}
	if w, _ := f["input_features"].(int); w < total {
		t.Errorf("input_features %v below the vocabulary %d", f["input_features"], total)
	}
}
