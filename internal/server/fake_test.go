package server_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// keywordModel labels a text "positive" when it contains "good", else
// "negative"; "slow" in a text makes it wait for the deadline.
type keywordModel struct{ id string }

func (m *keywordModel) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		if strings.Contains(t, "slow") {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("predict: %w", ctx.Err())
			case <-time.After(5 * time.Second):
			}
		}
		if strings.Contains(t, "boom") {
			return nil, fmt.Errorf("model exploded")
		}
		p := 0.2
		if strings.Contains(t, "good") {
			p = 0.9
		}
		idx, conf := 0, 1-p
		if p > 0.5 {
			idx, conf = 1, p
		}
		out[i] = model.Prediction{Label: m.Labels()[idx], Index: idx, Confidence: conf, Probabilities: []float64{1 - p, p}}
	}
	return out, nil
}

func (m *keywordModel) Labels() []string { return []string{"negative", "positive"} }
func (m *keywordModel) Info() model.Info { return model.Info{Framework: "fake", Probabilistic: true} }
func (m *keywordModel) Close() error     { return nil }

// fakeRegistry holds models by id with one default per name.
type fakeRegistry struct {
	mu       sync.Mutex
	models   map[string]*keywordModel
	defaults map[string]string // name -> id
	def      string            // default model name
	ready    bool
	leases   int
	uploads  []uploaded
}

type uploaded struct {
	name, version, filename string
	artifact, manifest      string
	makeDefault             bool
}

func newFakeRegistry() *fakeRegistry {
	r := &fakeRegistry{models: map[string]*keywordModel{}, defaults: map[string]string{}, def: "sentiment", ready: true}
	for _, id := range []string{"sentiment-v1", "sentiment-v2", "spam-v1"} {
		r.models[id] = &keywordModel{id: id}
	}
	r.defaults["sentiment"] = "sentiment-v2"
	r.defaults["spam"] = "spam-v1"
	return r
}

func (r *fakeRegistry) Resolve(_ context.Context, ref string) (*server.Lease, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ready {
		return nil, fmt.Errorf("%w: default model loading", server.ErrNotReady)
	}
	id := ref
	switch {
	case ref == "":
		id = r.defaults[r.def]
	case r.defaults[ref] != "":
		id = r.defaults[ref]
	case strings.HasPrefix(ref, "v") && !strings.Contains(ref, "-"):
		id = r.def + "-" + ref
	}
	m, ok := r.models[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", server.ErrNotFound, ref)
	}
	r.leases++
	return &server.Lease{ID: id, Model: m, Release: func() { r.mu.Lock(); r.leases--; r.mu.Unlock() }}, nil
}

func (r *fakeRegistry) info(id string) *api.ModelInfo {
	name, ver, _ := strings.Cut(id, "-")
	return &api.ModelInfo{ID: id, Name: name, Version: ver, Status: api.StatusReady, Default: r.defaults[name] == id, Framework: "fake"}
}

func (r *fakeRegistry) List(context.Context) (*api.ModelList, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &api.ModelList{DefaultModel: r.defaults[r.def]}
	for _, id := range []string{"sentiment-v1", "sentiment-v2", "spam-v1"} {
		if _, ok := r.models[id]; ok {
			l.Models = append(l.Models, *r.info(id))
		}
	}
	return l, nil
}

func (r *fakeRegistry) Get(_ context.Context, id string) (*api.ModelInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.models[id]; !ok {
		return nil, fmt.Errorf("%w: %q", server.ErrNotFound, id)
	}
	return r.info(id), nil
}

func (r *fakeRegistry) Install(_ context.Context, up *server.Upload) (*api.ModelInfo, error) {
	b, err := io.ReadAll(up.Artifact)
	if err != nil {
		return nil, err
	}
	if string(b) == "garbage" {
		return nil, fmt.Errorf("%w: not a pickle", model.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := up.Name + "-" + up.Version
	if _, ok := r.models[id]; ok {
		return nil, fmt.Errorf("%w: %s exists", server.ErrConflict, id)
	}
	r.uploads = append(r.uploads, uploaded{up.Name, up.Version, up.Filename, string(b), string(up.Manifest), up.MakeDefault})
	r.models[id] = &keywordModel{id: id}
	if up.MakeDefault {
		r.defaults[up.Name] = id
	}
	return r.info(id), nil
}

func (r *fakeRegistry) Unload(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.models[id]; !ok {
		return fmt.Errorf("%w: %q", server.ErrNotFound, id)
	}
	delete(r.models, id)
	return nil
}

func (r *fakeRegistry) SetDefault(_ context.Context, name, version string) (*api.ModelInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := version
	if !strings.Contains(version, "-") {
		id = name + "-" + version
	}
	if _, ok := r.models[id]; !ok {
		return nil, fmt.Errorf("%w: %q", server.ErrNotFound, id)
	}
	r.defaults[name] = id
	return r.info(id), nil
}

func (r *fakeRegistry) Ready(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ready {
		return fmt.Errorf("default model %s is loading", r.def)
	}
	return nil
}

var _ server.Registry = (*fakeRegistry)(nil)
