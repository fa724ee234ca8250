package api

import (
	"fmt"
	"strings"
)

// ProblemContentType is the media type of error responses (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document, with a list of field errors.
type Problem struct {
	// Type is a URI naming the problem type; "about:blank" when absent.
	Type string `json:"type,omitempty" format:"uri" default:"about:blank"`
	// Title is the status's short text ("Not Found").
	Title string `json:"title,omitempty"`
	// Status is the HTTP status code.
	Status int `json:"status,omitempty"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty" format:"uri"`
	// Errors lists what was wrong, field by field.
	Errors []ErrorDetail `json:"errors"`
}

// ErrorDetail is one field's error.
type ErrorDetail struct {
	// Location is where the error is, e.g. "body.texts".
	Location string `json:"location,omitempty"`
	// Message says what is wrong.
	Message string `json:"message,omitempty"`
	// Value is the offending value, when it helps.
	Value any `json:"value,omitempty"`
}

// Error implements error.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.Title != "" {
		b.WriteString(p.Title)
	} else {
		fmt.Fprintf(&b, "HTTP %d", p.Status)
	}
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for _, e := range p.Errors {
		if e.Message == p.Detail {
			continue // the detail already says it
		}
		b.WriteString("; ")
		if e.Location != "" {
			b.WriteString(e.Location)
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

// GetStatus returns the HTTP status; it lets the server use Problem as its
// error model.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType returns the media type errors are sent with.
func (p *Problem) ContentType(string) string { return ProblemContentType }

// Error is what a Client returns when the server answers with an error status.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Problem is the server's problem document.
	Problem Problem
}

// Error implements error with the server's message.
func (e *Error) Error() string {
	p := e.Problem
	if p.Status == 0 {
		p.Status = e.StatusCode
	}
	return p.Error()
}
