package server

import (
	"context"
	"errors"
	"io"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// Registry is what the server needs from the model registry. The real one is
// adapted to it where the server is assembled (internal/cli); tests use fakes.
type Registry interface {
	// Resolve finds the loaded model a request's model_version names (full
	// id, bare name, bare version, or "" for the default model) and leases
	// it: the version stays loaded until the lease is released.
	Resolve(ctx context.Context, ref string) (*Lease, error)
	// List describes every known model version.
	List(ctx context.Context) (*api.ModelList, error)
	// Get describes one model version by id.
	Get(ctx context.Context, id string) (*api.ModelInfo, error)
	// Install writes an uploaded artifact into the repository, loads and
	// warms it, and makes it its name's default when asked.
	Install(ctx context.Context, req *Upload) (*api.ModelInfo, error)
	// Unload unloads a model version.
	Unload(ctx context.Context, id string) error
	// SetDefault makes version (vN or a full id) the default of name.
	SetDefault(ctx context.Context, name, version string) (*api.ModelInfo, error)
	// Ready returns nil once the default model is loaded, else why not.
	Ready(ctx context.Context) error
}

// Lease is a model version held for the length of one request.
type Lease struct {
	// ID is the resolved full id ("sentiment-v2").
	ID string
	// Model is the loaded model.
	Model model.Model
	// Manifest is the version's manifest, or nil: monitoring takes its
	// drift reference and accuracy from it.
	Manifest *model.Manifest
	// Release gives the lease back; nil when there is nothing to give back.
	Release func()
	// Fail, when not nil, counts a failed request against the version.
	Fail func()
}

func (l *Lease) release() {
	if l != nil && l.Release != nil {
		l.Release()
	}
}

func (l *Lease) fail() {
	if l != nil && l.Fail != nil {
		l.Fail()
	}
}

// Upload is a model artifact sent to POST /models.
type Upload struct {
	// Name and Version name the new version; Version may be empty.
	Name, Version string
	// Filename is the artifact's file name as uploaded (its extension tells
	// the framework).
	Filename string
	// Artifact is the artifact's content; Size its length.
	Artifact io.Reader
	// Size is the artifact's length in bytes.
	Size int64
	// Manifest is the model.yaml content, or nil.
	Manifest []byte
	// Files are the other files the version needs beside the artifact (an
	// ONNX model's vocabulary or tokenizer.json, a two-stage model's
	// classifier), by plain file name.
	Files []UploadFile
	// MakeDefault switches the name's default once loaded.
	MakeDefault bool
}

// UploadFile is one of Upload.Files.
type UploadFile struct {
	// Name is the file's plain name in the version folder.
	Name string
	// Content is what it holds.
	Content io.Reader
}

// Errors a Registry (or its adapter) returns, wrapped with detail; statusOf
// maps them to HTTP statuses.
var (
	// ErrNotFound: no such model or version (404).
	ErrNotFound = errors.New("model not found")
	// ErrNotReady: the model exists but is not loaded yet (503).
	ErrNotReady = errors.New("model not ready")
	// ErrConflict: the request contradicts the registry's state, e.g. the
	// version already exists (409).
	ErrConflict = errors.New("conflict")
	// ErrBadRequest: the request's content is invalid (422).
	ErrBadRequest = errors.New("invalid request")
)
