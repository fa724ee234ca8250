package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTracingAndPayloadsLoad: both blocks read from the file and from
// MLSERVE_* variables, off by default.
func TestTracingAndPayloadsLoad(t *testing.T) {
	c, err := load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tracing.Enabled || c.Logging.Payloads.Enabled || c.Tracing.SampleRatio != 1 || c.Logging.Payloads.SampleRate != 1 {
		t.Errorf("defaults: %+v %+v", c.Tracing, c.Logging.Payloads)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `
tracing:
  enabled: true
  endpoint: http://collector:4317
  protocol: grpc
  service_name: classifier
  sample_ratio: 0.1
logging:
  payloads:
    enabled: true
    sink_url: http://sink:8080/events
    sample_rate: 0.5
    models: spam,topic=0.2
    text: hash
    flush_interval: 2s
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = load(path, envOf(map[string]string{"MLSERVE_TRACING_SAMPLE_RATIO": "0.01", "MLSERVE_LOGGING_PAYLOADS_MAX_TEXT_CHARS": "50"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Tracing{Enabled: true, Endpoint: "http://collector:4317", Protocol: "grpc", ServiceName: "classifier", SampleRatio: 0.01}
	if c.Tracing != want {
		t.Errorf("tracing %+v, want %+v", c.Tracing, want)
	}
	p := c.Logging.Payloads
	if !p.Enabled || p.SinkURL != "http://sink:8080/events" || p.SampleRate != 0.5 || p.Text != "hash" ||
		p.MaxTextChars != 50 || time.Duration(p.FlushInterval) != 2*time.Second || p.QueueSize != 10_000 {
		t.Errorf("payloads %+v", p)
	}
	rates, err := p.ModelRates()
	if err != nil || len(rates) != 2 || rates["spam"] != 0.5 || rates["topic"] != 0.2 {
		t.Errorf("rates %v %v", rates, err)
	}
	c, err = load("", envOf(map[string]string{"MLSERVE_TRACING_ENABLED": "true"}))
	if err != nil || !c.Tracing.Enabled {
		t.Errorf("MLSERVE_TRACING_ENABLED: %+v %v", c.Tracing, err)
	}
}

// TestTracingAndPayloadsValidate: bad values are refused, naming the key.
func TestTracingAndPayloadsValidate(t *testing.T) {
	for _, tc := range []struct {
		key string
		env map[string]string
	}{
		{"tracing.sample_ratio", map[string]string{"MLSERVE_TRACING_SAMPLE_RATIO": "1.5"}},
		{"tracing.protocol", map[string]string{"MLSERVE_TRACING_PROTOCOL": "http/json"}},
		{"tracing.endpoint", map[string]string{"MLSERVE_TRACING_ENDPOINT": "collector:4317"}},
		{"logging.payloads.sink_url", map[string]string{"MLSERVE_LOGGING_PAYLOADS_ENABLED": "true"}},
		{"logging.payloads.sample_rate", map[string]string{"MLSERVE_LOGGING_PAYLOADS_SAMPLE_RATE": "-0.1"}},
		{"logging.payloads.models", map[string]string{"MLSERVE_LOGGING_PAYLOADS_MODELS": "spam=2"}},
		{"logging.payloads.text", map[string]string{"MLSERVE_LOGGING_PAYLOADS_TEXT": "raw"}},
		{"logging.payloads.max_files", map[string]string{"MLSERVE_LOGGING_PAYLOADS_MAX_FILES": "-1"}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, err := load("", envOf(tc.env))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("err %v, want one naming %s", err, tc.key)
			}
		})
	}
}
