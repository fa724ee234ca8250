package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Logging configures what is logged beyond the process's log lines (the
// `logging:` block): for now the request/response payload log.
type Logging struct {
	// Payloads ships every sampled prediction to a data pipeline.
	Payloads Payloads `yaml:"payloads"`
}

// Payloads configures the request/response log: each sampled prediction
// becomes a pair of CloudEvents (org.mlserve.inference.request and
// .response) posted to an HTTP sink, or two JSON lines in a rotating file.
// It never slows or fails a prediction: events wait in a bounded queue and
// are dropped, and counted, when the sink cannot keep up.
type Payloads struct {
	// Enabled turns the payload log on (MLSERVE_LOGGING_PAYLOADS_ENABLED).
	Enabled bool `yaml:"enabled"`
	// SinkURL is the HTTP sink the events are posted to ("http://..."); or
	// File is the JSON-lines file they are written to. Exactly one.
	SinkURL string `yaml:"sink_url"`
	File    string `yaml:"file"`
	// Mode is the CloudEvents HTTP content mode: "batched" (default: one
	// POST of application/cloudevents-batch+json per batch of events) or
	// "binary" (one POST per event, ce-* headers, as KServe's logger sends).
	Mode string `yaml:"mode"`
	// SampleRate is the share of predictions logged (0 to 1; default 1).
	SampleRate float64 `yaml:"sample_rate"`
	// Models limits the log to some models and may give each its own rate:
	// "spam,topic=0.1" logs spam at sample_rate and topic at 0.1. Empty:
	// every model at sample_rate.
	Models string `yaml:"models"`
	// Text is what of the input is logged: "text" (default), "hash" (its
	// SHA-256, hex) or "none".
	Text string `yaml:"text"`
	// MaxTextChars truncates a logged text to this many characters
	// (default 1000; the event says when it was truncated).
	MaxTextChars int `yaml:"max_text_chars"`
	// QueueSize bounds the events waiting to be sent (default 10,000);
	// beyond it events are dropped and counted.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is the most events in one POST (default 100).
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest an event waits for its batch (1s).
	FlushInterval Duration `yaml:"flush_interval"`
	// Timeout bounds one POST to the sink (5s).
	Timeout Duration `yaml:"timeout"`
	// MaxFileBytes rotates the file once it would grow past this size
	// (default 100 MiB); MaxFiles rotated files are kept (default 5).
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	MaxFiles     int   `yaml:"max_files"`
}

// defaultPayloads holds the payload log's defaults.
var defaultPayloads = Payloads{Mode: "batched", SampleRate: 1, Text: "text", MaxTextChars: 1000,
	QueueSize: 10_000, BatchSize: 100, FlushInterval: Duration(1e9), Timeout: Duration(5e9),
	MaxFileBytes: 100 << 20, MaxFiles: 5}

// ModelRates parses Models: nil means every model at SampleRate.
func (p Payloads) ModelRates() (map[string]float64, error) {
	if strings.TrimSpace(p.Models) == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, part := range strings.Split(p.Models, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, rate, has := strings.Cut(part, "=")
		r := p.SampleRate
		if has {
			f, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
			if err != nil || f < 0 || f > 1 {
				return nil, fmt.Errorf("model %q: rate %q is not a number between 0 and 1", name, rate)
			}
			r = f
		}
		out[strings.TrimSpace(name)] = r
	}
	return out, nil
}

// Validate checks the payload log's block; the error names the key.
func (p Payloads) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: logging.payloads.%s: %s", ErrInvalid, key, fmt.Sprintf(format, a...)))
	}
	if p.SampleRate < 0 || p.SampleRate > 1 {
		bad("sample_rate", "must be between 0 and 1, got %v", p.SampleRate)
	}
	if _, err := p.ModelRates(); err != nil {
		bad("models", "%v", err)
	}
	switch p.Text {
	case "text", "hash", "none":
	default:
		bad("text", "%q is not text, hash or none", p.Text)
	}
	switch p.Mode {
	case "batched", "binary":
	default:
		bad("mode", "%q is not batched or binary", p.Mode)
	}
	if p.MaxTextChars < 1 {
		bad("max_text_chars", "must be at least 1, got %d", p.MaxTextChars)
	}
	if p.QueueSize < 1 {
		bad("queue_size", "must be at least 1, got %d", p.QueueSize)
	}
	if p.BatchSize < 1 {
		bad("batch_size", "must be at least 1, got %d", p.BatchSize)
	}
	if p.FlushInterval <= 0 {
		bad("flush_interval", "must be positive, got %s", p.FlushInterval)
	}
	if p.Timeout <= 0 {
		bad("timeout", "must be positive, got %s", p.Timeout)
	}
	if p.MaxFileBytes < 1 {
		bad("max_file_bytes", "must be at least 1, got %d", p.MaxFileBytes)
	}
	if p.MaxFiles < 0 {
		bad("max_files", "must not be negative, got %d", p.MaxFiles)
	}
	if p.SinkURL != "" {
		u, err := url.Parse(p.SinkURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("sink_url", "%q is not an http:// or https:// URL", p.SinkURL)
		}
	}
	if p.Enabled && (p.SinkURL == "") == (p.File == "") {
		bad("sink_url", "set exactly one of sink_url and file when the payload log is enabled")
	}
	return errors.Join(errs...)
}
