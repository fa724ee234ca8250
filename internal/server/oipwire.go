package server

import (
	"github.com/mlserve/mlserve/api"

	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The OIP REST wire format: the JSON inference request and response of the
// KServe V2 / Triton specification, and Triton's binary tensor data
// extension. With the extension a body is a JSON header of
// Inference-Header-Content-Length bytes followed by the raw tensors in the
// order of the header's inputs (or outputs) that carry a binary_data_size
// parameter; a BYTES element is a 4-byte little-endian length and its
// bytes, an FP64 element 8 little-endian bytes.

// oipInferRequest is an inference request's JSON (the header, with the
// binary extension).
type oipInferRequest struct {
	ID         string               `json:"id,omitempty" doc:"Request id, echoed in the response."`
	Parameters map[string]any       `json:"parameters,omitempty" doc:"timeout_ms (number), return_probabilities (bool), binary_data_output (bool: every output as binary data)."`
	Inputs     []oipInputTensor     `json:"inputs" doc:"One tensor: text, BYTES, shape [N] or [N,1], N from 1 to 100."`
	Outputs    []oipRequestedOutput `json:"outputs,omitempty" doc:"The outputs to return (label, confidence, probabilities); all when absent."`
}

// oipInputTensor is one input tensor of a request.
type oipInputTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty" doc:"binary_data_size: the tensor's bytes after the JSON header (binary extension)."`
	Data       json.RawMessage `json:"data,omitempty" doc:"The texts, flat or nested by shape; absent with binary_data_size."`
}

// oipRequestedOutput names one output a request wants.
type oipRequestedOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty" doc:"binary_data (bool): this output as binary data."`
}

// oipInferResponse is an inference response's JSON (the header, with the
// binary extension).
type oipInferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []oipOutput    `json:"outputs"`
}

// oipOutput is one output tensor of a response.
type oipOutput struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty" doc:"binary_data_size, when the data follows the header as binary."`
	Data       any            `json:"data,omitempty" doc:"Row-major elements; absent when sent as binary data."`
}

// Bounds of a request's JSON header and of a parameter's value.
const maxShapeDims = 2

// decodeInferBody splits a body into its JSON header and, with headerLen
// (the Inference-Header-Content-Length; -1 when absent), its binary part,
// and returns the texts of the one input. Every failure wraps
// ErrBadRequest.
func decodeInferBody(body []byte, headerLen int64) (*oipInferRequest, []string, error) {
	header, rest := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > int64(len(body)) {
			return nil, nil, fmt.Errorf("%w: Inference-Header-Content-Length %d is larger than the body (%d bytes)", ErrBadRequest, headerLen, len(body))
		}
		header, rest = body[:headerLen], body[headerLen:]
	}
	var req oipInferRequest
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, nil, fmt.Errorf("%w: the request is not a JSON inference request: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: data after the JSON request (binary data needs Inference-Header-Content-Length)", ErrBadRequest)
	}
	if len(req.Inputs) != 1 {
		return nil, nil, fmt.Errorf("%w: %d inputs; want one, %q", ErrBadRequest, len(req.Inputs), TensorText)
	}
	in := req.Inputs[0]
	if in.Name != TensorText {
		return nil, nil, fmt.Errorf("%w: unknown input %q; the input is %q", ErrBadRequest, in.Name, TensorText)
	}
	if in.Datatype != DatatypeBytes {
		return nil, nil, fmt.Errorf("%w: input %s has datatype %q; want %s", ErrBadRequest, in.Name, in.Datatype, DatatypeBytes)
	}
	n, err := textCount(in.Shape)
	if err != nil {
		return nil, nil, err
	}
	var texts []string
	size, binary, err := binarySize(in.Parameters)
	switch {
	case err != nil:
		return nil, nil, err
	case binary:
		if len(in.Data) > 0 {
			return nil, nil, fmt.Errorf("%w: input %s has both data and binary_data_size", ErrBadRequest, in.Name)
		}
		if size != int64(len(rest)) {
			return nil, nil, fmt.Errorf("%w: input %s has binary_data_size %d but %d bytes follow the header", ErrBadRequest, in.Name, size, len(rest))
		}
		texts, err = decodeBinaryBytes(rest, n)
	default:
		if len(rest) > 0 {
			return nil, nil, fmt.Errorf("%w: %d bytes of binary data but no input has binary_data_size", ErrBadRequest, len(rest))
		}
		texts, err = decodeJSONBytes(in.Data, n)
	}
	if err != nil {
		return nil, nil, err
	}
	return &req, texts, nil
}

// textCount checks the input's shape, [N] or [N,1], and returns N.
func textCount(shape []int64) (int, error) {
	if len(shape) == 0 || len(shape) > maxShapeDims || (len(shape) == 2 && shape[1] != 1) {
		return 0, fmt.Errorf("%w: input shape %v; want [N] or [N,1]", ErrBadRequest, shape)
	}
	if shape[0] < 1 || shape[0] > 100 {
		return 0, fmt.Errorf("%w: input shape %v: N must be 1 to 100", ErrBadRequest, shape)
	}
	return int(shape[0]), nil
}

