package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// The Open Inference Protocol (KServe V2) over REST, the model repository
// extension, and KServe V1, on the API listener. The routes are huma's, so
// the OpenAPI document lists them, but their errors are the protocols'
// {"error": "..."} (oipErrorWriter), not problem documents.

// oipError is the error body of the /v2 and /v1 routes.
type oipError struct {
	Error string `json:"error" doc:"What went wrong."`
}

// oipPrefix says the path is one of the protocol routes whose errors are
// {"error": "..."}.
func oipPrefix(p string) bool {
	return p == "/v2" || strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/models/")
}

// oipErrorWriter turns an error answer of a protocol route (a problem
// document from huma or the middleware, or net/http's plain-text 404 and
// 405) into the protocols' {"error": "..."} with the same status and
// headers (Retry-After stays).
type oipErrorWriter struct {
	http.ResponseWriter
	code int
	buf  *bytes.Buffer // the error body, while it is being rewritten
}

func (w *oipErrorWriter) WriteHeader(code int) {
	if w.code != 0 {
		return
	}
	w.code = code
	ct := w.Header().Get("Content-Type")
	if code >= 400 && (ct == "" || strings.HasPrefix(ct, api.ProblemContentType) || strings.HasPrefix(ct, "text/plain")) {
		w.buf = new(bytes.Buffer)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *oipErrorWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.buf != nil {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *oipErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the rewritten error, if there is one.
func (w *oipErrorWriter) finish() {
	if w.buf == nil {
		return
	}
	msg := strings.TrimSpace(w.buf.String())
	var p api.Problem
	if json.Unmarshal(w.buf.Bytes(), &p) == nil && (p.Detail != "" || p.Title != "") {
		msg = ErrorMessage(&p)
	}
	if msg == "" {
		msg = http.StatusText(w.code)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Del("X-Content-Type-Options")
	w.ResponseWriter.WriteHeader(w.code)
	_ = json.NewEncoder(w.ResponseWriter).Encode(oipError{Error: capText(msg, maxMessageBytes)})
}

// serveOIP passes a protocol route's request on with its errors rewritten
// to {"error": "..."}: the repository extension behind the admin rule, an
// announced body over the limit refused before it is read, a gzip or
// deflate body decompressed (oipencoding.go).
func (s *Server) serveOIP(sw *statusWriter, r *http.Request, next http.Handler, endpoint string, ri *reqInfo) {
	w := &oipErrorWriter{ResponseWriter: sw}
	defer w.finish()
	if strings.HasPrefix(r.URL.Path, "/v2/repository/") && !s.authorize(w, r) {
		return
	}
	if r.Method == http.MethodPost && r.ContentLength > s.opts.MaxBodyBytes {
		s.drain(w, r, r.Body, s.opts.MaxBodyBytes)
		writeProblem(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than the limit of %d bytes", s.opts.MaxBodyBytes))
		return
	}
	if r.Method == http.MethodPost && !s.decompressOIP(w, r) {
		return
	}
	if endpoint == EndpointV1Predict {
		v1PredictPath(r)
		// KServe's clients may send no JSON media type, as the seed's do.
		if ct := r.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	if r.Method == http.MethodPost {
		switch endpoint {
		case EndpointV2Infer:
			if s.serveFastInfer(w, r, ri) {
				return
			}
		case EndpointV1Predict:
			if s.serveFastV1(w, r, ri) {
				return
			}
		}
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
}

// v1PredictPath rewrites POST /v1/models/{name}:predict to the route huma
// serves it on: ServeMux wildcards are whole segments, so "{name}:predict"
// cannot be a pattern. The OpenAPI document names the protocol's path.
func v1PredictPath(r *http.Request) {
	if r.Method != http.MethodPost {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/models/")
	if !ok {
		return
	}
	if name, ok := strings.CutSuffix(rest, ":predict"); ok && name != "" && !strings.Contains(name, "/") {
		r.URL.Path = v1PredictRoute(name)
		r.URL.RawPath = ""
	}
}

func v1PredictRoute(name string) string { return "/v1/models/" + name + "/predict" }

// oipRoute names a protocol path's endpoint for the metrics ("" when p
// is not a protocol path).
func oipRoute(p string) string {
	switch {
	case strings.HasPrefix(p, "/v2/models/") && strings.HasSuffix(p, "/infer"):
		return EndpointV2Infer
	case strings.HasPrefix(p, "/v2/models/") && strings.HasSuffix(p, "/ready"):
		return "/v2/models/{name}/ready"
	case strings.HasPrefix(p, "/v2/models/"):
		return "/v2/models/{name}"
	case strings.HasPrefix(p, "/v2/repository/"):
		return "/v2/repository"
	case p == "/v2" || p == "/v2/health/live" || p == "/v2/health/ready":
		return p
	case p == "/": // KServe V1 liveness
		return p
	case strings.HasPrefix(p, "/v1/models/") && (strings.HasSuffix(p, ":predict") || strings.HasSuffix(p, "/predict")):
		return EndpointV1Predict
	case strings.HasPrefix(p, "/v1/models/"):
		return "/v1/models/{name}"
	case strings.HasPrefix(p, "/v2/"):
		return "/v2/other"
	}
	return ""
}

type oipNamePath struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"139" doc:"Model name (its default version) or full id (sentiment-v2)."`
}

type oipVersionPath struct {
	Name    string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"139" doc:"Model name (its default version) or full id (sentiment-v2)."`
	Version string `path:"version" pattern:"^v?[0-9]{1,9}$" maxLength:"10" doc:"Version label v2, or 2 meaning v2."`
}

type oipInferInput struct {
	Name         string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"139" doc:"Model name (its default version) or full id (sentiment-v2)."`
	HeaderLength string `header:"Inference-Header-Content-Length" doc:"Binary tensor data extension: the length of the JSON header; the binary tensors follow it."`
	RawBody      []byte `contentType:"application/json"`
}

type oipInferVersionInput struct {
	Name         string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"139" doc:"Model name or full id (sentiment-v2)."`
	Version      string `path:"version" pattern:"^v?[0-9]{1,9}$" maxLength:"10" doc:"Version label v2, or 2 meaning v2."`
	HeaderLength string `header:"Inference-Header-Content-Length" doc:"Binary tensor data extension: the length of the JSON header."`
	RawBody      []byte `contentType:"application/json"`
}

type oipInferOutput struct {
	ContentType  string `header:"Content-Type"`
	HeaderLength string `header:"Inference-Header-Content-Length" doc:"With binary outputs: the length of the JSON header."`
	Body         []byte
}

type serverMetadataOutput struct{ Body ServerMetadata }

// serverLiveOutput and serverReadyOutput are the health answers. The
// specification reads the status alone (200 true, 4xx false) and Triton's
// clients do; the KServe SDK also reads these bodies, as KServe's and
// MLServer's servers send them.
type serverLiveOutput struct {
	Body struct {
		Live bool `json:"live" doc:"The server answers."`
	}
}

type serverReadyOutput struct {
	Body struct {
		Ready bool `json:"ready" doc:"The server can run inferences."`
	}
}

type modelMetadataOutput struct{ Body *ModelMetadata }

// oipErrors are the statuses the protocol routes answer with.
var oipErrors = []int{400, 404, 413, 415, 422, 503, 504}

func (s *Server) registerOIP() {
	tags := []string{"open inference protocol"}
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-server-metadata", Method: http.MethodGet, Path: "/v2",
		Summary: "OIP server metadata: name, version, extensions", Tags: tags,
	}, func(context.Context, *struct{}) (*serverMetadataOutput, error) {
		return &serverMetadataOutput{Body: s.ServerMetadata()}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-server-live", Method: http.MethodGet, Path: "/v2/health/live",
		Summary: "OIP liveness: 200 while the process answers", DefaultStatus: http.StatusOK, Tags: tags,
	}, func(context.Context, *struct{}) (*serverLiveOutput, error) {
		out := &serverLiveOutput{}
		out.Body.Live = s.ServerLive()
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-server-ready", Method: http.MethodGet, Path: "/v2/health/ready",
		Summary: "OIP readiness: 200 when the default model serves, 400 otherwise", DefaultStatus: http.StatusOK, Tags: tags,
		Errors: []int{400},
	}, func(context.Context, *struct{}) (*serverReadyOutput, error) {
		if !s.ServerReady() {
			return nil, huma.Error400BadRequest("not ready")
		}
		out := &serverReadyOutput{}
		out.Body.Ready = true
		return out, nil
	})
	meta := func(name, version string) (*modelMetadataOutput, error) {
		md, err := s.ModelMetadata(name, version)
		if err != nil {
			return nil, toProblem(err, "path.name", name)
		}
		return &modelMetadataOutput{Body: md}, nil
	}
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-model-metadata", Method: http.MethodGet, Path: "/v2/models/{name}",
		Summary: "OIP model metadata: tensors, platform, labels", Tags: tags, Errors: []int{404, 422, 503},
	}, func(_ context.Context, in *oipNamePath) (*modelMetadataOutput, error) { return meta(in.Name, "") })
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-model-version-metadata", Method: http.MethodGet, Path: "/v2/models/{name}/versions/{version}",
		Summary: "OIP model metadata of one version", Tags: tags, Errors: []int{404, 422, 503},
	}, func(_ context.Context, in *oipVersionPath) (*modelMetadataOutput, error) {
		return meta(in.Name, in.Version)
	})
	ready := func(name, version string) (*struct{}, error) {
		ok, err := s.ModelReady(name, version)
		if err != nil {
			return nil, toProblem(err, "path.name", name)
		}
		if !ok {
			return nil, huma.Error400BadRequest(fmt.Sprintf("model %s is not ready", name))
		}
		return nil, nil
	}
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-model-ready", Method: http.MethodGet, Path: "/v2/models/{name}/ready",
		Summary: "OIP model readiness: 200 ready, 400 loading or unloaded, 404 unknown", DefaultStatus: http.StatusOK, Tags: tags, Errors: []int{400, 404, 422},
	}, func(_ context.Context, in *oipNamePath) (*struct{}, error) { return ready(in.Name, "") })
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-model-version-ready", Method: http.MethodGet, Path: "/v2/models/{name}/versions/{version}/ready",
		Summary: "OIP readiness of one version", DefaultStatus: http.StatusOK, Tags: tags, Errors: []int{400, 404, 422},
	}, func(_ context.Context, in *oipVersionPath) (*struct{}, error) { return ready(in.Name, in.Version) })
	inferDoc := "Classifies the texts of the BYTES input \"text\" (shape [N] or [N,1], N from 1 to 100) and answers the outputs label (BYTES [N]), confidence (FP64 [N]) and probabilities (FP64 [N,C], columns in the order of the metadata's labels). " +
		"Supports Triton's binary tensor data extension: with Inference-Header-Content-Length the body is that many bytes of JSON followed by the binary tensors (BYTES elements each prefixed by a 4-byte little-endian length); binary_data_output or an output's binary_data asks for binary outputs, answered the same way."
	for _, op := range []huma.Operation{
		{OperationID: "oip-infer", Path: "/v2/models/{name}/infer", Summary: "OIP inference"},
		{OperationID: "oip-version-infer", Path: "/v2/models/{name}/versions/{version}/infer", Summary: "OIP inference on one version"},
	} {
		op.Method, op.Tags, op.Description = http.MethodPost, tags, inferDoc
		op.MaxBodyBytes, op.Errors = s.opts.MaxBodyBytes, oipErrors
		op.SkipValidateBody = true // decodeInferBody reads it: JSON, or JSON and binary tensors
		if s.oipInferOp.OperationID == "" {
			s.oipInferOp = op
		}
		if strings.Contains(op.Path, "{version}") {
			huma.Register(s.api, op, func(ctx context.Context, in *oipInferVersionInput) (*oipInferOutput, error) {
				return s.oipInfer(ctx, in.Name, in.Version, in.HeaderLength, in.RawBody)
			})
		} else {
			huma.Register(s.api, op, func(ctx context.Context, in *oipInferInput) (*oipInferOutput, error) {
				return s.oipInfer(ctx, in.Name, "", in.HeaderLength, in.RawBody)
			})
		}
		s.documentInfer(op.Path)
	}
	s.registerRepository(tags)
	s.registerV1()
}

