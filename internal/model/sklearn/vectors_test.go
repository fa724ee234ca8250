package sklearn

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/pickle"
)

const vecDir = "testdata/vectors"

type vectorResult struct {
	Labels   []string    `json:"labels"`
	Proba    [][]float64 `json:"proba"`
	Decision [][]float64 `json:"decision"`
}

type vectorCase struct {
	Classes []string     `json:"classes"`
	F64     vectorResult `json:"f64"`
	F32     vectorResult `json:"f32"`
}

type vectorFixtures struct {
	Version string                `json:"sklearn_version"`
	Rows    int                   `json:"rows"`
	Dim     int                   `json:"dim"`
	Cases   map[string]vectorCase `json:"cases"`
	X       []float32             `json:"-"`
}

// readVectorFixtures reads what make_vector_fixtures.py wrote.
func readVectorFixtures(t testing.TB) *vectorFixtures {
	t.Helper()
	var fx vectorFixtures
	readJSON(t, filepath.Join(vecDir, "expected.json"), &fx)
	raw, err := os.ReadFile(filepath.Join(vecDir, "test_f32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*fx.Rows*fx.Dim || fx.Dim != 384 || fx.Rows < 20 {
		t.Fatalf("test_f32.bin has %d bytes for %d rows of %d", len(raw), fx.Rows, fx.Dim)
	}
	fx.X = make([]float32, fx.Rows*fx.Dim)
	for i := range fx.X {
		fx.X[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return &fx
}

func vectorPath(name string) string {
	if filepath.Ext(name) == "" {
		name += ".joblib"
	}
	return filepath.Join(vecDir, name)
}

// TestVectorParity loads every estimator make_vector_fixtures.py fitted and
// compares PredictVectors with what scikit-learn computed on the same
// vectors widened to float64 (within 1e-9, labels identical), and with what
// it computed on the float32 vectors themselves, where scikit-learn keeps
// float32 in some steps (within 1e-6 for probabilities, 1e-4 for decision
// values, labels identical).
func TestVectorParity(t *testing.T) {
	fx := readVectorFixtures(t)
	if len(fx.Cases) < 20 {
		t.Fatalf("only %d fixture cases", len(fx.Cases))
	}
	for name, e := range fx.Cases {
		t.Run(name, func(t *testing.T) {
			m, err := LoadVectors(vectorPath(name))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Labels(), e.Classes) {
				t.Fatalf("labels %q, sklearn %q", m.Labels(), e.Classes)
			}
			if m.Dim() != fx.Dim {
				t.Fatalf("dim %d, want %d", m.Dim(), fx.Dim)
			}
			if m.Info().LibraryVersion != fx.Version {
				t.Errorf("library version %q, want %q", m.Info().LibraryVersion, fx.Version)
			}
			if m.Probabilistic() != (e.F64.Proba != nil) {
				t.Errorf("probabilistic %v, sklearn has predict_proba %v", m.Probabilistic(), e.F64.Proba != nil)
			}
			preds, err := m.PredictVectors(context.Background(), fx.X, fx.Rows, fx.Dim)
			if err != nil {
				t.Fatal(err)
			}
			if len(preds) != fx.Rows {
				t.Fatalf("%d predictions for %d rows", len(preds), fx.Rows)
			}
			for i, p := range preds {
				var proba, dec []float64
				if e.F64.Proba != nil {
					proba = e.F64.Proba[i]
				}
				if e.F64.Decision != nil {
					dec = e.F64.Decision[i]
				}
				compare(t, i, "row", p, e.F64.Labels[i], proba, dec)
				if p.Label != m.Labels()[p.Index] {
					t.Errorf("row %d: label %q is not Labels()[%d]", i, p.Label, p.Index)
				}
			}
			var dp, dd float64
			for i, p := range preds {
				if p.Label != e.F32.Labels[i] {
					t.Errorf("row %d: label %q, sklearn on float32 %q", i, p.Label, e.F32.Labels[i])
				}
				if e.F32.Proba != nil {
					for k, v := range e.F32.Proba[i] {
						dp = max(dp, math.Abs(p.Probabilities[k]-v))
					}
				}
				if e.F32.Decision != nil {
					for k, v := range e.F32.Decision[i] {
						dd = max(dd, math.Abs(p.Decision[k]-v))
					}
				}
			}
			if dp > 1e-6 || dd > 1e-4 {
				t.Errorf("against sklearn on float32: max |Δproba| %.3g, max |Δdecision| %.3g", dp, dd)
			}
			t.Logf("against sklearn on float32 input: max |Δproba| %.3g, max |Δdecision| %.3g", dp, dd)
		})
	}
}

// TestVectorRowByRow: a batch gives what its rows give one at a time.
func TestVectorRowByRow(t *testing.T) {
	fx := readVectorFixtures(t)
	for _, name := range []string{"svd_scaler_lr", "pca_whiten_lr", "calib_svc_multi", "norm_linearsvc"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadVectors(vectorPath(name))
			if err != nil {
				t.Fatal(err)
			}
			all, err := m.PredictVectors(context.Background(), fx.X, fx.Rows, fx.Dim)
			if err != nil {
				t.Fatal(err)
			}
			for i := range fx.Rows {
				one, err := m.PredictVectors(context.Background(), fx.X[i*fx.Dim:(i+1)*fx.Dim], 1, fx.Dim)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(one[0], all[i]) {
					t.Fatalf("row %d alone %+v, in the batch %+v", i, one[0], all[i])
				}
			}
		})
	}
}

