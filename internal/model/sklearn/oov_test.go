package sklearn

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOOVRateParity compares OOVRate on the sentiment reviews, run through
// the spam model, with the rates real scikit-learn computed for the same
// texts (internal/monitoring/testdata/oov.json, rounded to 6 digits, keyed by the first 8 bytes
// of the text's SHA-256).
func TestOOVRateParity(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	m, err := Load(filepath.Join(root, "models", "spam", "v1", "model.joblib"))
	if err != nil {
		t.Skipf("spam model not available: %v", err)
	}
	defer m.Close()
	b, err := os.ReadFile(filepath.Join(root, "internal", "monitoring", "testdata", "oov.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]float64
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "python", "data", "sentiment.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	compared, nonzero := 0, 0
	for _, r := range rows[1:] {
		sum := sha256.Sum256([]byte(r[0]))
		w, ok := want[hex.EncodeToString(sum[:8])]
		if !ok {
			continue
		}
		got, ok := m.OOVRate(r[0])
		if !ok {
			t.Fatal("the spam model has a word vectorizer, OOVRate says it has none")
		}
		if math.Abs(got-w) > 5e-7 { // oov.json rounds to 6 digits
			t.Errorf("OOVRate(%q) = %v, scikit-learn %v", r[0], got, w)
		}
		compared++
		if w > 0 {
			nonzero++
		}
	}
	if compared < 100 || nonzero < 10 {
		t.Fatalf("compared %d texts (%d with OOV words); oov.json does not cover the reviews", compared, nonzero)
	}
}

func TestOOVRateEdges(t *testing.T) {
	m, err := Load(filepath.Join("..", "..", "..", "models", "spam", "v1", "model.joblib"))
	if err != nil {
		t.Skipf("spam model not available: %v", err)
	}
	defer m.Close()
	for _, tc := range []struct {
		name, text string
		want       float64
	}{
		{"empty", "", 0},
		{"no tokens", "! ? .", 0},
		{"all unknown", "qqqxzv zzqqyyx", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := m.OOVRate(tc.text)
			if !ok || got != tc.want {
				t.Errorf("OOVRate(%q) = %v, %v; want %v, true", tc.text, got, ok, tc.want)
			}
		})
	}
}

func BenchmarkOOVRate(b *testing.B) {
	m, err := Load(filepath.Join("..", "..", "..", "models", "spam", "v1", "model.joblib"))
	if err != nil {
		b.Skipf("spam model not available: %v", err)
	}
	defer m.Close()
	text := "Congratulations, you have won a free cruise! Reply now to claim your prize before it expires."
	b.ReportAllocs()
	for b.Loop() {
		m.OOVRate(text)
	}
}

// TestPredictOOV checks that the out-of-vocabulary rate Predict counts while
// featurizing equals OOVRate(text) (itself proven against scikit-learn by
// TestOOVRateParity) on every fixture pipeline and sample model, and that
// models OOVRate cannot rate (character or hashing analyzers only) leave it
// not measured.
func TestPredictOOV(t *testing.T) {
	var texts []string
	readJSON(t, "testdata/texts.json", &texts)
	texts = append(texts, "", "! ? .", "qqqxzv zzqqyyx", "free free FREE prize qqqxzv")
	files, _ := filepath.Glob("testdata/*.joblib")
	files = append(files, "testdata/tfidf_lr_binary.pkl")
	samples, _ := filepath.Glob(filepath.Join("..", "..", "..", "models", "*", "*", "model.joblib"))
	files = append(files, samples...)
	measured, unmeasured, nonzero := 0, 0, 0
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "refuse_") {
			continue
		}
		t.Run(f, func(t *testing.T) {
			m, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			preds, err := m.Predict(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range preds {
				want, ok := m.OOVRate(texts[i])
				switch {
				case !ok && p.OOV.Measured:
					t.Fatalf("text %d: Predict measured OOV %v, OOVRate says the model has no word vectorizer", i, p.OOV.Rate)
				case ok && !p.OOV.Measured:
					t.Fatalf("text %d: OOVRate %v, Predict did not measure it", i, want)
				case ok && p.OOV.Rate != want:
					t.Errorf("text %d %q: Predict's OOV rate %v, OOVRate %v", i, texts[i], p.OOV.Rate, want)
				}
				if p.OOV.Rate > 0 {
					nonzero++
				}
			}
			if preds[0].OOV.Measured {
				measured++
			} else {
				unmeasured++
			}
		})
	}
	// The fixtures hold word pipelines (one in a FeatureUnion) and
	// character/hashing ones; the texts hold unknown words.
	if measured < 10 || unmeasured < 2 || nonzero < 20 {
		t.Errorf("%d models measured, %d not, %d nonzero rates: the fixtures do not cover both kinds", measured, unmeasured, nonzero)
	}
}

// TestPredictOOVUnion checks the FeatureUnion fixture: its word part is the
// first word vectorizer, found inside the union.
func TestPredictOOVUnion(t *testing.T) {
	m, err := Load("testdata/union_lr.joblib")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(context.Background(), []string{"qqqxzv free prize"})
	if err != nil {
		t.Fatal(err)
	}
	want, ok := m.OOVRate("qqqxzv free prize")
	if !ok || !p[0].OOV.Measured || p[0].OOV.Rate != want || want == 0 {
		t.Errorf("union: Predict OOV %+v, OOVRate %v, %v", p[0].OOV, want, ok)
	}
}
