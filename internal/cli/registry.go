package cli

import (
	"context"
	"errors"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// registry adapts *model.Registry to the server's Registry interface. The
// server itself releases an unloaded version's engine queue and cache
// entries (server.Reconcile).
type registry struct {
	r *model.Registry
}

var _ server.Registry = registry{}

func (a registry) Resolve(_ context.Context, ref string) (*server.Lease, error) {
	h, err := a.r.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return &server.Lease{ID: h.ID, Model: h.Model, Manifest: h.Manifest, Release: h.Release, Fail: h.Fail}, nil
}

func (a registry) List(context.Context) (*api.ModelList, error) {
	l := &api.ModelList{Models: []api.ModelInfo{}}
	for _, s := range a.r.List() {
		l.Models = append(l.Models, modelInfo(s))
	}
	if h, err := a.r.Resolve(""); err == nil {
		l.DefaultModel = h.ID
		h.Release()
	}
	return l, nil
}

func (a registry) Get(_ context.Context, id string) (*api.ModelInfo, error) {
	s, err := a.r.Get(id)
	if err != nil {
		return nil, err
	}
	m := modelInfo(s)
	return &m, nil
}

func (a registry) Install(ctx context.Context, up *server.Upload) (*api.ModelInfo, error) {
	files := make([]model.File, len(up.Files))
	for i, f := range up.Files {
		files[i] = model.File{Name: f.Name, Content: f.Content}
	}
	s, err := a.r.Install(ctx, model.InstallRequest{
		Name: up.Name, Version: up.Version, Filename: up.Filename,
		Artifact: up.Artifact, Manifest: up.Manifest, Files: files, MakeDefault: up.MakeDefault,
	})
	if err != nil {
		return nil, err
	}
	m := modelInfo(s)
	return &m, nil
}

func (a registry) Unload(ctx context.Context, id string) error {
	return a.r.Unload(ctx, id)
}

func (a registry) SetDefault(ctx context.Context, name, version string) (*api.ModelInfo, error) {
	if err := a.r.SetDefault(ctx, name, version); err != nil {
		return nil, err
	}
	id := version
	if _, _, err := model.SplitID(version); err != nil {
		id = model.ID(name, version)
	}
	return a.Get(ctx, id)
}

func (a registry) Ready(context.Context) error {
	if !a.r.Ready() {
		return errors.New("the default model is not loaded yet")
	}
	return nil
}

// modelInfo is the API's view of a registry status.
func modelInfo(s model.Status) api.ModelInfo {
	m := api.ModelInfo{
		ID: s.ID, Name: s.Name, Version: s.Version, Status: api.ModelStatus(s.State),
		Default: s.Default, Error: s.Error, Requests: s.Requests, Errors: s.Errors,
	}
	if !s.LoadedAt.IsZero() {
		t := s.LoadedAt
		m.LoadedAt = &t
	}
	if s.Info != nil {
		m.Framework = s.Info.Framework
		m.Artifact = map[string]any{
			"estimator": s.Info.Estimator, "library_version": s.Info.LibraryVersion,
			"probabilistic": s.Info.Probabilistic, "confidence": s.Info.Confidence, "features": s.Info.Features,
		}
	}
	if s.Manifest != nil {
		if m.Framework == "" {
			m.Framework = s.Manifest.Framework
		}
		m.Labels = s.Manifest.Labels
		m.Accuracy = s.Manifest.Accuracy
		m.Metadata = map[string]any{
			"description": s.Manifest.Description, "training_date": s.Manifest.TrainingDate,
			"features": s.Manifest.Features, "library_versions": s.Manifest.LibraryVersions,
			"preprocessing": s.Manifest.Preprocessing,
		}
	}
	return m
}
