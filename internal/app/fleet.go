package app

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/monitoring"
	fleetredis "github.com/mlserve/mlserve/internal/monitoring/redis"
)

// newFleet makes mon share pending feedback, live accuracy, drift and
// counters with the other replicas through the Redis of
// c.FleetRedisURL(); nil (each replica on its own) without one or with
// monitoring off. Call it before the registry starts: versions tracked
// from then on share. The caller runs mon.RunFleet and closes the Fleet.
func newFleet(c *config.Config, mon *monitoring.Monitor, log *slog.Logger) (*fleetredis.Fleet, error) {
	url := c.FleetRedisURL()
	if url == "" || mon == nil {
		return nil, nil
	}
	fc := c.Monitoring.WithDefaults()
	f, err := fleetredis.New(fleetredis.Options{
		URL:        url,
		PendingTTL: time.Duration(fc.PendingTTL),
		Window:     int(time.Duration(fc.Fleet.Window) / time.Minute),
		Queue:      fc.Fleet.Queue,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("monitoring.fleet.redis_url: %w", err)
	}
	mon.ShareWith(f, replicaName())
	return f, nil
}

// replicaName names this process among the replicas: the host (a pod's
// name on Kubernetes) and the process id.
func replicaName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}