// binarySize reads a tensor's binary_data_size parameter.
func binarySize(params map[string]any) (int64, bool, error) {
	v, ok := params["binary_data_size"]
	if !ok {
		return 0, false, nil
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%w: binary_data_size is not a number", ErrBadRequest)
	}
	n, err := num.Int64()
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%w: binary_data_size %s is not a byte count", ErrBadRequest, num)
	}
	return n, true, nil
}

// decodeBinaryBytes reads n length-prefixed BYTES elements that fill b.
func decodeBinaryBytes(b []byte, n int) ([]string, error) {
	texts := make([]string, 0, n)
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: binary BYTES element %d: %d bytes left, less than its 4-byte length", ErrBadRequest, len(texts), len(b))
		}
		l := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: binary BYTES element %d says %d bytes; %d are left", ErrBadRequest, len(texts), l, len(b))
		}
		if len(texts) == n {
			return nil, fmt.Errorf("%w: more binary BYTES elements than the shape's %d", ErrBadRequest, n)
		}
		t := b[:l]
		if !utf8.Valid(t) {
			return nil, fmt.Errorf("%w: text %d is not valid UTF-8", ErrBadRequest, len(texts))
		}
		texts = append(texts, string(t))
		b = b[l:]
	}
	if len(texts) != n {
		return nil, fmt.Errorf("%w: %d binary BYTES elements; the shape says %d", ErrBadRequest, len(texts), n)
	}
	return texts, nil
}

// decodeJSONBytes reads the data of a BYTES tensor: strings, flat or
// nested (at most maxShapeDims deep), n of them.
func decodeJSONBytes(data json.RawMessage, n int) ([]string, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: input %s has no data", ErrBadRequest, TensorText)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: input data: %v", ErrBadRequest, err)
	}
	texts := make([]string, 0, n)
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		switch x := v.(type) {
		case string:
			if len(texts) == n {
				return fmt.Errorf("%w: more data elements than the shape's %d", ErrBadRequest, n)
			}
			texts = append(texts, x)
			return nil
		case []any:
			if depth == maxShapeDims {
				return fmt.Errorf("%w: input data nested deeper than its shape", ErrBadRequest)
			}
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("%w: input data holds a %T; BYTES elements are strings", ErrBadRequest, v)
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	if len(texts) != n {
		return nil, fmt.Errorf("%w: %d data elements; the shape says %d", ErrBadRequest, len(texts), n)
	}
	return texts, nil
}

// paramBool reads a boolean parameter; absent is def.
func paramBool(params map[string]any, key string, def bool) (bool, error) {
	v, ok := params[key]
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%w: parameter %s is not a boolean", ErrBadRequest, key)
	}
	return b, nil
}

// paramInt reads a whole-number parameter; absent is 0.
func paramInt(params map[string]any, key string) (int, error) {
	v, ok := params[key]
	if !ok {
		return 0, nil
	}
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, fmt.Errorf("%w: parameter %s is not a number", ErrBadRequest, key)
		}
	case float64:
		f = x
	default:
		return 0, fmt.Errorf("%w: parameter %s is not a number", ErrBadRequest, key)
	}
	if f < 0 || f > math.MaxInt32 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%w: parameter %s is %v; want a whole number of 0 or more", ErrBadRequest, key, f)
	}
	return int(f), nil
}

// outputPlan is which outputs an answer carries, each as JSON or binary.
type outputPlan struct {
	names  []string
	binary []bool
}

// planOutputs decides the outputs: the requested ones, or all (without
// probabilities when return_probabilities is false or the model gives
// none; with labels for a multi-label model); binary when the output or
// the request asks for it.
func planOutputs(req *oipInferRequest, hasProbabilities, multiLabel bool) (outputPlan, error) {
	allBinary, err := paramBool(req.Parameters, "binary_data_output", false)
	if err != nil {
		return outputPlan{}, err
	}
	var p outputPlan
	if len(req.Outputs) == 0 {
		withProbs, err := paramBool(req.Parameters, "return_probabilities", true)
		if err != nil {
			return outputPlan{}, err
		}
		p.names = []string{TensorLabel, TensorConfidence}
		if withProbs && hasProbabilities {
			p.names = append(p.names, TensorProbabilities)
		}
		if multiLabel {
			p.names = append(p.names, TensorLabels)
		}
		for range p.names {
			p.binary = append(p.binary, allBinary)
		}
		return p, nil
	}
	for _, o := range req.Outputs {
		switch o.Name {
		case TensorLabel, TensorConfidence:
		case TensorProbabilities:
			if !hasProbabilities {
				return outputPlan{}, fmt.Errorf("%w: output %s: the model gives no probabilities", ErrBadRequest, o.Name)
			}
		case TensorLabels:
			if !multiLabel {
				return outputPlan{}, fmt.Errorf("%w: output %s: only a multi-label model has it", ErrBadRequest, o.Name)
			}
		case TensorExplanation:
		default:
			return outputPlan{}, fmt.Errorf("%w: unknown output %q (the outputs are label, confidence, probabilities, explanation, and labels for a multi-label model)", ErrBadRequest, o.Name)
		}
		b, err := paramBool(o.Parameters, "binary_data", allBinary)
		if err != nil {
			return outputPlan{}, err
		}
		p.names = append(p.names, o.Name)
		p.binary = append(p.binary, b)
	}
	return p, nil
}

