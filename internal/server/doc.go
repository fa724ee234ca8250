// Package server is mlserve's HTTP API: prediction, model administration,
// health, statistics, the OpenAPI document and its offline /docs, plus the
// Prometheus handler for the monitoring listener.
//
// Handlers are registered with huma, which generates the OpenAPI 3.1 document
// from the request and response types of the public api package. Every error
// is an RFC 9457 application/problem+json document with a field-level errors
// list; statuses come from one function, statusOf.
package server