// oipInfer answers an OIP infer call from its raw body.
func (s *Server) oipInfer(ctx context.Context, name, version, headerLen string, body []byte) (*oipInferOutput, error) {
	hl, err := parseHeaderLen(headerLen)
	if err != nil {
		return nil, toProblem(err, "header.Inference-Header-Content-Length", headerLen)
	}
	req, texts, err := decodeInferBody(body, hl)
	if err != nil {
		return nil, toProblem(err, "body", nil)
	}
	timeout, err := paramInt(req.Parameters, "timeout_ms")
	if err != nil {
		return nil, toProblem(err, "body.parameters.timeout_ms", nil)
	}
	if _, err := planOutputs(req, true, true); err != nil { // names and flags, before the model runs
		return nil, toProblem(err, "body.outputs", nil)
	}
	explain, err := explainOutput(req)
	if err != nil {
		return nil, toProblem(err, "body.outputs", nil)
	}
	res, err := s.Infer(ctx, InferRequest{Name: name, Version: version, Texts: texts, TimeoutMS: timeout,
		RequestID: req.ID, Protocol: ProtocolV2REST, Explain: explain})
	if err != nil {
		return nil, inferProblem(err)
	}
	plan, err := planOutputs(req, hasProbabilities(res), res.MultiLabels != nil)
	if err != nil {
		return nil, toProblem(err, "body.outputs", nil)
	}
	out, n, err := encodeInferResponse(name, req.ID, res, plan)
	if err != nil {
		return nil, toProblem(fmt.Errorf("%w: %v", ErrModelOutput, err), "", nil)
	}
	if n < 0 {
		return &oipInferOutput{ContentType: "application/json", Body: out}, nil
	}
	return &oipInferOutput{ContentType: "application/octet-stream", HeaderLength: strconv.Itoa(n), Body: out}, nil
}

