package server

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

var adminSecurity = []map[string][]string{{"bearer": {}}}

// The pattern tags below are the repository's naming rules
// (model.ValidName, model.ParseVersion) in the OpenAPI document: a path or
// form value that breaks them is a 422 before it reaches the registry, as
// the registry would answer. openapi_test.go holds them to the rules.

type idPath struct {
	ID string `path:"id" pattern:"^[a-z0-9][a-z0-9_.-]*-v[0-9]{1,9}$" maxLength:"139" doc:"Model id <name>-v<N>, e.g. sentiment-v2."`
}

type modelListOutput struct{ Body *api.ModelList }

type modelOutput struct{ Body *api.ModelInfo }

type uploadForm struct {
	File        huma.FormFile   `form:"file" required:"true" contentType:"application/octet-stream" doc:"The model artifact (.joblib, .pkl, .onnx)."`
	Manifest    huma.FormFile   `form:"manifest" required:"false" contentType:"application/octet-stream" doc:"Optional model.yaml."`
	Files       []huma.FormFile `form:"files" required:"false" contentType:"application/octet-stream" doc:"Other files the model needs beside the artifact (an ONNX model's vocab.txt or tokenizer.json, a two-stage model's classifier), written into the version folder under their file names."`
	Name        string          `form:"name" required:"false" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"128" doc:"Model name; required."`
	Version     string          `form:"version" required:"false" pattern:"^(v[0-9]{1,9})?$" doc:"Version vN; the next free one when empty."`
	MakeDefault bool            `form:"make_default" required:"false" doc:"Make it the name's default once loaded and warm."`
}

type uploadInput struct {
	RawBody huma.MultipartFormFiles[uploadForm]
}

type setDefaultInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"128" doc:"Model name, e.g. sentiment."`
	Body api.SetDefaultRequest
}

func (s *Server) registerAdmin() {
	huma.Register(s.api, huma.Operation{
		OperationID: "list-models", Method: http.MethodGet, Path: "/models",
		Summary: "List model versions", Tags: []string{"admin"}, Security: adminSecurity,
		Errors: []int{401, 403},
	}, func(context.Context, *struct{}) (*modelListOutput, error) {
		l := s.modelList()
		s.addCounters(l.Models)
		return &modelListOutput{Body: l}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "get-model", Method: http.MethodGet, Path: "/models/{id}",
		Summary: "Show one model version", Tags: []string{"admin"}, Security: adminSecurity,
		Errors: []int{401, 403, 404, 422},
	}, func(_ context.Context, in *idPath) (*modelOutput, error) {
		st, err := s.reg.Get(in.ID)
		if err != nil {
			return nil, toProblem(err, "path.id", in.ID)
		}
		one := []api.ModelInfo{modelInfo(st)}
		s.addCounters(one)
		return &modelOutput{Body: &one[0]}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "load-model", Method: http.MethodPost, Path: "/models",
		Summary: "Upload and load a model version", Tags: []string{"admin"}, Security: adminSecurity,
		Description:   "Writes the artifact into the repository atomically, loads and warms it, and, with make_default, switches the name's default to it.",
		DefaultStatus: http.StatusCreated,
		MaxBodyBytes:  s.opts.MaxUploadBytes,
		Errors:        []int{400, 401, 403, 409, 413, 422},
	}, s.upload)
	huma.Register(s.api, huma.Operation{
		OperationID: "unload-model", Method: http.MethodDelete, Path: "/models/{id}",
		Summary: "Unload a model version", Tags: []string{"admin"}, Security: adminSecurity,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{401, 403, 404, 409, 422},
	}, func(ctx context.Context, in *idPath) (*struct{}, error) {
		// The registry's Retiring event releases the version's queue,
		// cache entries and monitoring before Unload returns.
		if err := s.reg.Unload(ctx, in.ID); err != nil {
			return nil, toProblem(err, "path.id", in.ID)
		}
		return nil, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "set-default", Method: http.MethodPut, Path: "/models/{name}/default",
		Summary: "Set a model's default version", Tags: []string{"admin"}, Security: adminSecurity,
		Errors: []int{400, 401, 403, 404, 413, 422},
	}, func(ctx context.Context, in *setDefaultInput) (*modelOutput, error) {
		if err := s.reg.SetDefault(ctx, in.Name, in.Body.Version); err != nil {
			return nil, toProblem(err, "body.version", in.Body.Version)
		}
		id := in.Body.Version
		if _, _, err := model.SplitID(id); err != nil {
			id = model.ID(in.Name, id)
		}
		st, err := s.reg.Get(id)
		if err != nil {
			return nil, toProblem(err, "body.version", in.Body.Version)
		}
		m := modelInfo(st)
		return &modelOutput{Body: &m}, nil
	})
}

func (s *Server) upload(ctx context.Context, in *uploadInput) (*modelOutput, error) {
	f := in.RawBody.Data()
	if f.Name == "" {
		return nil, huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: "body.name", Message: "a model name is required"})
	}
	defer f.File.Close()
	up := model.InstallRequest{
		Name: f.Name, Version: f.Version, Filename: f.File.Filename,
		Artifact: f.File, MakeDefault: f.MakeDefault,
	}
	for _, extra := range f.Files {
		defer extra.Close()
		up.Files = append(up.Files, model.File{Name: extra.Filename, Content: extra})
	}
	if f.Manifest.IsSet {
		defer f.Manifest.Close()
		b, err := io.ReadAll(io.LimitReader(f.Manifest, 1<<20+1))
		if err != nil {
			return nil, toProblem(fmt.Errorf("%w: reading manifest: %w", model.ErrInvalid, err), "body.manifest", nil)
		}
		if len(b) > 1<<20 {
			return nil, huma.Error413RequestEntityTooLarge("the manifest is larger than 1 MiB")
		}
		up.Manifest = b
	}
	st, err := s.reg.Install(ctx, up)
	if err != nil {
		return nil, toProblem(err, "body.file", f.File.Filename)
	}
	m := modelInfo(st)
	return &modelOutput{Body: &m}, nil
}

// addCounters fills the per-model request counters the server keeps.
func (s *Server) addCounters(ms []api.ModelInfo) {
	for i := range ms {
		st := s.stats.model(ms[i].ID)
		ms[i].Requests, ms[i].Errors = st.Requests, st.Errors
	}
}
