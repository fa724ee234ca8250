package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeLoader reads an artifact holding "label=<l>" (or "fail" to fail the
// load, or "failwarm" to fail the warm-up).
type fakeLoader struct {
	loads   atomic.Int64
	misuses atomic.Int64 // calls on closed models, across all models
	models  []*fakeModel
	mu      chan struct{}
}

func newFakeLoader() *fakeLoader {
	l := &fakeLoader{mu: make(chan struct{}, 1)}
	return l
}

func (l *fakeLoader) Load(ctx context.Context, dir string, m *Manifest) (Model, error) {
	l.loads.Add(1)
	b, err := os.ReadFile(filepath.Join(dir, m.Artifact))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "fail" {
		return nil, fmt.Errorf("%w: fake says fail", ErrInvalid)
	}
	fm := &fakeModel{label: strings.TrimPrefix(s, "label="), warmFail: s == "failwarm", l: l, id: filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir)}
	l.mu <- struct{}{}
	l.models = append(l.models, fm)
	<-l.mu
	return fm, nil
}

func (l *fakeLoader) all() []*fakeModel {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return append([]*fakeModel(nil), l.models...)
}

// fakeModel labels every text with its label and its id; it fails (and
// counts a misuse) if used after Close.
type fakeModel struct {
	id, label string
	warmFail  bool
	closed    atomic.Bool
	calls     atomic.Int64
	l         *fakeLoader
}

func (m *fakeModel) Predict(ctx context.Context, texts []string) ([]Prediction, error) {
	if m.closed.Load() {
		m.l.misuses.Add(1)
		return nil, errors.New("predict on closed model " + m.id)
	}
	if m.warmFail {
		return nil, errors.New("warm-up blew up")
	}
	m.calls.Add(1)
	out := make([]Prediction, len(texts))
	for i, t := range texts {
		out[i] = Prediction{Label: m.label + "|" + m.id + "|" + t, Confidence: 1}
	}
	return out, nil
}
func (m *fakeModel) Labels() []string { return []string{m.label} }
func (m *fakeModel) Info() Info       { return Info{Framework: "sklearn", Estimator: []string{"Fake"}} }
func (m *fakeModel) Close() error {
	if m.closed.Swap(true) {
		m.l.misuses.Add(1) // closed twice
	}
	return nil
}

// putVersion writes a version folder by hand (as a user dropping it in would).
func putVersion(t *testing.T, root, name, version, artifact, manifest string) {
	t.Helper()
	dir := filepath.Join(root, name, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.joblib"), []byte(artifact), 0o644); err != nil {
		t.Fatal(err)
	}
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
