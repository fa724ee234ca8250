package config

import (
	"errors"
	"fmt"
	"time"
)

// Monitoring configures monitoring: the Prometheus metrics listener, drift
// detection and feedback. The monitoring package takes this type as it is,
// so the config file's `monitoring:` block, its defaults and its checks are
// written here once.
type Monitoring struct {
	// Enabled turns monitoring and the metrics listener on.
	Enabled bool `yaml:"enabled"`
	// Port is the metrics port, used when Addr is empty.
	Port int `yaml:"port"`
	// Addr is the metrics listener's host:port; default 127.0.0.1:<Port>.
	Addr string `yaml:"addr"`
	// Drift tunes drift detection and live accuracy.
	Drift Drift `yaml:"drift"`
	// Pending is how many recent predictions accept feedback by request id
	// (100,000); older ones are forgotten first.
	Pending int `yaml:"pending"`
	// PendingTTL is how long a prediction accepts feedback (1 h).
	PendingTTL Duration `yaml:"pending_ttl"`
	// Fleet shares feedback, live accuracy and drift between replicas
	// through Redis.
	Fleet Fleet `yaml:"fleet"`
}

// Drift tunes drift detection and live accuracy. A zero field means its
// default (WithDefaults); MinSamples and MinFeedback default to values
// derived from Window and FeedbackWindow, so the file's defaults leave them
// 0 and a smaller window set in the file keeps them consistent.
type Drift struct {
	// Window is how many recent predictions the sliding window holds and
	// compares with the reference (1000).
	Window int `yaml:"window"`
	// MinSamples is how many predictions the window needs before it is
	// compared; 0 means half the window.
	MinSamples int `yaml:"min_samples"`
	// Bootstrap is how many first predictions after load become the
	// reference of a model whose model.yaml has none (1000).
	Bootstrap int `yaml:"bootstrap"`
	// Warn and Alert are the PSI thresholds (0.1 and 0.25).
	Warn  float64 `yaml:"warn"`
	Alert float64 `yaml:"alert"`
	// Epsilon floors empty bins' shares in the PSI (1e-4).
	Epsilon float64 `yaml:"epsilon"`
	// FeedbackWindow is how many recent feedbacks the live accuracy covers (200).
	FeedbackWindow int `yaml:"feedback_window"`
	// MinFeedback is how many feedbacks the accuracy alert needs; 0 means
	// min(50, feedback_window).
	MinFeedback int `yaml:"min_feedback"`
	// Tolerance is how far live accuracy may fall below the model's
	// accuracy before it alerts (0.05).
	Tolerance float64 `yaml:"tolerance"`
}

// The monitoring defaults; Default and WithDefaults both take them from here.
const (
	defaultPending    = 100_000
	defaultPendingTTL = Duration(time.Hour)
)

// defaultDrift holds drift detection's defaults; the derived MinSamples and
// MinFeedback stay 0 here and are filled by WithDefaults.
var defaultDrift = Drift{Window: 1000, Bootstrap: 1000, Warn: 0.1, Alert: 0.25, Epsilon: 1e-4,
	FeedbackWindow: 200, Tolerance: 0.05}

// WithDefaults returns d with each zero field set to its default, the
// derived ones (MinSamples, MinFeedback) after the fields they derive from.
func (d Drift) WithDefaults() Drift {
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setFloat := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&d.Window, defaultDrift.Window)
	setInt(&d.MinSamples, d.Window/2)
	setInt(&d.Bootstrap, defaultDrift.Bootstrap)
	setInt(&d.FeedbackWindow, defaultDrift.FeedbackWindow)
	setInt(&d.MinFeedback, min(50, d.FeedbackWindow))
	setFloat(&d.Warn, defaultDrift.Warn)
	setFloat(&d.Alert, defaultDrift.Alert)
	setFloat(&d.Epsilon, defaultDrift.Epsilon)
	setFloat(&d.Tolerance, defaultDrift.Tolerance)
	return d
}

// Validate checks every drift value as given (MinSamples and MinFeedback
// may be 0, their derived defaults; any other 0 is out of range). Each
// error wraps ErrInvalid and names the key; all are joined.
func (d Drift) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: monitoring.drift.%s: %s", ErrInvalid, key, fmt.Sprintf(format, a...)))
	}
	if d.Window < 1 {
		bad("window", "must be at least 1, got %d", d.Window)
	}
	if d.MinSamples < 0 || d.MinSamples > d.Window {
		bad("min_samples", "must be 0 (half the window) to window %d, got %d", d.Window, d.MinSamples)
	}
	if d.Bootstrap < 1 {
		bad("bootstrap", "must be at least 1, got %d", d.Bootstrap)
	}
	if !(d.Warn > 0) {
		bad("warn", "must be positive, got %g", d.Warn)
	}
	if !(d.Alert >= d.Warn) {
		bad("alert", "must be at least warn %g, got %g", d.Warn, d.Alert)
	}
	if !(d.Epsilon > 0 && d.Epsilon < 0.1) {
		bad("epsilon", "must be in (0, 0.1), got %g", d.Epsilon)
	}
	if d.FeedbackWindow < 1 {
		bad("feedback_window", "must be at least 1, got %d", d.FeedbackWindow)
	}
	if d.MinFeedback < 0 || d.MinFeedback > d.FeedbackWindow {
		bad("min_feedback", "must be 0 (min(50, feedback_window)) to feedback_window %d, got %d", d.FeedbackWindow, d.MinFeedback)
	}
	if !(d.Tolerance >= 0 && d.Tolerance <= 1) {
		bad("tolerance", "must be in [0, 1], got %g", d.Tolerance)
	}
	return errors.Join(errs...)
}

// WithDefaults returns m with the drift, pending and pending_ttl defaults
// filled in where they are zero, as the monitor runs with them.
func (m Monitoring) WithDefaults() Monitoring {
	m.Drift = m.Drift.WithDefaults()
	if m.Pending == 0 {
		m.Pending = defaultPending
	}
	if m.PendingTTL == 0 {
		m.PendingTTL = defaultPendingTTL
	}
	m.Fleet = m.Fleet.WithDefaults()
	return m
}

// Validate checks what the monitor runs with: drift, pending and
// pending_ttl. The listener's port and address are checked by
// Config.Validate, which also knows listen_addr.
func (m Monitoring) Validate() error {
	errs := []error{m.Drift.Validate(), m.Fleet.Validate()}
	if m.Pending < 1 {
		errs = append(errs, fmt.Errorf("%w: monitoring.pending: must be at least 1, got %d", ErrInvalid, m.Pending))
	}
	if m.PendingTTL <= 0 {
		errs = append(errs, fmt.Errorf("%w: monitoring.pending_ttl: must be positive, got %s", ErrInvalid, m.PendingTTL))
	}
	return errors.Join(errs...)
}