// inferProblem is the error Infer returned as huma writes it: classify's
// answers are problems already (with their Retry-After headers), the rest
// become one.
func inferProblem(err error) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	return toProblem(err, "", nil)
}

// documentInfer puts the JSON request and response schemas (and the
// binary extension's media type) into the OpenAPI document of an infer
// route, whose handler reads and writes raw bytes.
func (s *Server) documentInfer(path string) {
	oapi := s.api.OpenAPI()
	item := oapi.Paths[path]
	if item == nil || item.Post == nil {
		return
	}
	reg := oapi.Components.Schemas
	binary := &huma.MediaType{Schema: &huma.Schema{Type: "string", Format: "binary",
		Description: "Binary tensor data extension: Inference-Header-Content-Length bytes of JSON, then the binary tensors."}}
	item.Post.RequestBody.Content = map[string]*huma.MediaType{
		"application/json":         {Schema: reg.Schema(reflect.TypeOf(oipInferRequest{}), true, "OIPInferRequest")},
		"application/octet-stream": binary,
	}
	// Not required in huma's sense: an empty body is decodeInferBody's
	// 400, and a bad path parameter stays the 422 it is elsewhere.
	item.Post.RequestBody.Required = false
	if r := item.Post.Responses["200"]; r != nil {
		r.Content = map[string]*huma.MediaType{
			"application/json":         {Schema: reg.Schema(reflect.TypeOf(oipInferResponse{}), true, "OIPInferResponse")},
			"application/octet-stream": binary,
		}
	}
}

