package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// The shared core of the protocol doors other than /predict: the Open
// Inference Protocol over REST (oiprest.go) and gRPC (the grpc door), and
// KServe V1 (v1.go). Each door decodes its own wire format into an
// InferRequest and encodes the InferResult; the model resolution, the
// limits, the cache, the engine and the monitoring are /batch-predict's,
// through classify.

// ErrBadRequest: a protocol request the server cannot act on (no texts,
// too many, a tensor of the wrong name, type or shape, a malformed binary
// body). StatusOf maps it to 400, the OIP specification's status for a
// failed request.
var ErrBadRequest = errors.New("invalid inference request")

// Protocols: the values of InferRequest.Protocol. Each door's predictions
// are booked under its own endpoint label (EndpointOf), so the request
// series tell /predict, OIP REST, OIP gRPC and V1 apart.
const (
	ProtocolV2REST = "v2-rest"
	ProtocolV2GRPC = "v2-grpc"
	ProtocolV1     = "v1"
)

// Endpoint labels of the protocol doors' inference calls in the request
// metrics (the "endpoint" label of mlserve_http_request_duration_seconds).
const (
	EndpointV2Infer   = "/v2/models/{name}/infer"
	EndpointGRPCInfer = "/inference.GRPCInferenceService/ModelInfer"
	EndpointV1Predict = "/v1/models/{name}:predict"
)

// EndpointOf is the endpoint label a protocol's inference calls are booked
// under.
func EndpointOf(protocol string) string {
	switch protocol {
	case ProtocolV2REST:
		return EndpointV2Infer
	case ProtocolV2GRPC:
		return EndpointGRPCInfer
	case ProtocolV1:
		return EndpointV1Predict
	}
	return "other"
}

// InferRequest is one inference call from a protocol door other than
// /predict.
type InferRequest struct {
	// Name is the OIP model name: a bare name ("spam", its default
	// version) or a full id ("spam-v1").
	Name string
	// Version is the version label ("v1", or "1" meaning "v1"); "" is the
	// name's default (or the id's own version).
	Version string
	// Texts are the BYTES elements, decoded.
	Texts []string
	// TimeoutMS bounds the call when shorter than the server's request
	// timeout; 0 is the server's.
	TimeoutMS int
	// RequestID is the id predictions await feedback under; "" generates
	// one.
	RequestID string
	// Protocol is the door (ProtocolV2REST, ProtocolV2GRPC, ProtocolV1):
	// the metrics label.
	Protocol string
	// Explain asks for an explanation of each prediction (the explanation
	// output).
	Explain api.Explain
}

// InferResult is the answer to an InferRequest.
type InferResult struct {
	// ModelID is the version that answered ("spam-v1").
	ModelID string
	// Name and Version split ModelID ("spam", "v1").
	Name, Version string
	// Labels are the model's labels: the columns of Probabilities.
	Labels []string
	// Predictions hold one entry per text, in order.
	Predictions []model.Prediction
	// Cached[i] says text i was answered from the cache.
	Cached []bool
	// RequestID is the request's id, given or generated.
	RequestID string
	// MultiLabels holds, for a multi-label model (model.MultiLabel), each
	// text's labels over the model's threshold: the labels output. Nil for
	// a single-label model.
	MultiLabels [][]string
	// Explanations has one per text when Explain was asked for.
	Explanations []*api.Explanation
}

// EncodeLabelSet is one element of the labels output: a text's labels over
// the threshold as a JSON array of strings (["negative","delivery"]; []
// when none), so that any label, commas included, comes back intact.
func EncodeLabelSet(labels []string) []byte {
	if labels == nil {
		labels = []string{}
	}
	b, _ := json.Marshal(labels) // strings only: cannot fail
	return b
}

// Infer classifies req.Texts with the same engine, cache, queue, limits
// (1 to api.MaxBatchTexts texts, Options.MaxTextChars each) and monitoring
// as /batch-predict. Errors go through StatusOf. A call that did not come
// through the HTTP middleware (the gRPC door) is booked in the request
// metrics here, under EndpointOf(req.Protocol).
func (s *Server) Infer(ctx context.Context, req InferRequest) (*InferResult, error) {
	ri, viaHTTP := ctx.Value(ctxKey{}).(*reqInfo)
	if !viaHTTP {
		ri = &reqInfo{start: time.Now()}
	}
	res, err := s.infer(ctx, ri, req)
	if !viaHTTP {
		code := http.StatusOK
		if err != nil {
			code = StatusOf(err)
		}
		s.observe(EndpointOf(req.Protocol), ri, code, time.Since(ri.start))
	}
	return res, err
}