// explainOutput reads the explanation output's request: asked for or
// not, and its parameters top_k and max_tokens.
func explainOutput(req *oipInferRequest) (api.Explain, error) {
	for _, o := range req.Outputs {
		if o.Name != TensorExplanation {
			continue
		}
		topK, err := paramInt(o.Parameters, "top_k")
		if err != nil {
			return api.Explain{}, err
		}
		maxTok, err := paramInt(o.Parameters, "max_tokens")
		if err != nil {
			return api.Explain{}, err
		}
		if topK > api.MaxExplainTopK || maxTok > api.MaxExplainTokens {
			return api.Explain{}, fmt.Errorf("%w: output explanation: top_k at most %d, max_tokens at most %d", ErrBadRequest, api.MaxExplainTopK, api.MaxExplainTokens)
		}
		return api.Explain{Enabled: true, TopK: topK, MaxTokens: maxTok}, nil
	}
	return api.Explain{}, nil
}

// hasProbabilities says every prediction carries probabilities over labels.
func hasProbabilities(res *InferResult) bool {
	for _, p := range res.Predictions {
		if len(p.Probabilities) != len(res.Labels) || len(p.Probabilities) == 0 {
			return false
		}
	}
	return true
}

// encodeInferResponse writes the answer: JSON alone, or (headerLen ≥ 0)
// the JSON header followed by the binary outputs.
func encodeInferResponse(name, id string, res *InferResult, plan outputPlan) (body []byte, headerLen int, err error) {
	resp := oipInferResponse{ModelName: name, ModelVersion: res.Version, ID: id,
		Parameters: map[string]any{"model_id": res.ModelID}}
	var bin []byte
	n := int64(len(res.Predictions))
	for i, name := range plan.names {
		out := oipOutput{Name: name}
		var raw []byte
		switch name {
		case TensorLabel:
			out.Shape, out.Datatype = []int64{n}, DatatypeBytes
			labels := make([]string, n)
			for j, p := range res.Predictions {
				labels[j] = p.Label
				raw = binary.LittleEndian.AppendUint32(raw, uint32(len(p.Label)))
				raw = append(raw, p.Label...)
			}
			out.Data = labels
		case TensorConfidence:
			out.Shape, out.Datatype = []int64{n}, DatatypeFP64
			conf := make([]float64, n)
			for j, p := range res.Predictions {
				conf[j] = p.Confidence
				raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(p.Confidence))
			}
			out.Data = conf
		case TensorExplanation:
			out.Shape, out.Datatype = []int64{n}, DatatypeBytes
			docs := make([]string, n)
			for j := range res.Predictions {
				var ex *api.Explanation
				if j < len(res.Explanations) {
					ex = res.Explanations[j]
				}
				doc, err := json.Marshal(ex)
				if err != nil {
					return nil, 0, err
				}
				docs[j] = string(doc)
				raw = binary.LittleEndian.AppendUint32(raw, uint32(len(doc)))
				raw = append(raw, doc...)
			}
			out.Data = docs
		case TensorProbabilities:
			c := int64(len(res.Labels))
			out.Shape, out.Datatype = []int64{n, c}, DatatypeFP64
			probs := make([]float64, 0, n*c)
			for _, p := range res.Predictions {
				probs = append(probs, p.Probabilities...)
				for _, v := range p.Probabilities {
					raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
				}
			}
			out.Data = probs
		case TensorLabels:
			out.Shape, out.Datatype = []int64{n}, DatatypeBytes
			sets := make([]string, n)
			for j, l := range res.MultiLabels {
				e := EncodeLabelSet(l)
				sets[j] = string(e)
				raw = binary.LittleEndian.AppendUint32(raw, uint32(len(e)))
				raw = append(raw, e...)
			}
			out.Data = sets
		}
		if plan.binary[i] {
			out.Data = nil
			out.Parameters = map[string]any{"binary_data_size": len(raw)}
			bin = append(bin, raw...)
		}
		resp.Outputs = append(resp.Outputs, out)
	}
	header, err := json.Marshal(resp)
	if err != nil {
		return nil, 0, err
	}
	if !slices.Contains(plan.binary, true) {
		return header, -1, nil
	}
	return append(header, bin...), len(header), nil
}

// parseHeaderLen reads Inference-Header-Content-Length; "" is -1.
func parseHeaderLen(v string) (int64, error) {
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: Inference-Header-Content-Length %q is not a byte count", ErrBadRequest, v)
	}
	return n, nil
}