// Model repository extension.

type repositoryIndexInput struct {
	Body *struct {
		Ready bool `json:"ready,omitempty" doc:"Only the versions ready for inference."`
	} `required:"false"`
}

type repositoryIndexEntry struct {
	Name    string `json:"name" doc:"Model name."`
	Version string `json:"version" doc:"Version label."`
	State   string `json:"state" doc:"READY, LOADING, UNLOADING or UNAVAILABLE."`
	Reason  string `json:"reason,omitempty" doc:"Why it is not ready."`
}

type repositoryIndexOutput struct{ Body []repositoryIndexEntry }

// repositoryModelInput names the model of a load or unload; a body the
// client sends (the extension's optional parameters) is not read.
type repositoryModelInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"139" doc:"Model name or full id (sentiment-v2)."`
}

// oipState is the repository extension's name of a registry state.
func oipState(st string) string {
	switch st {
	case model.StateReady:
		return "READY"
	case model.StateLoading:
		return "LOADING"
	case model.StateDraining:
		return "UNLOADING"
	}
	return "UNAVAILABLE"
}

func (s *Server) registerRepository(tags []string) {
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-repository-index", Method: http.MethodPost, Path: "/v2/repository/index",
		Summary: "OIP model repository: every known version and its state", Tags: tags, Security: adminSecurity,
		Errors: []int{401, 403},
	}, func(_ context.Context, in *repositoryIndexInput) (*repositoryIndexOutput, error) {
		out := []repositoryIndexEntry{}
		for _, st := range s.reg.List() {
			e := repositoryIndexEntry{Name: st.Name, Version: st.Version, State: oipState(st.State), Reason: st.Error}
			if in.Body != nil && in.Body.Ready && e.State != "READY" {
				continue
			}
			out = append(out, e)
		}
		return &repositoryIndexOutput{Body: out}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-repository-load", Method: http.MethodPost, Path: "/v2/repository/models/{name}/load",
		Summary: "OIP model repository: load a model", DefaultStatus: http.StatusOK, Tags: tags, Security: adminSecurity,
		Description: "A full id (sentiment-v2) is loaded and made its name's default, as PUT /models/{name}/default does. " +
			"A bare name that serves already is left as it is; otherwise its newest known version is loaded and made the default.",
		Errors: []int{401, 403, 404, 409, 422, 503},
	}, func(ctx context.Context, in *repositoryModelInput) (*struct{}, error) {
		return nil, s.repositoryLoad(ctx, in.Name)
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "oip-repository-unload", Method: http.MethodPost, Path: "/v2/repository/models/{name}/unload",
		Summary: "OIP model repository: unload a model version", DefaultStatus: http.StatusOK, Tags: tags, Security: adminSecurity,
		Description: "A full id is unloaded as DELETE /models/{id} does; a bare name is its default version, which the registry keeps (409) until another version is made the default.",
		Errors:      []int{401, 403, 404, 409, 422},
	}, func(ctx context.Context, in *repositoryModelInput) (*struct{}, error) {
		id := in.Name
		if _, _, err := model.SplitID(id); err != nil {
			h, err := s.reg.Resolve(in.Name)
			if err != nil || h.Name != in.Name {
				if err == nil {
					h.Release()
					err = fmt.Errorf("%w: %s", model.ErrNotFound, in.Name)
				}
				return nil, toProblem(err, "path.name", in.Name)
			}
			id = h.ID
			h.Release()
		}
		if err := s.reg.Unload(ctx, id); err != nil {
			return nil, toProblem(err, "path.name", in.Name)
		}
		return nil, nil
	})
}

// repositoryLoad loads name (a full id, or a bare name) onto the registry.
func (s *Server) repositoryLoad(ctx context.Context, name string) error {
	if n, v, err := model.SplitID(name); err == nil && model.ValidName(n) == nil {
		if err := s.reg.SetDefault(ctx, n, v); err != nil {
			return toProblem(err, "path.name", name)
		}
		return nil
	}
	if err := model.ValidName(name); err != nil {
		return toProblem(err, "path.name", name)
	}
	if h, err := s.reg.Resolve(name); err == nil {
		ok := h.Name == name
		h.Release()
		if ok {
			return nil
		}
	}
	newest, n := "", -1
	for _, st := range s.reg.List() {
		if st.Name != name {
			continue
		}
		if v, err := model.ParseVersion(st.Version); err == nil && v > n {
			newest, n = st.Version, v
		}
	}
	if newest == "" {
		return toProblem(fmt.Errorf("%w: %s", model.ErrNotFound, name), "path.name", name)
	}
	if err := s.reg.SetDefault(ctx, name, newest); err != nil {
		return toProblem(err, "path.name", name)
	}
	return nil
}
