package sklearn

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
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