func (s *Server) infer(ctx context.Context, ri *reqInfo, req InferRequest) (*InferResult, error) {
	ref, err := inferRef(req.Name, req.Version)
	if err != nil {
		return nil, err
	}
	switch n := len(req.Texts); {
	case n == 0:
		return nil, fmt.Errorf("%w: no texts to classify", ErrBadRequest)
	case n > api.MaxBatchTexts:
		return nil, fmt.Errorf("%w: %d texts; the limit is %d", ErrBadRequest, n, api.MaxBatchTexts)
	}
	for i, t := range req.Texts {
		if n := s.textLen(t); n > s.opts.MaxTextChars {
			return nil, s.textTooLong(fmt.Sprintf("text[%d]", i), n)
		}
	}
	if req.TimeoutMS < 0 {
		return nil, fmt.Errorf("%w: timeout_ms %d is negative", ErrBadRequest, req.TimeoutMS)
	}
	rid := s.requestID(req.RequestID)
	res, err := s.classify(ctx, ri, classifyRequest{ref: ref, timeoutMS: req.TimeoutMS,
		texts: req.Texts, requestID: rid, batch: len(req.Texts) != 1, explain: req.Explain})
	if err != nil {
		return nil, err
	}
	out := &InferResult{ModelID: res.id, Labels: res.labels, Predictions: res.preds, Cached: res.cached, RequestID: rid,
		Explanations: res.explanations}
	if res.multi {
		out.MultiLabels = make([][]string, len(res.preds))
		for i, p := range res.preds {
			out.MultiLabels[i] = res.over(p)
		}
	}
	out.Name, out.Version, _ = model.SplitID(res.id)
	return out, nil
}

// inferRef turns an OIP name and version into the registry's reference:
// a bare name is its default version, a name and version the id, a full id
// itself (with a version, the two must agree). A name that the registry
// would read as something else ("" is the default model, "v1" a bare
// version of it) is not a model name here.
func inferRef(name, version string) (string, error) {
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("%w: model name %q", model.ErrNotFound, name)
	}
	if version != "" {
		if !strings.HasPrefix(version, "v") {
			version = "v" + version
		}
		if !model.IsVersion(version) {
			return "", fmt.Errorf("%w: model %s version %q", model.ErrNotFound, name, version)
		}
	}
	// Checked with the error-free tests: this runs on every OIP request.
	if model.IsVersion(name) {
		return "", fmt.Errorf("%w: %q is a version label, not a model name", model.ErrNotFound, name)
	}
	if model.IsID(name) {
		_, v, _ := model.SplitID(name)
		if version != "" && version != v {
			return "", fmt.Errorf("%w: model id %s names version %s, the path %s", model.ErrNotFound, name, v, version)
		}
		return name, nil
	}
	if version != "" {
		return model.ID(name, version), nil
	}
	return name, nil
}

// TensorMetadata describes one input or output tensor of a model, as the
// OIP model metadata lists it.
type TensorMetadata struct {
	Name     string  `json:"name" doc:"Tensor name."`
	Datatype string  `json:"datatype" doc:"OIP data type (BYTES, FP64)."`
	Shape    []int64 `json:"shape" doc:"Shape; -1 is a dimension of any size."`
}

// ModelMetadata is a model version's OIP metadata.
type ModelMetadata struct {
	// ID is the resolved version's id ("spam-v1").
	ID string `json:"-"`
	// Version is the resolved version's label ("v1").
	Version string `json:"-"`
	// Labels are the model's labels, the columns of "probabilities".
	Labels []string `json:"-"`
	// Name is the model name as the client asked for it.
	Name string `json:"name" doc:"Model name."`
	// Versions are the versions of the name that serve now.
	Versions []string `json:"versions,omitempty" doc:"Versions that may be requested explicitly."`
	// Platform is "mlserve-sklearn" or "mlserve-onnx".
	Platform string `json:"platform" doc:"mlserve-sklearn or mlserve-onnx."`
	// Inputs and Outputs are the tensors an infer call takes and answers.
	Inputs  []TensorMetadata `json:"inputs"`
	Outputs []TensorMetadata `json:"outputs"`
	// Parameters carry the resolved id, version and labels.
	Parameters map[string]any `json:"parameters,omitempty" doc:"model_id, version and labels (the columns of probabilities)."`
}

// Tensor names and data types of the protocol doors.
const (
	TensorText          = "text"
	TensorLabel         = "label"
	TensorConfidence    = "confidence"
	TensorProbabilities = "probabilities"
	// TensorLabels is a multi-label model's extra output: per text, the
	// labels over its threshold (EncodeLabelSet).
	TensorLabels = "labels"
	// TensorExplanation is an output given only when asked for: one JSON
	// document (an api.Explanation) per text, as BYTES.
	TensorExplanation = "explanation"
	DatatypeBytes     = "BYTES"
	DatatypeFP64      = "FP64"
)

