package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/mirror"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/ood"
	"github.com/mlserve/mlserve/internal/traffic"
)

func init() {
	// Every error huma writes (validation, parsing, ours) is an api.Problem.
	huma.NewError = newProblem
}

// newProblem builds the problem document for status with huma's details.
func newProblem(status int, msg string, errs ...error) huma.StatusError {
	p := &api.Problem{Status: status, Title: http.StatusText(status), Detail: capText(msg, maxMessageBytes), Errors: []api.ErrorDetail{}}
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(e, &d) {
			det := d.ErrorDetail()
			p.Errors = append(p.Errors, api.ErrorDetail{Location: det.Location, Message: capText(det.Message, maxMessageBytes), Value: capValue(det.Value)})
			continue
		}
		p.Errors = append(p.Errors, api.ErrorDetail{Message: capText(e.Error(), maxMessageBytes)})
	}
	return p
}

// maxEchoBytes bounds a value a problem document repeats from the request:
// huma's errors quote the whole body, and a 1 MiB body should not come
// back in full. maxMessageBytes bounds a message or detail, which may quote
// a field (a model reference, a name) the client sent.
const (
	maxEchoBytes    = 256
	maxMessageBytes = 1024
)

// echoEllipsis marks a value cut at maxEchoBytes.
const echoEllipsis = "…"

// capText returns s cut to at most n bytes at a code point boundary, with
// echoEllipsis appended when it was cut.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + echoEllipsis
}

// capValue caps the text forms of an echoed value; numbers, booleans and
// the like pass unchanged.
func capValue(v any) any {
	switch x := v.(type) {
	case string:
		return capText(x, maxEchoBytes)
	case []byte:
		return capText(string(x), maxEchoBytes)
	case json.RawMessage:
		return capText(string(x), maxEchoBytes)
	}
	return v
}

// StatusOf is the one place internal errors become HTTP statuses. Every
// door uses it: the huma routes, the OIP and V1 routes (oip.go), and the
// gRPC door, which maps the status to a gRPC code in one table.
func StatusOf(err error) int {
	var se huma.StatusError
	switch {
	case errors.As(err, &se):
		return se.GetStatus()
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, model.ErrNotReady):
		return http.StatusServiceUnavailable // known, on its way: before any 404
	case errors.Is(err, model.ErrNotFound), errors.Is(err, monitoring.ErrUnknownRequest),
		errors.Is(err, monitoring.ErrNotTracked):
		return http.StatusNotFound
	case errors.Is(err, inference.ErrQueueFull), errors.Is(err, inference.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, traffic.ErrNoTraffic):
		return http.StatusNotFound
	case errors.Is(err, model.ErrExists), errors.Is(err, model.ErrInUse), errors.Is(err, model.ErrReadOnly),
		errors.Is(err, ErrNotCandidate):
		return http.StatusConflict
	case errors.Is(err, model.ErrInvalidName),
		errors.Is(err, model.ErrUnsupported), errors.Is(err, model.ErrInvalid), errors.Is(err, monitoring.ErrUnknownLabel),
		errors.Is(err, ood.ErrOutOfDistribution),
		errors.Is(err, model.ErrCertificate), errors.Is(err, traffic.ErrInvalidPolicy):
		return http.StatusUnprocessableEntity
	case errors.Is(err, mirror.ErrUnavailable):
		return http.StatusBadGateway // the model store behind an s3:// repository failed or stalled
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499 // client closed the request; nobody reads the answer
	default:
		return http.StatusInternalServerError
	}
}

// errorKind is the monitoring error kind of a predict answer's status: ""
// for success and for statuses that are not a prediction failure (401, 403,
// 499).
func errorKind(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return monitoring.KindValidation
	case http.StatusNotFound:
		return monitoring.KindNotFound
	case http.StatusServiceUnavailable:
		return monitoring.KindQueueFull
	case http.StatusGatewayTimeout:
		return monitoring.KindTimeout
	case http.StatusInternalServerError:
		return monitoring.KindModel
	}
	return ""
}

// toProblem turns err into the problem document sent for it; location and
// value, when given, name the request field the error is about.
func toProblem(err error, location string, value any) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	status := StatusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError && !errors.Is(err, ErrModelOutput) {
		msg = "internal error" // the cause is logged; a model's bad answer is the client's business
	}
	if status == http.StatusGatewayTimeout {
		msg = "the request timed out before the model answered"
	}
	d := &huma.ErrorDetail{Location: location, Message: err.Error(), Value: value}
	if status == http.StatusInternalServerError {
		d.Message = msg // the cause is logged, not sent (see above)
	}
	if location == "" {
		d.Location = "request"
	}
	p := newProblem(status, msg, d).(*api.Problem)
	if status == 499 {
		p.Title = "Client Closed Request"
	}
	ce := &causedProblem{problem: p, cause: err}
	if errors.Is(err, inference.ErrQueueFull) {
		secs := max(1, int((inference.RetryAfter(err)+time.Second-1)/time.Second))
		return huma.ErrorWithHeaders(ce, http.Header{"Retry-After": {strconv.Itoa(secs)}})
	}
	if errors.Is(err, model.ErrNotReady) {
		// a version still loading: a load balancer retries it shortly
		secs := max(1, int(model.RetryAfter/time.Second))
		return huma.ErrorWithHeaders(ce, http.Header{"Retry-After": {strconv.Itoa(secs)}})
	}
	return ce
}

// causedProblem is the problem document toProblem made and the error it
// was made from. errors.As finds the problem first (huma and the fast path
// write it, ErrorMessage reads it, StatusOf takes its status) and errors.Is
// still reaches the cause, so a door that needs more than the HTTP status
// (gRPC tells a full queue, RESOURCE_EXHAUSTED, from a version on its way,
// UNAVAILABLE: both are 503) asks the error itself. It is deliberately not
// a huma.StatusError: huma writes what errors.As finds, the problem, never
// this wrapper.
type causedProblem struct {
	problem *api.Problem
	cause   error
}

func (e *causedProblem) Error() string { return e.problem.Error() }

// Unwrap lists the problem before the cause: errors.As(err, &StatusError)
// must find the problem, not a status error the cause may hold.
func (e *causedProblem) Unwrap() []error { return []error{e.problem, e.cause} }

// writeProblem writes a problem outside huma (middleware).
func writeProblem(w http.ResponseWriter, status int, msg string, details ...api.ErrorDetail) {
	p := &api.Problem{Status: status, Title: http.StatusText(status), Detail: msg, Errors: details}
	if p.Errors == nil {
		p.Errors = []api.ErrorDetail{}
	}
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}
