package server_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

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

func (o *oneModel) Resolve(ref string) (*model.Handle, error) {
	if ref != o.id {
		return nil, model.ErrNotFound
	}
	return model.NewHandle(o.id, o.m, o.man, nil), nil
}
func (o *oneModel) List() []model.Status                 { return nil }
func (o *oneModel) Get(string) (model.Status, error)     { return model.Status{}, model.ErrNotFound }
func (o *oneModel) Unload(context.Context, string) error { return model.ErrNotFound }
func (o *oneModel) Install(context.Context, model.InstallRequest) (model.Status, error) {
	return model.Status{}, model.ErrInvalid
}
func (o *oneModel) SetDefault(context.Context, string, string) error { return model.ErrNotFound }
func (o *oneModel) Ready() bool                                      { return true }

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