// ModelMetadata describes the version name and version resolve to (as
// Infer resolves them): its tensors, platform and labels.
func (s *Server) ModelMetadata(name, version string) (*ModelMetadata, error) {
	ref, err := inferRef(name, version)
	if err != nil {
		return nil, err
	}
	h, err := s.reg.Resolve(ref)
	if err != nil {
		return nil, err
	}
	defer h.Release()
	labels := h.Model.Labels()
	md := &ModelMetadata{
		ID: h.ID, Version: h.Version, Labels: labels, Name: name,
		Platform: "mlserve-" + h.Model.Info().Framework,
		Inputs:   []TensorMetadata{{Name: TensorText, Datatype: DatatypeBytes, Shape: []int64{-1}}},
		Outputs: []TensorMetadata{
			{Name: TensorLabel, Datatype: DatatypeBytes, Shape: []int64{-1}},
			{Name: TensorConfidence, Datatype: DatatypeFP64, Shape: []int64{-1}},
			{Name: TensorProbabilities, Datatype: DatatypeFP64, Shape: []int64{-1, int64(len(labels))}},
		},
		Parameters: map[string]any{"model_id": h.ID, "version": h.Version, "labels": labels},
	}
	if _, m := model.Unwrap(h.Model); m != nil {
		if th, ok := model.ThresholdOf(m); ok {
			md.Outputs = append(md.Outputs, TensorMetadata{Name: TensorLabels, Datatype: DatatypeBytes, Shape: []int64{-1}})
			md.Parameters["threshold"] = th
		}
	}
	for _, st := range s.reg.List() {
		if st.Name == h.Name && st.State == model.StateReady {
			md.Versions = append(md.Versions, st.Version)
		}
	}
	if len(md.Versions) == 0 { // a registry that lists nothing (tests): at least the one that answered
		md.Versions = []string{h.Version}
	}
	slices.Sort(md.Versions)
	return md, nil
}

// ModelReady says whether the version name and version resolve to serves
// now: false without an error while it is loading or unloaded, an error
// (model.ErrNotFound) when the repository does not have it.
func (s *Server) ModelReady(name, version string) (bool, error) {
	ref, err := inferRef(name, version)
	if err != nil {
		return false, err
	}
	h, err := s.reg.Resolve(ref)
	switch {
	case err == nil:
		h.Release()
		return !s.unready(), nil
	case errors.Is(err, model.ErrNotReady), errors.Is(err, model.ErrNotLoaded):
		return false, nil
	}
	return false, err
}

// ServerMetadata is the OIP server metadata.
type ServerMetadata struct {
	Name       string   `json:"name" doc:"Server name: mlserve."`
	Version    string   `json:"version" doc:"Server version."`
	Extensions []string `json:"extensions" doc:"Protocol extensions supported."`
}

// OIP extensions this server supports.
var oipExtensions = []string{"binary_tensor_data", "model_repository"}

// ServerMetadata names the server, its version and the OIP extensions it
// supports.
func (s *Server) ServerMetadata() ServerMetadata {
	return ServerMetadata{Name: "mlserve", Version: s.opts.Version, Extensions: slices.Clone(oipExtensions)}
}

// ServerLive says the process answers (always true while it does).
func (s *Server) ServerLive() bool { return true }

// ServerReady says a request can be served: the registry is ready and the
// server is not draining, as /health/ready.
func (s *Server) ServerReady() bool { return !s.unready() && s.reg.Ready() }

// ErrorMessage is the one-line message a protocol door sends for err: the
// problem's detail and its field messages, without the HTTP title.
func ErrorMessage(err error) string {
	var p *api.Problem
	if !errors.As(err, &p) {
		if StatusOf(err) == http.StatusInternalServerError && !errors.Is(err, ErrModelOutput) {
			return "internal error"
		}
		return capText(err.Error(), maxMessageBytes)
	}
	msg := p.Detail
	for _, d := range p.Errors {
		if d.Message != "" && d.Message != msg && !strings.Contains(msg, d.Message) {
			msg += ": " + d.Message
		}
	}
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	return capText(msg, maxMessageBytes)
}

// ObserveCall books one protocol call that is not an inference (health,
// metadata) in the request metrics under endpoint, for a door outside the
// HTTP middleware (gRPC).
func (s *Server) ObserveCall(endpoint string, code int, d time.Duration) {
	s.observe(endpoint, &reqInfo{}, code, d)
}
