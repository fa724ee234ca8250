package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/mlserve/mlserve/internal/config"
)

func TestNewMonitoringOff(t *testing.T) {
	c := config.Default().Monitoring
	c.Enabled = false
	reg, mon, err := NewMonitoring(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if reg != nil || mon != nil || err != nil {
		t.Errorf("monitoring off: %v %v %v, want nils", reg, mon, err)
	}
	if ObserveBatches(nil) != nil {
		t.Error("off: the engine still gets a batch hook")
	}
}
