package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Tracing configures OpenTelemetry tracing (the `tracing:` block). Off by
// default; every field left empty defers to the standard OTEL_*
// environment variables, which the exporter reads itself.
type Tracing struct {
	// Enabled turns tracing on (MLSERVE_TRACING_ENABLED).
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP endpoint URL ("http://collector:4318" for
	// http/protobuf, "http://collector:4317" for grpc; an http:// scheme is
	// plaintext, https:// TLS). Empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, else the protocol's localhost default.
	Endpoint string `yaml:"endpoint"`
	// Protocol is "grpc" or "http/protobuf". Empty:
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
	// else http/protobuf.
	Protocol string `yaml:"protocol"`
	// ServiceName is the resource's service.name. Empty: OTEL_SERVICE_NAME,
	// else "mlserve".
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of root traces sampled (0 to 1; default 1);
	// a request with a traceparent follows its caller's decision
	// (parent-based). OTEL_TRACES_SAMPLER, when set, replaces this sampler.
	SampleRatio float64 `yaml:"sample_ratio"`
	// Synchronous exports each span as it ends instead of in batches: for
	// tests and debugging, never for production.
	Synchronous bool `yaml:"synchronous"`
}

// defaultTracing is the `tracing:` block's defaults.
var defaultTracing = Tracing{SampleRatio: 1}

// Validate checks the tracing block; the error names the key.
func (t Tracing) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: tracing.%s: %s", ErrInvalid, key, fmt.Sprintf(format, a...)))
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		bad("sample_ratio", "must be between 0 and 1, got %v", t.SampleRatio)
	}
	switch strings.ToLower(t.Protocol) {
	case "", "grpc", "http/protobuf":
	default:
		bad("protocol", "%q is not grpc or http/protobuf", t.Protocol)
	}
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("endpoint", "%q is not an http:// or https:// URL", t.Endpoint)
		}
	}
	return errors.Join(errs...)
}
