package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The protocol doors' fast path: the common JSON request of an OIP infer
// call and of a KServe V1 predict, served without huma's generic machinery
// (path parameters through reflection, encoding/json into maps and `any`,
// json.Marshal of the answer), which cost the OIP door a third of
// /predict's throughput. It is fenced like /predict's (fast.go): the
// decoders accept a strict subset that the general path would decode the
// same way, and answer false for anything else (binary tensors, nested
// data, an unknown, repeated or case-folded key, a number that is not a
// plain integer, invalid UTF-8, a body of unknown length), which the
// general path then serves from the untouched body. Everything after the
// decoding is the general path's: Infer, planOutputs, the same error
// values written through the same huma API and oipErrorWriter. The OIP
// answer is encoded by hand as json.Marshal writes it; an answer with a
// string json.Marshal would HTML-escape goes to encodeInferResponse. The
// differential test and fuzz target in oipfast_test.go hold both paths to
// the same bytes.

// maxParamInt is the largest whole-number parameter paramInt accepts.
const maxParamInt = math.MaxInt32

// readFastBody reads a body of announced length for a fast decoder, or
// returns false with r.Body left for the general path to read as it would
// have: the bytes read so far, then the rest of the original body.
func (s *Server) readFastBody(r *http.Request) ([]byte, bool) {
	if s.noFast || r.ContentLength <= 0 || r.ContentLength > s.opts.MaxBodyBytes {
		return nil, false
	}
	if ct, err := s.api.Negotiate(r.Header.Get("Accept")); err != nil || ct != "application/json" {
		return nil, false
	}
	b := make([]byte, r.ContentLength)
	n, err := io.ReadFull(r.Body, b)
	if err != nil || !utf8.Valid(b) {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b[:n]), r.Body), r.Body}
		return nil, false
	}
	return b, true
}

// giveBack hands a body the fast decoders refused to the general path.
func giveBack(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
}

