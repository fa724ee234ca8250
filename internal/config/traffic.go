package config

import (
	"errors"
	"fmt"
)

// Traffic configures the shadow/canary/mirror comparisons between a model
// name's default and a candidate version (the policies themselves are set
// per model: a candidate's model.yaml traffic: section, or PUT
// /models/{name}/traffic). A zero field means its default.
type Traffic struct {
	// QueueSize bounds the comparisons waiting off the response path
	// (1024); a request that finds it full is answered as always and its
	// comparison dropped (counted).
	QueueSize int `yaml:"queue_size"`
	// Workers run the comparisons (1).
	Workers int `yaml:"workers"`
	// Timeout bounds one off-path prediction (10s).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks the traffic values; each error wraps ErrInvalid and
// names the key.
func (t Traffic) Validate() error {
	var errs []error
	if t.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("%w: traffic.queue_size: must not be negative, got %d", ErrInvalid, t.QueueSize))
	}
	if t.Workers < 0 || t.Workers > 64 {
		errs = append(errs, fmt.Errorf("%w: traffic.workers: must be 0 (1) to 64, got %d", ErrInvalid, t.Workers))
	}
	if t.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%w: traffic.timeout: must not be negative, got %s", ErrInvalid, t.Timeout))
	}
	return errors.Join(errs...)
}
