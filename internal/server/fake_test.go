package server_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// keywordModel labels a text "positive" when it contains "good", else
// "negative"; "slow" in a text makes it wait for the deadline.
type keywordModel struct {
	id string
	// threshold, when set, makes it a multi-label model (model.MultiLabel).
	threshold *float64
}

// Threshold makes a keywordModel with a threshold multi-label.
func (m *keywordModel) Threshold() (float64, bool) {
	if m.threshold == nil {
		return 0, false
	}
	return *m.threshold, true
}

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

// fakeRegistry holds models by id with one default per name. Like the
// model registry it tells its subscribers (subscribe) of loads and unloads.
type fakeRegistry struct {
	mu       sync.Mutex
	models   map[string]*keywordModel
	defaults map[string]string // name -> id
	def      string            // default model name
	ready    bool
	leases   int
	uploads  []uploaded
	subs     []model.Subscriber
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

// subscribe adds subscribers and tells them every loaded version, as the
// model registry's start-up does.
func (r *fakeRegistry) subscribe(subs ...model.Subscriber) {
	r.mu.Lock()
	r.subs = append(r.subs, subs...)
	ids := make([]string, 0, len(r.models))
	for id := range r.models {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		r.tell(model.Loaded, id)
	}
}

// tell delivers one event about id (outside r.mu, as the registry does).
func (r *fakeRegistry) tell(kind model.EventKind, id string) {
	r.mu.Lock()
	subs := slices.Clone(r.subs)
	var m model.Model
	if km, ok := r.models[id]; ok && kind != model.Retired {
		m = km
	}
	r.mu.Unlock()
	name, version, _ := model.SplitID(id)
	ev := model.Event{Kind: kind, ID: id, Name: name, Version: version, Model: m, Manifest: &model.Manifest{}}
	for _, s := range subs {
		s(ev)
	}
}

// retire takes id out of service behind the server's back (the keep-N
// policy, a repository change).
func (r *fakeRegistry) retire(id string) {
	r.tell(model.Retiring, id)
	r.mu.Lock()
	delete(r.models, id)
	r.mu.Unlock()
	r.tell(model.Retired, id)
}

func (r *fakeRegistry) Resolve(ref string) (*model.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ready {
		return nil, fmt.Errorf("%w: default model loading", model.ErrNotReady)
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
		return nil, fmt.Errorf("%w: %q", model.ErrNotFound, ref)
	}
	r.leases++
	return model.NewHandle(id, m, nil, func() { r.mu.Lock(); r.leases--; r.mu.Unlock() }), nil
}

func (r *fakeRegistry) status(id string) model.Status {
	name, ver, _ := strings.Cut(id, "-")
	return model.Status{ID: id, Name: name, Version: ver, State: model.StateReady, Default: r.defaults[name] == id,
		Info: &model.Info{Framework: "fake"}}
}

func (r *fakeRegistry) List() []model.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var l []model.Status
	for _, id := range []string{"sentiment-v1", "sentiment-v2", "spam-v1"} {
		if _, ok := r.models[id]; ok {
			l = append(l, r.status(id))
		}
	}
	return l
}

func (r *fakeRegistry) Get(id string) (model.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.models[id]; !ok {
		return model.Status{}, fmt.Errorf("%w: %q", model.ErrNotFound, id)
	}
	return r.status(id), nil
}

func (r *fakeRegistry) Install(_ context.Context, up model.InstallRequest) (model.Status, error) {
	b, err := io.ReadAll(up.Artifact)
	if err != nil {
		return model.Status{}, err
	}
	if string(b) == "garbage" {
		return model.Status{}, fmt.Errorf("%w: not a pickle", model.ErrInvalid)
	}
	r.mu.Lock()
	id := up.Name + "-" + up.Version
	if _, ok := r.models[id]; ok {
		r.mu.Unlock()
		return model.Status{}, fmt.Errorf("%w: %s exists", model.ErrExists, id)
	}
	r.uploads = append(r.uploads, uploaded{up.Name, up.Version, up.Filename, string(b), string(up.Manifest), up.MakeDefault})
	r.models[id] = &keywordModel{id: id}
	if up.MakeDefault {
		r.defaults[up.Name] = id
	}
	st := r.status(id)
	r.mu.Unlock()
	r.tell(model.Loaded, id)
	return st, nil
}

func (r *fakeRegistry) Unload(_ context.Context, id string) error {
	r.mu.Lock()
	_, ok := r.models[id]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", model.ErrNotFound, id)
	}
	r.retire(id)
	return nil
}

func (r *fakeRegistry) SetDefault(_ context.Context, name, version string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := version
	if !strings.Contains(version, "-") {
		id = name + "-" + version
	}
	if _, ok := r.models[id]; !ok {
		return fmt.Errorf("%w: %q", model.ErrNotFound, id)
	}
	r.defaults[name] = id
	return nil
}

func (r *fakeRegistry) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready
}

var _ server.Registry = (*fakeRegistry)(nil)
