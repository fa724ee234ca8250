package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Fleet configures scale-out monitoring (`monitoring.fleet`): replicas
// behind one load balancer share pending feedback, live accuracy, drift
// bin counts and request counters through Redis, so feedback is accepted
// by any replica and /stats, drift and the live-accuracy metric agree on
// all of them. Without a Redis URL (here or cache.redis_url) each replica
// keeps its own, and says so in /stats.
type Fleet struct {
	// Enabled shares monitoring through Redis when a URL is known (true).
	Enabled bool `yaml:"enabled"`
	// RedisURL is the shared Redis; empty: cache.redis_url.
	RedisURL string `yaml:"redis_url"`
	// Window is the span of the fleet's drift window, whole minutes (10m):
	// PSI compares the predictions of every replica in the last Window
	// with the reference.
	Window Duration `yaml:"window"`
	// Flush is how often a replica adds its drift bins and counters to
	// Redis and refreshes its live-accuracy gauge (1s).
	Flush Duration `yaml:"flush"`
	// Queue bounds the predictions awaiting their write to Redis (65536);
	// beyond it a prediction is kept on this replica only.
	Queue int `yaml:"queue"`
}

// The fleet defaults; Default and WithDefaults both take them from here.
const (
	defaultFleetWindow = Duration(10 * time.Minute)
	defaultFleetFlush  = Duration(time.Second)
	defaultFleetQueue  = 65536
)

// WithDefaults returns f with each zero field (but Enabled and RedisURL)
// set to its default.
func (f Fleet) WithDefaults() Fleet {
	if f.Window == 0 {
		f.Window = defaultFleetWindow
	}
	if f.Flush == 0 {
		f.Flush = defaultFleetFlush
	}
	if f.Queue == 0 {
		f.Queue = defaultFleetQueue
	}
	return f
}

// Validate checks the fleet values as given; zero means the default.
func (f Fleet) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: monitoring.fleet.%s: %s", ErrInvalid, key, fmt.Sprintf(format, a...)))
	}
	if u := f.RedisURL; u != "" && !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") && !strings.HasPrefix(u, "unix://") {
		bad("redis_url", "%q is not a redis://, rediss:// or unix:// URL", u)
	}
	if w := time.Duration(f.Window); w != 0 && (w < time.Minute || w > 24*time.Hour || w%time.Minute != 0) {
		bad("window", "must be whole minutes from 1m to 24h, got %s", f.Window)
	}
	if d := time.Duration(f.Flush); d != 0 && (d < 10*time.Millisecond || d > time.Minute) {
		bad("flush", "must be from 10ms to 1m, got %s", f.Flush)
	}
	if f.Queue < 0 || f.Queue > 1<<24 {
		bad("queue", "must be 0 (65536) to 16777216, got %d", f.Queue)
	}
	return errors.Join(errs...)
}

// FleetRedisURL is the Redis the replicas share monitoring through: the
// fleet's own URL, else the cache's; "" when monitoring, the fleet or
// both URLs are off.
func (c *Config) FleetRedisURL() string {
	if !c.Monitoring.Enabled || !c.Monitoring.Fleet.Enabled {
		return ""
	}
	if c.Monitoring.Fleet.RedisURL != "" {
		return c.Monitoring.Fleet.RedisURL
	}
	return c.Cache.RedisURL
}