func TestVectorInfo(t *testing.T) {
	for _, tc := range []struct {
		file       string
		chain      []string
		confidence string
	}{
		{"lr_binary", []string{"LogisticRegression"}, "predict_proba of the predicted label"},
		{"scaler_lr_multi", []string{"Pipeline", "StandardScaler", "LogisticRegression"}, "predict_proba of the predicted label"},
		{"svd_scaler_lr", []string{"Pipeline", "TruncatedSVD", "StandardScaler", "LogisticRegression"}, "predict_proba of the predicted label"},
		{"pca_whiten_lr", []string{"Pipeline", "PCA", "LogisticRegression"}, "predict_proba of the predicted label"},
		{"grid_scaler_lr", []string{"GridSearchCV", "Pipeline", "StandardScaler", "LogisticRegression"}, "predict_proba of the predicted label"},
		{"calib_svc_multi", []string{"CalibratedClassifierCV", "LinearSVC"}, "predict_proba of the predicted label"},
		{"norm_linearsvc", []string{"Pipeline", "Normalizer", "LinearSVC"},
			"uncalibrated: expit(|decision_function|), the logistic of the binary decision value's magnitude"},
		{"ridge_multi", []string{"RidgeClassifier"}, "uncalibrated: softmax of the decision_function values, taken at the predicted label"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := LoadVectors(vectorPath(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			info := m.Info()
			if !reflect.DeepEqual(m.Estimator(), tc.chain) || !reflect.DeepEqual(info.Estimator, tc.chain) {
				t.Errorf("chain %v, want %v", m.Estimator(), tc.chain)
			}
			if info.Confidence != tc.confidence || info.Framework != "sklearn" {
				t.Errorf("info %+v", info)
			}
			if info.Features["input_features"] != 384 || info.Features["n_classes"] != len(m.Labels()) {
				t.Errorf("features %v", info.Features)
			}
		})
	}
}

func TestVectorInputErrors(t *testing.T) {
	m, err := LoadVectors(vectorPath("scaler_lr_multi"))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float32, 384)
	nan := append([]float32(nil), row...)
	nan[5] = float32(math.NaN())
	inf := append([]float32(nil), row...)
	inf[383] = float32(math.Inf(-1))
	for _, tc := range []struct {
		name       string
		x          []float32
		rows, dim  int
		wantInText []string
	}{
		{"narrow", make([]float32, 383), 1, 383, []string{"383", "384"}},
		{"wide", make([]float32, 2*768), 2, 768, []string{"768", "384"}},
		{"short slice", row[:300], 1, 384, []string{"300", "384"}},
		{"long slice", make([]float32, 385), 1, 384, []string{"385"}},
		{"negative rows", nil, -1, 384, []string{"-1"}},
		{"NaN", nan, 1, 384, []string{"row 0, feature 5", "NaN"}},
		{"-Inf", inf, 1, 384, []string{"feature 383", "-Inf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.PredictVectors(context.Background(), tc.x, tc.rows, tc.dim)
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error %v, want ErrInput", err)
			}
			for _, s := range tc.wantInText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
	t.Run("no rows", func(t *testing.T) {
		p, err := m.PredictVectors(context.Background(), nil, 0, 384)
		if err != nil || len(p) != 0 {
			t.Fatalf("%v %v", p, err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.PredictVectors(ctx, row, 1, 384); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
}

// TestVectorTextMismatch: each loader refuses the other's files and says
// which loader they belong to.
func TestVectorTextMismatch(t *testing.T) {
	_, err := LoadVectors(vectorPath("text_lr"))
	if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), "TfidfVectorizer") ||
		!strings.Contains(err.Error(), "takes text, not vectors") || !strings.Contains(err.Error(), "sklearn.Load") {
		t.Errorf("LoadVectors(text pipeline): %v", err)
	}
	for _, tc := range []struct{ file, want string }{
		{"lr_binary", "a bare classifier takes vectors, not text"},
		{"calib_svc_multi", "a bare classifier takes vectors, not text"},
		{"scaler_lr_multi", "starts with StandardScaler, which takes numeric vectors, not text"},
		{"norm_linearsvc.pkl", "starts with Normalizer, which takes numeric vectors, not text"},
		{"pca_whiten_lr", "starts with PCA, which takes numeric vectors, not text"},
		{"grid_scaler_lr", "starts with StandardScaler"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(vectorPath(tc.file))
			if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "onnx.classifier") {
				t.Fatalf("Load(vector model): %v", err)
			}
		})
	}
}

func TestVectorLoadErrors(t *testing.T) {
	good, err := os.ReadFile(vectorPath("scaler_lr_multi_plain.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"empty", nil, model.ErrInvalid, ""},
		{"truncated", good[:len(good)/2], model.ErrInvalid, ""},
		{"int", []byte("\x80\x04K\x01."), model.ErrUnsupported, "1 is not supported"},
		{"os.system", []byte("cos\nsystem\n(S'true'\ntR."), model.ErrInvalid, "os.system"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadVectorsReader(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("custom tokenizer", func(t *testing.T) {
		_, err := LoadVectors("testdata/refuse_tokenizer.joblib")
		if !errors.Is(err, model.ErrInvalid) || !errors.Is(err, pickle.ErrForbidden) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadVectors(filepath.Join(t.TempDir(), "none.joblib")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v", err)
		}
	})
}

// TestVectorWidthChecks edits a loaded estimator tree so that its steps
// disagree on widths; translation must refuse it, naming both widths.
func TestVectorWidthChecks(t *testing.T) {
	decodeFile := func(t *testing.T, name string) *pickle.Object {
		f, err := os.Open(vectorPath(name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		v, err := decode(f)
		if err != nil {
			t.Fatal(err)
		}
		return v.(*pickle.Object)
	}
	step := func(t *testing.T, p *pickle.Object, i int) *pickle.Object {
		s, _ := p.Attr("steps")
		return s.(*pickle.List).Items[i].(pickle.Tuple)[1].(*pickle.Object)
	}
	t.Run("n_features_in_", func(t *testing.T) {
		v := decodeFile(t, "lr_binary")
		setAttr(t, v, "n_features_in_", int64(100))
		_, err := translateVectors(v)
		if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "100") || !strings.Contains(err.Error(), "384") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("svd components", func(t *testing.T) {
		v := decodeFile(t, "svd_scaler_lr")
		// The scaler after a 16-component SVD, given 384-wide statistics.
		scaler := step(t, v, 1)
		mean, _ := step(t, decodeFile(t, "scaler_lr_multi"), 0).Attr("mean_")
		setAttr(t, scaler, "mean_", mean)
		_, err := translateVectors(v)
		if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "StandardScaler expects 384 features, the step before gives 16") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("no classifier", func(t *testing.T) {
		v := decodeFile(t, "svd_scaler_lr")
		s, _ := v.Attr("steps")
		l := s.(*pickle.List)
		l.Items = l.Items[:2]
		_, err := translateVectors(v)
		if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), "ends with StandardScaler, a transformer") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("classifier", func(t *testing.T) {
		v := decodeFile(t, "pca_whiten_lr")
		lr := decodeFile(t, "lr_multi")
		s, _ := v.Attr("steps")
		items := s.(*pickle.List).Items
		items[1] = pickle.Tuple{items[1].(pickle.Tuple)[0], lr}
		_, err := translateVectors(v)
		if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "expects 384 features, the transformers give 24") {
			t.Fatalf("error %v", err)
		}
	})
}

// setAttr replaces an attribute of a decoded object.
func setAttr(t *testing.T, o *pickle.Object, name string, v any) {
	t.Helper()
	d, ok := o.State.(*pickle.Dict)
	if !ok {
		t.Fatalf("state of %s is %s", o.Class.Name, pickle.Describe(o.State))
	}
	if err := d.Set(name, v); err != nil {
		t.Fatal(err)
	}
}

func TestVectorConcurrent(t *testing.T) {
	fx := readVectorFixtures(t)
	m, err := LoadVectors(vectorPath("svd_scaler_lr"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.PredictVectors(context.Background(), fx.X, fx.Rows, fx.Dim)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				n := 1 + (g+i)%fx.Rows
				got, err := m.PredictVectors(context.Background(), fx.X[:n*fx.Dim], n, fx.Dim)
				if err != nil || !reflect.DeepEqual(got, want[:n]) {
					t.Errorf("concurrent predict differs: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzLoadVectorsReader feeds mutated model files: loading may fail, never
// panic, and a model that loads must predict a row of its width.
func FuzzLoadVectorsReader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(vecDir, "*.joblib"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadVectorsReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		x := make([]float32, 2*m.Dim())
		for i := range x {
			x[i] = float32(i%7) / 7
		}
		preds, err := m.PredictVectors(context.Background(), x, 2, m.Dim())
		if err == nil && len(preds) != 2 {
			t.Fatalf("%d predictions", len(preds))
		}
	})
}

// BenchmarkPredictVectors classifies 384-dim vectors, one and 32 at a time.
func BenchmarkPredictVectors(b *testing.B) {
	fx := readVectorFixtures(b)
	for _, name := range []string{"lr_binary", "scaler_lr_multi", "calib_svc_multi", "pca_whiten_lr"} {
		m, err := LoadVectors(vectorPath(name))
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 32} {
			x := make([]float32, 0, batch*fx.Dim)
			for len(x) < batch*fx.Dim {
				x = append(x, fx.X[:min(len(fx.X), batch*fx.Dim-len(x))]...)
			}
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.PredictVectors(context.Background(), x, batch, fx.Dim); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/row")
			})
		}
	}
}

// ExampleLoadVectors classifies a sentence embedding with a classifier
// trained on such embeddings.
func ExampleLoadVectors() {
	m, err := LoadVectors("testdata/vectors/scaler_lr_multi.joblib")
	if err != nil {
		panic(err)
	}
	embedding := make([]float32, m.Dim()) // from the encoder, one row per text
	embedding[0] = 1
	preds, err := m.PredictVectors(context.Background(), embedding, 1, m.Dim())
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Dim(), m.Labels(), len(preds[0].Probabilities))
	// Output: 384 [negative neutral positive] 3
}

// TestTextPCA: PCA is a transformer of text pipelines too (sparse TF-IDF
// rows), read by Load and compared with scikit-learn.
func TestTextPCA(t *testing.T) {
	var fx struct {
		Version string `json:"sklearn_version"`
		TextPCA struct {
			Texts []string `json:"texts"`
			expectedCase
		} `json:"text_pca"`
	}
	readJSON(t, filepath.Join(vecDir, "expected.json"), &fx)
	e := fx.TextPCA
	if len(e.Texts) < 10 {
		t.Fatalf("%d texts", len(e.Texts))
	}
	m, err := Load(filepath.Join(vecDir, "text_pca_lr.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Labels(), e.Classes) || !reflect.DeepEqual(m.Info().Estimator, []string{"Pipeline", "TfidfVectorizer", "PCA", "LogisticRegression"}) {
		t.Fatalf("labels %q, chain %v", m.Labels(), m.Info().Estimator)
	}
	preds, err := m.Predict(context.Background(), e.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range preds {
		compare(t, i, e.Texts[i], p, e.Labels[i], e.Proba[i], e.Decision[i])
	}
}

// TestVectorCorrupt loads every prefix of an uncompressed file and the file
// with single bytes changed: each load fails with ErrInvalid or
// ErrUnsupported or yields a model that predicts, never a panic.
func TestVectorCorrupt(t *testing.T) {
	good, err := os.ReadFile(vectorPath("scaler_lr_multi_plain.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	try := func(data []byte, what string) {
		m, err := LoadVectorsReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, model.ErrInvalid) && !errors.Is(err, model.ErrUnsupported) {
				t.Fatalf("%s: error %v wraps neither ErrInvalid nor ErrUnsupported", what, err)
			}
			return
		}
		x := make([]float32, m.Dim())
		if _, err := m.PredictVectors(context.Background(), x, 1, m.Dim()); err != nil && !errors.Is(err, ErrInput) {
			t.Fatalf("%s: predict: %v", what, err)
		}
	}
	for n := 0; n < len(good); n += 37 {
		try(good[:n], fmt.Sprintf("prefix %d", n))
	}
	b := append([]byte(nil), good...)
	for i := 0; i < len(b); i += 23 {
		old := b[i]
		for _, v := range []byte{0xff, old ^ 0x01} {
			b[i] = v
			try(b, fmt.Sprintf("byte %d = %#x", i, v))
		}
		b[i] = old
	}
}
