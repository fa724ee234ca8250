package model_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
)

// skLoader loads scikit-learn artifacts as the server does.
type skLoader struct{}

func (skLoader) Load(ctx context.Context, dir string, m *model.Manifest) (model.Model, error) {
	return sklearn.LoadContext(ctx, filepath.Join(dir, m.Artifact), sklearn.Options{})
}

// startReg starts a registry on root with the scikit-learn loader.
func startReg(t *testing.T, root string, opts model.Options) *model.Registry {
	t.Helper()
	repo, err := model.OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	r := model.NewRegistry(repo, map[string]model.Loader{"sklearn": skLoader{}}, opts, slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// putFiles writes a version folder: the artifact copied from artifactSrc
// as model.joblib, and manifest as model.yaml.
func putFiles(t *testing.T, root, name, version, artifactSrc string, manifest []byte) {
	t.Helper()
	dir := filepath.Join(root, name, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(artifactSrc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.joblib"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, model.ManifestFile), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const samples = "../../models"

// TestCertificateSampleModels loads every scikit-learn sample model with
// the golden: section python/mlserve_certify.py wrote from scikit-learn's
// own outputs: each must pass, within the default tolerance.
func TestCertificateSampleModels(t *testing.T) {
	for _, id := range []string{"sentiment/v1", "sentiment/v2", "spam/v1"} {
		t.Run(id, func(t *testing.T) {
			name, version, _ := strings.Cut(id, "/")
			man := readFile(t, filepath.Join(samples, id, model.ManifestFile))
			parsed, _, err := model.ParseManifest(man)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Golden == nil || len(parsed.Golden.Texts) < 20 {
				t.Fatalf("%s carries no certificate of 20+ texts", id)
			}
			root := t.TempDir()
			putFiles(t, root, name, version, filepath.Join(samples, id, "model.joblib"), man)
			r := startReg(t, root, model.Options{})
			st, err := r.Get(model.ID(name, version))
			if err != nil {
				t.Fatal(err)
			}
			if st.State != model.StateReady {
				t.Fatalf("state %s (%s), want ready", st.State, st.Error)
			}
			c := st.Certificate
			if c == nil || c.Status != api.CertificatePassed || c.Texts != len(parsed.Golden.Texts) {
				t.Fatalf("certificate %+v, want passed on %d texts", c, len(parsed.Golden.Texts))
			}
			if c.MaxDelta > model.DefaultGoldenTolerance || c.Producer["scikit-learn"] == "" {
				t.Errorf("certificate %+v: max delta above tolerance or no producer", c)
			}
			t.Logf("%s: %d texts, max delta %.3g", id, c.Texts, c.MaxDelta)
		})
	}
}

// releaseExpected is what python/make_release_fixtures.py recorded: the
// predictions one scikit-learn release computed for a fixture.
type releaseExpected struct {
	Texts       []string `json:"texts"`
	Predictions []struct {
		Label         string    `json:"label"`
		Probabilities []float64 `json:"probabilities"`
		Decision      []float64 `json:"decision"`
	} `json:"predictions"`
}

const releases = "sklearn/testdata/releases"

// goldenFrom writes a golden: section holding the outputs release rel
// recorded for fixture kase (labels in classes order, as the Go model
// reads them from that release's file).
func goldenFrom(t *testing.T, rel, kase string, n int) []byte {
	t.Helper()
	var exp releaseExpected
	if err := json.Unmarshal(readFile(t, filepath.Join(releases, rel, kase+".expected.json")), &exp); err != nil {
		t.Fatal(err)
	}
	m, err := sklearn.Load(filepath.Join(releases, rel, kase+".joblib"))
	if err != nil {
		t.Fatal(err)
	}
	labels := m.Labels()
	m.Close()
	g := model.Golden{Tolerance: 1e-9, Producer: map[string]string{"scikit-learn": rel}}
	for i, text := range exp.Texts[:n] {
		p := exp.Predictions[i]
		gt := model.GoldenText{Text: text, Label: p.Label, Decision: p.Decision}
		if p.Probabilities != nil {
			gt.Probabilities = map[string]float64{}
			for k, l := range labels {
				gt.Probabilities[l] = p.Probabilities[k]
			}
		}
		g.Texts = append(g.Texts, gt)
	}
	b, err := yaml.Marshal(map[string]any{"framework": "sklearn", "artifact": "model.joblib", "golden": map[string]any{
		"tolerance": g.Tolerance, "producer": g.Producer, "texts": g.Texts}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCertificateAcrossReleases gives a file saved by one scikit-learn
// release the golden set another release computed: it is refused, naming
// the first text that differs; its own release's golden set passes.
func TestCertificateAcrossReleases(t *testing.T) {
	for _, c := range []struct {
		kase, file, golden string
		pass               bool
	}{
		{"tfidf_lr_multinomial", "1.9.1", "1.9.1", true},
		{"tfidf_lr_multinomial", "1.2.2", "1.2.2", true},
		{"tfidf_lr_multinomial", "1.2.2", "1.9.1", false},
		{"tfidf_lr_multinomial", "1.5.2", "1.9.1", true}, // the two releases agree to 2e-13
		{"tfidf_lr_multinomial", "1.9.1", "1.4.2-numpy2", false},
		{"linear_svc", "1.9.1", "1.9.1", true},
		{"linear_svc", "1.0.2", "1.9.1", false},
		{"linear_svc", "1.3.2", "1.9.1", false}, // decision values 7.7e-5 apart, labels the same
		{"multinomial_nb", "1.9.1", "1.9.1", true},
		{"multinomial_nb", "1.4.2", "1.9.1", false},
	} {
		t.Run(fmt.Sprintf("%s/%s-file/%s-golden", c.kase, c.file, c.golden), func(t *testing.T) {
			root := t.TempDir()
			putFiles(t, root, "m", "v1", filepath.Join(releases, c.file, c.kase+".joblib"), goldenFrom(t, c.golden, c.kase, 40))
			r := startReg(t, root, model.Options{})
			st, err := r.Get("m-v1")
			if err != nil {
				t.Fatal(err)
			}
			if c.pass {
				if st.State != model.StateReady || st.Certificate == nil || st.Certificate.Status != api.CertificatePassed {
					t.Fatalf("state %s (%s), certificate %+v: want ready and passed", st.State, st.Error, st.Certificate)
				}
				return
			}
			if st.State != model.StateFailed {
				t.Fatalf("state %s, want failed: a %s file with a %s golden set must not serve", st.State, c.file, c.golden)
			}
			if !strings.Contains(st.Error, "parity certificate failed: golden text ") {
				t.Errorf("error %q does not name the first differing text", st.Error)
			}
			if st.Certificate == nil || st.Certificate.Status != api.CertificateFailed || st.Certificate.FirstDifference == "" {
				t.Errorf("certificate %+v, want failed with the first difference", st.Certificate)
			}
			if _, err := r.Resolve("m-v1"); err == nil {
				t.Error("a refused version resolves")
			}
			t.Log(st.Error)
		})
	}
}

// TestCertificateAlteredAfterCertification: the sample sentiment-v1's
// certificate with another artifact in its place, or with its outputs
// edited beyond tolerance, is refused; an edit within tolerance passes.
func TestCertificateAlteredAfterCertification(t *testing.T) {
	man := readFile(t, filepath.Join(samples, "sentiment/v1", model.ManifestFile))
	parsed, _, err := model.ParseManifest(man)
	if err != nil {
		t.Fatal(err)
	}
	first := parsed.Golden.Texts[0]
	p := first.Probabilities[first.Label]
	nudge := func(by float64) []byte {
		old := fmt.Sprintf("%s: %v", first.Label, p)
		if !strings.Contains(string(man), old) {
			t.Fatalf("model.yaml has no %q", old)
		}
		return []byte(strings.Replace(string(man), old, fmt.Sprintf("%s: %v", first.Label, p+by), 1))
	}
	for _, c := range []struct {
		name     string
		artifact string
		manifest []byte
		want     string // "" passes
	}{
		{"as certified", "sentiment/v1", man, ""},
		{"another artifact", "sentiment/v2", man, "golden text "},
		{"probability edited by 1e-4", "sentiment/v1", nudge(1e-4), `golden text 0 "The delivery was quick and the product works great.": probability of "positive"`},
		{"probability edited by 1e-9", "sentiment/v1", nudge(1e-9), ""},
		{"label edited", "sentiment/v1", []byte(strings.Replace(string(man), "label: "+first.Label, "label: neutral", 1)), `golden text 0 "The delivery was quick and the product works great.": label "positive", certified "neutral"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			putFiles(t, root, "sentiment", "v1", filepath.Join(samples, c.artifact, "model.joblib"), c.manifest)
			r := startReg(t, root, model.Options{})
			st, err := r.Get("sentiment-v1")
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if st.State != model.StateReady || st.Certificate.Status != api.CertificatePassed {
					t.Fatalf("state %s (%s), want ready and passed", st.State, st.Error)
				}
				return
			}
			if st.State != model.StateFailed || !strings.Contains(st.Error, c.want) {
				t.Fatalf("state %s, error %q; want failed naming %q", st.State, st.Error, c.want)
			}
		})
	}
}

// TestCertificateHotSwap installs a version whose certificate fails while
// another serves: the install fails with ErrCertificate, the new version
// never becomes default, the old one keeps answering.
func TestCertificateHotSwap(t *testing.T) {
	root := t.TempDir()
	man := readFile(t, filepath.Join(samples, "sentiment/v1", model.ManifestFile))
	putFiles(t, root, "sentiment", "v1", filepath.Join(samples, "sentiment/v1/model.joblib"), man)
	r := startReg(t, root, model.Options{})
	f, err := os.Open(filepath.Join(samples, "sentiment/v2/model.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = r.Install(context.Background(), model.InstallRequest{Name: "sentiment", Version: "v2", Filename: "model.joblib",
		Artifact: f, Manifest: man, MakeDefault: true})
	if !errors.Is(err, model.ErrCertificate) {
		t.Fatalf("Install: %v, want ErrCertificate", err)
	}
	h, err := r.Resolve("sentiment")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if h.ID != "sentiment-v1" {
		t.Fatalf("default is %s after a refused swap, want sentiment-v1", h.ID)
	}
	if _, err := r.Resolve("sentiment-v2"); err == nil {
		t.Error("the refused version resolves")
	}
}

// TestGoldenValidation: a golden: section that cannot be checked is a
// manifest error naming what is wrong.
func TestGoldenValidation(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"no texts", "golden: {texts: []}", "golden: no texts"},
		{"no label", "golden: {texts: [{text: a, probabilities: {x: 1}}]}", "texts[0]: no label"},
		{"no outputs", "golden: {texts: [{text: a, label: x}]}", "neither probabilities nor decision"},
		{"negative tolerance", "golden: {tolerance: -1, texts: [{text: a, label: x, decision: [1]}]}", "tolerance -1"},
		{"probability above 1", "golden: {texts: [{text: a, label: x, probabilities: {x: 1.5}}]}", `probability of "x" is 1.5`},
		{"not a map", "golden: [1, 2]", "model.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := model.ParseManifest([]byte(c.yaml))
			if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseManifest: %v, want ErrInvalid naming %q", err, c.want)
			}
		})
	}
}
