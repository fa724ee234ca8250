package config

import (
	"errors"
	"fmt"
	"time"
)

// UI configures the built-in dashboard served at GET /ui on the API
// listener: its page, the history it keeps in memory and how often the page
// refreshes.
type UI struct {
	// Enabled serves the dashboard and keeps its history (true).
	Enabled bool `yaml:"enabled"`
	// Refresh is how often the page polls the server (2 s).
	Refresh Duration `yaml:"refresh"`
	// Resolution is the history's step: one point per series every
	// Resolution over the last hour (10 s, 360 points).
	Resolution Duration `yaml:"resolution"`
}

// The dashboard's bounds: the history covers one hour, and its step must
// leave at least 12 and at most 3600 points in it.
const (
	UIHistorySpan    = time.Hour
	uiMinResolution  = time.Second
	uiMaxResolution  = 5 * time.Minute
	uiMinRefresh     = 250 * time.Millisecond
	uiMaxRefresh     = 10 * time.Minute
	defaultUIRefresh = Duration(2 * time.Second)
	defaultUIRes     = Duration(10 * time.Second)
)

var defaultUI = UI{Enabled: true, Refresh: defaultUIRefresh, Resolution: defaultUIRes}

// Validate reports the ui block's bad values, each naming its key.
func (u UI) Validate() error {
	var errs []error
	if r := time.Duration(u.Refresh); r < uiMinRefresh || r > uiMaxRefresh {
		errs = append(errs, fmt.Errorf("%w: ui.refresh: must be %s to %s, got %s", ErrInvalid, uiMinRefresh, uiMaxRefresh, r))
	}
	if r := time.Duration(u.Resolution); r < uiMinResolution || r > uiMaxResolution {
		errs = append(errs, fmt.Errorf("%w: ui.resolution: must be %s to %s, got %s", ErrInvalid, uiMinResolution, uiMaxResolution, r))
	}
	return errors.Join(errs...)
}
