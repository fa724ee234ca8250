package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// TestCertificateSentimentV3: the two-stage sample (int8 MiniLM encoder in
// ONNX Runtime, scikit-learn classifier) passes its certificate, the
// outputs python/train_two_stage.py recorded one text per run.
func TestCertificateSentimentV3(t *testing.T) {
	o := testOptions(t)
	src := filepath.Join(repoRoot(t), "models", "sentiment", "v3")
	if _, err := os.Stat(filepath.Join(src, "encoder.onnx")); err != nil {
		t.Skip("models/sentiment/v3/encoder.onnx not fetched (scripts/fetch-models.sh)")
	}
	root := t.TempDir()
	copyDir(t, src, filepath.Join(root, "sentiment", "v3"))
	r := newRegistry(t, root, o)
	st, err := r.Get("sentiment-v3")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != model.StateReady || st.Certificate == nil || st.Certificate.Status != api.CertificatePassed || st.Certificate.Texts < 20 {
		t.Fatalf("state %s (%s), certificate %+v", st.State, st.Error, st.Certificate)
	}
	t.Logf("%d texts, max delta %.3g", st.Certificate.Texts, st.Certificate.MaxDelta)
}

// TestCertificateSpamV2: the sample PyTorch spam model carries a
// certificate made of PyTorch's own probabilities (recorded by
// python/train_torch.py, one text per call); served by ONNX Runtime, in
// batches padded to the longest text, it passes within the float32
// tolerance 1e-5, and a copy whose certified probability is moved by 1e-3
// is refused.
func TestCertificateSpamV2(t *testing.T) {
	o := testOptions(t)
	src := filepath.Join(repoRoot(t), "models", "spam", "v2")
	man, err := os.ReadFile(filepath.Join(src, model.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := model.ParseManifest(man)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Golden == nil || len(parsed.Golden.Texts) < 20 || parsed.Golden.Tolerance != 1e-5 {
		t.Fatalf("models/spam/v2 carries no certificate of 20+ texts at tolerance 1e-5: %+v", parsed.Golden)
	}
	first := parsed.Golden.Texts[0]
	p := first.Probabilities["spam"]
	old := fmt.Sprintf("spam: %v", p)
	if !strings.Contains(string(man), old) {
		t.Fatalf("model.yaml has no %q", old)
	}
	altered := strings.Replace(string(man), old, fmt.Sprintf("spam: %v", p-1e-3), 1)
	for _, c := range []struct {
		name, manifest string
		pass           bool
	}{{"as certified", string(man), true}, {"probability moved by 1e-3", altered, false}} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			copyDir(t, src, filepath.Join(root, "spam", "v2"))
			if err := os.WriteFile(filepath.Join(root, "spam", "v2", model.ManifestFile), []byte(c.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			r := newRegistry(t, root, o)
			st, err := r.Get("spam-v2")
			if err != nil {
				t.Fatal(err)
			}
			if c.pass {
				if st.State != model.StateReady || st.Certificate == nil || st.Certificate.Status != api.CertificatePassed {
					t.Fatalf("state %s (%s), certificate %+v", st.State, st.Error, st.Certificate)
				}
				t.Logf("%d texts, max delta %.3g", st.Certificate.Texts, st.Certificate.MaxDelta)
				return
			}
			if st.State != model.StateFailed || !strings.Contains(st.Error, `parity certificate failed: golden text 0`) {
				t.Fatalf("state %s, error %q: want refused naming golden text 0", st.State, st.Error)
			}
		})
	}
}