// fastInferPath splits a POST /v2/models/{name}[/versions/{version}]/infer
// path into the name and version huma's patterns would accept, or answers
// false.
func fastInferPath(r *http.Request) (name, version string, ok bool) {
	if r.URL.RawPath != "" {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/models/")
	if !ok {
		return "", "", false
	}
	if rest, ok = strings.CutSuffix(rest, "/infer"); !ok {
		return "", "", false
	}
	name, version, hasVersion := strings.Cut(rest, "/versions/")
	if !validPathName(name) || (hasVersion && !validPathVersion(version)) {
		return "", "", false
	}
	return name, version, true
}

// validPathName says huma accepts name as a {name} path parameter:
// ^[a-z0-9][a-z0-9_.-]*$, at most 139 bytes.
func validPathName(name string) bool {
	if name == "" || len(name) > 139 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validPathVersion says huma accepts v as a {version} path parameter:
// ^v?[0-9]{1,9}$.
func validPathVersion(v string) bool {
	v = strings.TrimPrefix(v, "v")
	if v == "" || len(v) > 9 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// fastInfer is a decoded OIP infer request of the common shape.
type fastInfer struct {
	req       oipInferRequest // id, parameters and outputs, as planOutputs reads them
	texts     []string
	timeoutMS int
}

// decodeFastInfer decodes an OIP infer request's JSON that the general
// path (decodeInferBody, paramInt, planOutputs) would read the same way:
// one input "text", BYTES, shape [N] or [N,1] with 1 ≤ N ≤ 100, its data a
// flat array of N strings; an id; parameters timeout_ms (a plain integer)
// and return_probabilities, binary_data_output false; outputs by name,
// binary_data false.
func decodeFastInfer(body string) (*fastInfer, bool) {
	f := &fastInfer{}
	p := scanner{s: body}
	var seenID, seenInputs, seenParams, seenOutputs bool
	ok := p.object(func(key string) bool {
		var ok bool
		switch key {
		case "id":
			if seenID {
				return false
			}
			seenID = true
			f.req.ID, ok = p.str()
			return ok
		case "inputs":
			if seenInputs {
				return false
			}
			seenInputs = true
			n := 0
			return p.array(func() bool {
				n++
				return n == 1 && p.fastInput(f)
			})
		case "parameters":
			if seenParams {
				return false
			}
			seenParams = true
			return p.fastParameters(f)
		case "outputs":
			if seenOutputs {
				return false
			}
			seenOutputs = true
			return p.array(func() bool { return p.fastOutput(f) })
		}
		return false
	})
	return f, ok && seenInputs
}

// fastInput reads the one input tensor into f.texts.
func (p *scanner) fastInput(f *fastInfer) bool {
	var name, datatype string
	n, seen := 0, 0
	const (
		seenName = 1 << iota
		seenType
		seenShape
		seenData
	)
	once := func(bit int) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	ok := p.members(func(key string) bool {
		var ok bool
		switch key {
		case "name":
			if !once(seenName) {
				return false
			}
			name, ok = p.str()
			return ok
		case "datatype":
			if !once(seenType) {
				return false
			}
			datatype, ok = p.str()
			return ok
		case "shape":
			if !once(seenShape) {
				return false
			}
			dims := 0
			return p.array(func() bool {
				dims++
				switch dims {
				case 1:
					n, ok = p.uint(maxBatch)
					return ok && n >= 1
				case 2:
					one, ok := p.uint(1)
					return ok && one == 1
				}
				return false
			})
		case "data":
			if !once(seenData) {
				return false
			}
			f.texts = make([]string, 0, 1)
			return p.array(func() bool {
				t, ok := p.str()
				if !ok || len(f.texts) == maxBatch {
					return false
				}
				f.texts = append(f.texts, t)
				return true
			})
		}
		return false
	})
	return ok && seen == seenName|seenType|seenShape|seenData &&
		name == TensorText && datatype == DatatypeBytes && len(f.texts) == n
}

// maxBatch is textCount's bound on N.
const maxBatch = 100

// fastParameters reads a request's parameters: timeout_ms,
// return_probabilities, and binary_data_output when false.
func (p *scanner) fastParameters(f *fastInfer) bool {
	var seenTimeout bool
	return p.members(func(key string) bool {
		switch key {
		case "timeout_ms":
			if seenTimeout {
				return false
			}
			seenTimeout = true
			var ok bool
			f.timeoutMS, ok = p.uint(maxParamInt)
			return ok
		case "return_probabilities", "binary_data_output":
			b, ok := p.boolean()
			if !ok || (key == "binary_data_output" && b) {
				return false
			}
			if f.req.Parameters == nil {
				f.req.Parameters = map[string]any{}
			}
			if _, dup := f.req.Parameters[key]; dup {
				return false
			}
			f.req.Parameters[key] = b
			return true
		}
		return false
	})
}

// fastOutput reads one requested output: its name, and binary_data when
// false.
func (p *scanner) fastOutput(f *fastInfer) bool {
	var o oipRequestedOutput
	var seenName, seenParams bool
	ok := p.members(func(key string) bool {
		switch key {
		case "name":
			if seenName {
				return false
			}
			seenName = true
			var ok bool
			o.Name, ok = p.str()
			return ok
		case "parameters":
			if seenParams {
				return false
			}
			seenParams = true
			seenBinary := false
			return p.members(func(key string) bool {
				if key != "binary_data" || seenBinary {
					return false
				}
				seenBinary = true
				b, ok := p.boolean()
				return ok && !b
			})
		}
		return false
	})
	if !ok || !seenName {
		return false
	}
	f.req.Outputs = append(f.req.Outputs, o)
	return true
}

// serveFastInfer answers a POST /v2/models/{name}[/versions/{version}]/infer
// of the common JSON shape; false, with the body left for huma, when the
// general path must serve it. w is the protocol's error writer.
func (s *Server) serveFastInfer(w http.ResponseWriter, r *http.Request, ri *reqInfo) bool {
	if r.Header.Get("Inference-Header-Content-Length") != "" {
		return false
	}
	name, version, ok := fastInferPath(r)
	if !ok {
		return false
	}
	body, ok := s.readFastBody(r)
	if !ok {
		return false
	}
	f, ok := decodeFastInfer(string(body))
	if !ok {
		giveBack(r, body)
		return false
	}
	if s.onFast != nil {
		s.onFast(EndpointV2Infer)
	}
	b, err := s.fastInferAnswer(r.Context(), ri, name, version, f)
	if err != nil {
		s.writeFastError(w, r, &s.oipInferOp, err)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*b)
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
	return true
}

// fastInferAnswer runs a decoded request as oipInfer runs one and encodes
// the answer into a pooled buffer; its errors are oipInfer's.
func (s *Server) fastInferAnswer(ctx context.Context, ri *reqInfo, name, version string, f *fastInfer) (*[]byte, error) {
	if _, err := planOutputs(&f.req, true, true); err != nil {
		return nil, toProblem(err, "body.outputs", nil)
	}
	res, err := s.infer(ctx, ri, InferRequest{Name: name, Version: version, Texts: f.texts, TimeoutMS: f.timeoutMS,
		RequestID: f.req.ID, Protocol: ProtocolV2REST})
	if err != nil {
		return nil, inferProblem(err)
	}
	plan, err := planOutputs(&f.req, hasProbabilities(res), res.MultiLabels != nil)
	if err != nil {
		return nil, toProblem(err, "body.outputs", nil)
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := appendInferResponse((*bp)[:0], name, f.req.ID, res, plan)
	if !ok {
		// A string json.Marshal escapes for HTML (a label with < > &), or a
		// figure it refuses: the general encoder writes it, or says why not.
		// The plan has no binary outputs, so the answer is JSON alone.
		if b, _, err = encodeInferResponse(name, f.req.ID, res, plan); err != nil {
			bufPool.Put(bp)
			return nil, toProblem(fmt.Errorf("%w: %v", ErrModelOutput, err), "", nil)
		}
	}
	*bp = b
	return bp, nil
}

// appendInferResponse appends the JSON answer (plan without binary
// outputs) byte for byte as encodeInferResponse's json.Marshal writes it.
// It answers false for a string json.Marshal would escape for HTML and for
// a non-finite figure.
func appendInferResponse(b []byte, name, id string, res *InferResult, plan outputPlan) ([]byte, bool) {
	if !htmlSafe(name) || !htmlSafe(id) || !htmlSafe(res.Version) || !htmlSafe(res.ModelID) {
		return b, false
	}
	b = append(b, `{"model_name":`...)
	b = appendJSONString(b, name)
	if res.Version != "" {
		b = append(b, `,"model_version":`...)
		b = appendJSONString(b, res.Version)
	}
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, id)
	}
	b = append(b, `,"parameters":{"model_id":`...)
	b = appendJSONString(b, res.ModelID)
	b = append(b, `},"outputs":[`...)
	n := len(res.Predictions)
	ok := true
	for i, out := range plan.names {
		if plan.binary[i] {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, out)
		b = append(b, `,"shape":[`...)
		b = appendInt(b, n)
		switch out {
		case TensorLabel:
			b = append(b, `],"datatype":"BYTES","data":[`...)
			for j, p := range res.Predictions {
				if !htmlSafe(p.Label) {
					return b, false
				}
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, p.Label)
			}
		case TensorConfidence:
			b = append(b, `],"datatype":"FP64","data":[`...)
			for j, p := range res.Predictions {
				if j > 0 {
					b = append(b, ',')
				}
				var fok bool
				b, fok = appendJSONFloat(b, p.Confidence)
				ok = ok && fok
			}
		case TensorProbabilities:
			b = append(b, ',')
			b = appendInt(b, len(res.Labels))
			b = append(b, `],"datatype":"FP64","data":[`...)
			first := true
			for _, p := range res.Predictions {
				for _, v := range p.Probabilities {
					if !first {
						b = append(b, ',')
					}
					first = false
					var fok bool
					b, fok = appendJSONFloat(b, v)
					ok = ok && fok
				}
			}
		default:
			return b, false
		}
		b = append(b, ']', '}')
	}
	return append(b, ']', '}'), ok
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// htmlSafe says json.Marshal writes s without HTML escapes.
func htmlSafe(s string) bool { return !strings.ContainsAny(s, "<>&") }

// serveFastV1 answers a POST /v1/models/{name}:predict (its path already
// rewritten by v1PredictPath) of the common JSON shape; false, with the
// body left for huma, when the general path must serve it.
func (s *Server) serveFastV1(w http.ResponseWriter, r *http.Request, ri *reqInfo) bool {
	if r.URL.RawPath != "" || !fastContentType(r.Header.Get("Content-Type")) {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/models/")
	if !ok {
		return false
	}
	name, ok := strings.CutSuffix(rest, "/predict")
	if !ok || !validPathName(name) {
		return false
	}
	body, ok := s.readFastBody(r)
	if !ok {
		return false
	}
	in, ok := decodeFastV1(string(body))
	if !ok {
		giveBack(r, body)
		return false
	}
	if s.onFast != nil {
		s.onFast(EndpointV1Predict)
	}
	out, err := s.doV1Predict(r.Context(), ri, name, r.Header.Get("X-Request-ID"), in.texts, in.params)
	if err != nil {
		s.writeFastError(w, r, &s.v1PredictOp, err)
		return true
	}
	s.writeFast(w, r, &s.v1PredictOp, out.RequestID, out.Body)
	return true
}

// fastV1 is a decoded V1 predict request of the common shape.
type fastV1 struct {
	texts  []string
	params map[string]any // as huma decodes them: numbers are float64
}

// decodeFastV1 decodes a V1 predict body that huma would accept unchanged
// and v1Predict read the same way: 1 to 100 instances, each a string;
// parameters timeout_ms (a plain integer) and return_probabilities.
func decodeFastV1(body string) (*fastV1, bool) {
	in := &fastV1{}
	p := scanner{s: body}
	var seenInstances, seenParams bool
	var texts []string
	ok := p.object(func(key string) bool {
		switch key {
		case "instances":
			if seenInstances {
				return false
			}
			seenInstances = true
			texts = make([]string, 0, 1)
			return p.array(func() bool {
				t, ok := p.str()
				if !ok || len(texts) == maxBatch {
					return false
				}
				texts = append(texts, t)
				return true
			})
		case "parameters":
			if seenParams {
				return false
			}
			seenParams = true
			in.params = map[string]any{}
			return p.members(func(key string) bool {
				if _, dup := in.params[key]; dup {
					return false
				}
				switch key {
				case "timeout_ms":
					n, ok := p.uint(maxParamInt)
					in.params[key] = float64(n) // as huma decodes a number into any
					return ok
				case "return_probabilities":
					b, ok := p.boolean()
					in.params[key] = b
					return ok
				}
				return false
			})
		}
		return false
	})
	if !ok || !seenInstances {
		return nil, false
	}
	in.texts = texts
	return in, true
}
