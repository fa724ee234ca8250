package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestFleetValidate: each bad value is refused naming its key; zero
// values are the defaults.
func TestFleetValidate(t *testing.T) {
	tests := []struct {
		name string
		f    Fleet
		key  string // "" valid
	}{
		{"zero", Fleet{}, ""},
		{"set", Fleet{Enabled: true, RedisURL: "redis://r:6379/1", Window: Duration(30 * time.Minute), Flush: Duration(50 * time.Millisecond), Queue: 10}, ""},
		{"http url", Fleet{RedisURL: "http://r:6379"}, "monitoring.fleet.redis_url"},
		{"window seconds", Fleet{Window: Duration(90 * time.Second)}, "monitoring.fleet.window"},
		{"window short", Fleet{Window: Duration(30 * time.Second)}, "monitoring.fleet.window"},
		{"window long", Fleet{Window: Duration(25 * time.Hour)}, "monitoring.fleet.window"},
		{"flush fast", Fleet{Flush: Duration(time.Millisecond)}, "monitoring.fleet.flush"},
		{"queue negative", Fleet{Queue: -1}, "monitoring.fleet.queue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("Validate = %v, want ErrInvalid naming %s", err, tt.key)
			}
		})
	}
}

// TestFleetRedisURL: the fleet's URL, else the cache's, only with
// monitoring and the fleet on; the environment reaches it.
func TestFleetRedisURL(t *testing.T) {
	c := Default()
	if got := c.FleetRedisURL(); got != "" {
		t.Errorf("default: %q, want none", got)
	}
	c.Cache.RedisURL = "redis://cache:6379/0"
	if got := c.FleetRedisURL(); got != c.Cache.RedisURL {
		t.Errorf("cache's URL: %q", got)
	}
	c.Monitoring.Fleet.RedisURL = "redis://fleet:6379/2"
	if got := c.FleetRedisURL(); got != "redis://fleet:6379/2" {
		t.Errorf("own URL: %q", got)
	}
	c.Monitoring.Fleet.Enabled = false
	if got := c.FleetRedisURL(); got != "" {
		t.Errorf("fleet disabled: %q", got)
	}
	c.Monitoring.Fleet.Enabled, c.Monitoring.Enabled = true, false
	if got := c.FleetRedisURL(); got != "" {
		t.Errorf("monitoring off: %q", got)
	}
	env := map[string]string{"MLSERVE_MONITORING_FLEET_WINDOW": "3m", "MLSERVE_MONITORING_FLEET_REDIS_URL": "redis://e:1/0"}
	c, err := load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Monitoring.Fleet.Window != Duration(3*time.Minute) || c.FleetRedisURL() != "redis://e:1/0" {
		t.Errorf("from the environment: %+v", c.Monitoring.Fleet)
	}
	env["MLSERVE_MONITORING_FLEET_WINDOW"] = "90s"
	if _, err := load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); !errors.Is(err, ErrInvalid) {
		t.Errorf("90s window from the environment: %v", err)
	}
}
