package monitoring

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/config"
)

// The pending ring grows with the predictions that carry a request id: a
// new monitor does not hold cfg.Pending slots (2.4 MB at the default).
func TestPendingRingStartsSmall(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	mon, err := New(config.Monitoring{}, nil, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("a new monitor allocated %d bytes", n)
	}
	runtime.KeepAlive(mon)
}

// Growing, then full: the last Pending predictions take feedback, the
// older ones were overwritten in order, and the ring stops at Pending.
func TestPendingRingGrowsThenWraps(t *testing.T) {
	const pending = 1000
	mon, _ := New(config.Monitoring{Pending: pending, PendingTTL: config.Duration(time.Hour)}, nil, nil)
	if err := mon.Track("m-v1", []string{"a", "b"}, nil); err != nil {
		t.Fatal(err)
	}
	const n = 2500
	for i := range n {
		mon.Record("m-v1", fmt.Sprintf("r%d", i), Observation{Label: "a"})
	}
	if len(mon.ring) != pending || cap(mon.ring) > pending+64 {
		t.Errorf("ring len %d cap %d, want %d", len(mon.ring), cap(mon.ring), pending)
	}
	for i := range n {
		_, err := mon.Feedback(fmt.Sprintf("r%d", i), "a")
		if kept := i >= n-pending; kept != (err == nil) {
			t.Fatalf("feedback on r%d: %v (kept: %v)", i, err, kept)
		}
		if err != nil && !errors.Is(err, ErrUnknownRequest) {
			t.Fatalf("feedback on r%d: %v", i, err)
		}
	}
}
