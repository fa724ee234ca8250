package server

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// The prediction endpoints are registered with huma, which documents them in
// the OpenAPI document and serves every request the fast path passes on. The
// fast path serves the common request, a well-formed JSON body that
// satisfies the schema, without huma's generic machinery: huma parses a body
// twice (into a map to validate it, then into the struct) through
// reflection, which cost more than the rest of the request. It decodes with
// decodePredict/decodeBatch, runs the same handler, and writes the answer or
// the problem document through the same huma API (content negotiation,
// transformers, JSON format) as huma's own path, so a response does not
// depend on which path served it (fast_test.go compares both).

// fastContentType reports whether huma would read a body of content type ct
// as JSON, and nothing else could.
func fastContentType(ct string) bool {
	return ct == "application/json" || strings.HasPrefix(ct, "application/json;")
}

// serveFast answers a POST to /predict or /batch-predict whose body (read
// and checked by the middleware) the fast decoders accept. It returns false,
// having written nothing, when huma must serve the request.
func (s *Server) serveFast(w http.ResponseWriter, r *http.Request, endpoint string, ri *reqInfo, body []byte) bool {
	if s.noFast || !fastContentType(r.Header.Get("Content-Type")) {
		return false
	}
	if ct, err := s.api.Negotiate(r.Header.Get("Accept")); err != nil || ct != "application/json" {
		return false
	}
	ctx := r.Context()
	var op *huma.Operation
	var rid string
	var out any
	var err error
	switch endpoint {
	case "/predict":
		req, ok := decodePredict(string(body))
		if !ok {
			return false
		}
		op = &s.predictOp
		var o *predictOutput
		if o, err = s.doPredict(ctx, ri, &predictInput{RequestID: r.Header.Get("X-Request-ID"), Body: req}); err == nil {
			rid, out = o.RequestID, o.Body
		}
	case "/batch-predict":
		req, ok := decodeBatch(string(body))
		if !ok {
			return false
		}
		op = &s.batchOp
		var o *batchOutput
		if o, err = s.doBatchPredict(ctx, ri, &batchInput{RequestID: r.Header.Get("X-Request-ID"), Body: req}); err == nil {
			rid, out = o.RequestID, o.Body
		}
	default:
		return false
	}
	if s.onFast != nil {
		s.onFast(endpoint)
	}
	if err != nil {
		s.writeFastError(w, r, op, err)
		return true
	}
	s.writeFast(w, r, op, rid, out)
	return true
}

// writeFast writes a successful answer as huma writes an output struct with
// an X-Request-ID header field and a body.
func (s *Server) writeFast(w http.ResponseWriter, r *http.Request, op *huma.Operation, rid string, body any) {
	if rid != "" {
		w.Header().Set("X-Request-ID", rid)
	}
	s.writeBody(w, r, op, op.DefaultStatus, body)
}

// writeFastError writes a handler's error as huma does: the headers of a
// huma.HeadersError, then the status error's problem document.
func (s *Server) writeFastError(w http.ResponseWriter, r *http.Request, op *huma.Operation, err error) {
	var he huma.HeadersError
	if errors.As(err, &he) {
		for k, values := range he.GetHeaders() {
			for _, v := range values {
				w.Header().Add(k, v)
			}
		}
	}
	var se huma.StatusError
	if !errors.As(err, &se) {
		se = huma.NewErrorWithContext(humago.NewContext(op, r, w), http.StatusInternalServerError, "unexpected error occurred", err)
	}
	s.writeBody(w, r, op, se.GetStatus(), se)
}

// writeBody negotiates, transforms and marshals body as huma's writeResponse
// does for a response without a fixed content type.
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, op *huma.Operation, status int, body any) {
	ct, err := s.api.Negotiate(r.Header.Get("Accept"))
	if err != nil {
		ct = "application/json" // serveFast checked that negotiation succeeds
	}
	if ctf, ok := body.(huma.ContentTypeFilter); ok {
		ct = ctf.ContentType(ct)
	}
	w.Header().Set("Content-Type", ct)
	v, err := s.api.Transform(humago.NewContext(op, r, w), strconv.Itoa(status), body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("error transforming response"))
		s.log.Error("transforming a response", "path", r.URL.Path, "status", status, "err", err)
		return
	}
	// Encode first, then write the status: an answer that cannot be encoded
	// becomes a 500 problem, never a 200 without a body.
	bp := bufPool.Get().(*[]byte)
	b, ok := (*bp)[:0], false
	if ct == "application/json" && v == body {
		// Not transformed: a prediction answer is encoded by hand (encode.go).
		b, ok = appendAnswer(b, v)
	}
	if !ok {
		buf := bytes.NewBuffer(b[:0])
		if err := s.api.Marshal(buf, ct, v); err != nil {
			s.log.Error("encoding a response", "path", r.URL.Path, "status", status, "err", err)
			writeProblem(w, http.StatusInternalServerError, "the response cannot be encoded: "+err.Error())
			return
		}
		b = buf.Bytes()
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}
