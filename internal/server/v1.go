package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// KServe V1, what KServe's request batcher and older clients speak:
// GET /v1/models/{name} and POST /v1/models/{name}:predict.

type v1ModelOutput struct {
	Body struct {
		Name  string `json:"name" doc:"Model name as asked."`
		Ready bool   `json:"ready" doc:"The model serves."`
	}
}

// v1PredictBody is a V1 predict request.
type v1PredictBody struct {
	Instances  []json.RawMessage `json:"instances" minItems:"1" maxItems:"100" doc:"1 to 100 texts: strings, or objects with a text field."`
	Parameters map[string]any    `json:"parameters,omitempty" doc:"timeout_ms (number), return_probabilities (bool)."`
}

type v1PredictInput struct {
	Name      string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]*$" maxLength:"139" doc:"Model name (its default version) or full id (sentiment-v2)."`
	RequestID string `header:"X-Request-ID" doc:"Request id to echo; generated when absent."`
	Body      v1PredictBody
}

// v1Prediction is one text's answer.
type v1Prediction struct {
	Label         string             `json:"label"`
	Confidence    float64            `json:"confidence"`
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
}

// v1PredictResponse is a V1 predict answer.
type v1PredictResponse struct {
	Predictions []v1Prediction `json:"predictions"`
}

type v1PredictOutput struct {
	RequestID string `header:"X-Request-ID"`
	Body      *v1PredictResponse
}

// v1LiveOutput is KServe V1's liveness answer.
type v1LiveOutput struct {
	Body struct {
		Status string `json:"status" enum:"alive" doc:"alive while the process answers."`
	}
}

// exactRoot is the mux huma registers on, with a route at "/" (KServe V1's
// liveness) matched exactly: ServeMux reads the pattern "GET /" as every
// GET path, which would answer "alive" where a 404 is due.
type exactRoot struct{ *http.ServeMux }

// HandleFunc registers pattern, "/" as exactly "/".
func (m exactRoot) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	if strings.HasSuffix(pattern, " /") {
		pattern += "{$}"
	}
	m.ServeMux.HandleFunc(pattern, h)
}

func (s *Server) registerV1() {
	tags := []string{"kserve v1"}
	huma.Register(s.api, huma.Operation{
		OperationID: "v1-live", Method: http.MethodGet, Path: "/",
		Summary: "KServe V1 liveness: {\"status\": \"alive\"} while the process answers", Tags: tags,
	}, func(context.Context, *struct{}) (*v1LiveOutput, error) {
		out := &v1LiveOutput{}
		out.Body.Status = "alive"
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "v1-model", Method: http.MethodGet, Path: "/v1/models/{name}",
		Summary: "KServe V1 model status", Tags: tags, Errors: []int{404, 422},
	}, func(_ context.Context, in *oipNamePath) (*v1ModelOutput, error) {
		ok, err := s.ModelReady(in.Name, "")
		if err != nil {
			return nil, toProblem(err, "path.name", in.Name)
		}
		out := &v1ModelOutput{}
		out.Body.Name, out.Body.Ready = in.Name, ok
		return out, nil
	})
	s.v1PredictOp = huma.Operation{
		OperationID: "v1-predict", Method: http.MethodPost, Path: "/v1/models/{name}/predict",
		Summary: "KServe V1 predict", Tags: tags, MaxBodyBytes: s.opts.MaxBodyBytes, DefaultStatus: http.StatusOK,
		Description: `{"instances": ["text", ...]} → {"predictions": [{"label", "confidence", "probabilities"}]}; served on the protocol's path /v1/models/{name}:predict.`,
		Errors:      oipErrors,
	}
	huma.Register(s.api, s.v1PredictOp, s.v1Predict)
	// ServeMux cannot route "{name}:predict" (v1PredictPath rewrites it):
	// the document names the protocol's own path.
	paths := s.api.OpenAPI().Paths
	if item := paths[v1PredictRoute("{name}")]; item != nil {
		// An empty body is Infer's 400 (no texts); a bad name stays a 422.
		item.Post.RequestBody.Required = false
		delete(paths, v1PredictRoute("{name}"))
		paths["/v1/models/{name}:predict"] = item
	}
}

func (s *Server) v1Predict(ctx context.Context, in *v1PredictInput) (*v1PredictOutput, error) {
	texts := make([]string, len(in.Body.Instances))
	for i, raw := range in.Body.Instances {
		var t string
		if err := json.Unmarshal(raw, &t); err != nil {
			var obj struct {
				Text *string `json:"text"`
			}
			if json.Unmarshal(raw, &obj) != nil || obj.Text == nil {
				return nil, toProblem(fmt.Errorf("%w: instance %d is neither a string nor an object with a text", ErrBadRequest, i), fmt.Sprintf("body.instances[%d]", i), nil)
			}
			t = *obj.Text
		}
		texts[i] = t
	}
	return s.doV1Predict(ctx, infoFrom(ctx), in.Name, in.RequestID, texts, in.Body.Parameters)
}

// doV1Predict answers a V1 predict for huma and for the fast path
// (oipfast.go); ri is the middleware's record of the request.
func (s *Server) doV1Predict(ctx context.Context, ri *reqInfo, name, requestID string, texts []string, params map[string]any) (*v1PredictOutput, error) {
	timeout, err := paramInt(params, "timeout_ms")
	if err != nil {
		return nil, toProblem(err, "body.parameters.timeout_ms", nil)
	}
	withProbs, err := paramBool(params, "return_probabilities", false)
	if err != nil {
		return nil, toProblem(err, "body.parameters.return_probabilities", nil)
	}
	res, err := s.infer(ctx, ri, InferRequest{Name: name, Texts: texts, TimeoutMS: timeout, RequestID: requestID, Protocol: ProtocolV1})
	if err != nil {
		return nil, inferProblem(err)
	}
	out := &v1PredictOutput{RequestID: res.RequestID, Body: &v1PredictResponse{}}
	out.Body.Predictions = make([]v1Prediction, len(res.Predictions))
	for i, p := range res.Predictions {
		out.Body.Predictions[i] = v1Prediction{Label: p.Label, Confidence: p.Confidence}
		if withProbs {
			out.Body.Predictions[i].Probabilities = probabilities(res.Labels, p.Probabilities)
		}
	}
	return out, nil
}
