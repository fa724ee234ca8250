package server

import (
	"context"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// Registry is what the server needs from the model registry: *model.Registry
// satisfies it as it is, with the model package's own types and sentinel
// errors (StatusOf maps them); tests use smaller registries of their own.
type Registry interface {
	// Resolve finds the loaded version a request's model_version names
	// (full id, bare name, bare version, or "" for the default model) and
	// holds it until the handle's Release.
	Resolve(ref string) (*model.Handle, error)
	// List describes every known version.
	List() []model.Status
	// Get describes one version by id.
	Get(id string) (model.Status, error)
	// Install writes an uploaded version into the repository, loads and
	// warms it, and makes it its name's default when asked.
	Install(ctx context.Context, req model.InstallRequest) (model.Status, error)
	// Unload takes a version out of service.
	Unload(ctx context.Context, id string) error
	// SetDefault makes version (vN or a full id) the default of name.
	SetDefault(ctx context.Context, name, version string) error
	// Ready reports whether a request that names no model can be served.
	Ready() bool
}

var _ Registry = (*model.Registry)(nil)

// modelList is the API's view of the registry's versions.
func (s *Server) modelList() *api.ModelList {
	l := &api.ModelList{Models: []api.ModelInfo{}}
	for _, st := range s.reg.List() {
		l.Models = append(l.Models, modelInfo(st))
	}
	if h, err := s.reg.Resolve(""); err == nil {
		l.DefaultModel = h.ID
		h.Release()
	}
	return l
}

// modelInfo is the API's view of a registry status.
func modelInfo(s model.Status) api.ModelInfo {
	m := api.ModelInfo{
		ID: s.ID, Name: s.Name, Version: s.Version, Status: api.ModelStatus(s.State),
		Default: s.Default, Error: s.Error, Requests: s.Requests, Errors: s.Errors,
		Certificate: s.Certificate,
	}
	if !s.LoadedAt.IsZero() {
		t := s.LoadedAt
		m.LoadedAt = &t
	}
	if s.LoadDuration > 0 {
		ms := float64(s.LoadDuration.Microseconds()) / 1000
		m.LoadMS = &ms
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
