package server_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/server"
)

// oneModel serves a single loaded model under its id.
type oneModel struct {
	id  string
	m   model.Model
	man *model.Manifest
}

func (o *oneModel) Resolve(_ context.Context, ref string) (*server.Lease, error) {
	if ref != o.id {
		return nil, server.ErrNotFound
	}
	return &server.Lease{ID: o.id, Model: o.m, Manifest: o.man}, nil
}
func (o *oneModel) List(context.Context) (*api.ModelList, error) { return &api.ModelList{}, nil }
func (o *oneModel) Get(context.Context, string) (*api.ModelInfo, error) {
	return nil, server.ErrNotFound
}
func (o *oneModel) Install(context.Context, *server.Upload) (*api.ModelInfo, error) {
	return nil, server.ErrBadRequest
}
func (o *oneModel) Unload(context.Context, string) error { return server.ErrNotFound }
func (o *oneModel) SetDefault(context.Context, string, string) (*api.ModelInfo, error) {
	return nil, server.ErrNotFound
}
func (o *oneModel) Ready(context.Context) error { return nil }

// benchRegistry serves the sample spam-v1 model read by the sklearn backend.
func benchRegistry(b *testing.B) (server.Registry, string) {
	m, err := sklearn.Load(filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return &oneModel{id: "spam-v1", m: m}, "spam-v1"
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
