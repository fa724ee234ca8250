package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
)

// replica is one Monitor sharing through a Fleet, as `mlserve serve` wires it.
type replica struct {
	mon   *monitoring.Monitor
	reg   *prometheus.Registry
	fleet *Fleet
}

// gauge reads the one series of the gauge called name.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single series of %s", name)
	return 0
}

func newReplica(t *testing.T, url, name string) replica {
	t.Helper()
	return newReplicaLog(t, url, name, quiet())
}

func newReplicaLog(t *testing.T, url, name string, log *slog.Logger) replica {
	t.Helper()
	reg := prometheus.NewRegistry()
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Monitoring{Drift: config.Drift{Window: 100, MinSamples: 20, FeedbackWindow: 200, MinFeedback: 10},
		Fleet: config.Fleet{Window: config.Duration(5 * time.Minute)}}
	mon, err := monitoring.New(cfg, met, log)
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, url, Options{Window: 5, MaxBackoff: 100 * time.Millisecond})
	mon.ShareWith(f, name)
	acc := 0.9
	man := &model.Manifest{Accuracy: &acc, Reference: &model.Reference{
		LabelDistribution: map[string]float64{"a": .5, "b": .5},
		Confidence:        &model.Histogram{Edges: []float64{0, .5, .8, 1}, Fractions: []float64{.1, .4, .5}}}}
	if err := mon.Track("m-v1", []string{"a", "b"}, man); err != nil {
		t.Fatal(err)
	}
	return replica{mon, reg, f}
}

// predict books one answered request on r, as the server does.
func (r replica) predict(rid, label string, conf float64) {
	r.mon.Request("predict", "m-v1", 200, 1, time.Millisecond, "")
	r.mon.Record("m-v1", rid, monitoring.Observation{Label: label, Confidence: conf, TextLength: 10, OOVRate: -1})
}

// TestMonitorsShareThroughRedis runs three monitors on one real Redis, as
// three replicas behind a load balancer: A answers only "a", B only "b"
// (each replica's own window is all one label, a drift alert), and C takes
// the feedback of both. Shared, every replica answers the same fleet
// figures: feedback of A's predictions accepted by C, once; drift over
// both halves (no alert); one live accuracy in drift, stats and the
// metric; counters summed. With Redis killed, each falls back to its own
// state and says so, and nothing fails.
func TestMonitorsShareThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	a, b, c := newReplica(t, rs.URL(), "a"), newReplica(t, rs.URL(), "b"), newReplica(t, rs.URL(), "c")
	ctx := context.Background()
	for i := range 60 {
		a.predict(fmt.Sprintf("a-%d", i), "a", .9)
		b.predict(fmt.Sprintf("b-%d", i), "b", .9)
	}
	// C takes feedback for all 120: every 4th of A's is wrong.
	want := 0
	for i := range 60 {
		for _, p := range []struct{ rid, truth string }{{fmt.Sprintf("a-%d", i), "a"}, {fmt.Sprintf("b-%d", i), "b"}} {
			if p.rid[0] == 'a' && i%4 == 0 {
				p.truth = "b"
			} else {
				want++
			}
			var res, err = c.mon.FeedbackContext(ctx, p.rid, p.truth)
			for end := time.Now().Add(5 * time.Second); errors.Is(err, monitoring.ErrUnknownRequest) && time.Now().Before(end); {
				time.Sleep(5 * time.Millisecond) // not written yet
				res, err = c.mon.FeedbackContext(ctx, p.rid, p.truth)
			}
			if err != nil {
				t.Fatalf("C's feedback for %s: %v", p.rid, err)
			}
			if res.ModelVersion != "m-v1" || res.Correct != (p.truth == string(p.rid[0])) {
				t.Fatalf("C's feedback for %s: %+v", p.rid, res)
			}
		}
	}
	// One feedback per prediction: A cannot take its own again.
	if _, err := a.mon.FeedbackContext(ctx, "a-1", "a"); !errors.Is(err, monitoring.ErrUnknownRequest) {
		t.Errorf("second feedback on the replica that predicted: %v, want ErrUnknownRequest", err)
	}
	// An unknown label leaves the prediction waiting, as on one replica.
	a.predict("a-late", "a", .9)
	eventually(t, "a-late written", func() bool { _, ok, _ := b.fleet.Peek(ctx, "a-late"); return ok })
	if _, err := b.mon.FeedbackContext(ctx, "a-late", "zebra"); !errors.Is(err, monitoring.ErrUnknownLabel) {
		t.Errorf("unknown label across replicas: %v", err)
	}
	if res, err := b.mon.FeedbackContext(ctx, "a-late", "a"); err != nil || !res.Correct {
		t.Errorf("after an unknown label, the right one: %+v %v", res, err)
	} else {
		want++
	}
	live := float64(want) / 121

	for _, r := range []replica{a, b, c} {
		r.mon.FlushFleet(ctx)
		if g := gauge(t, r.reg, "mlserve_fleet_redis_down"); g != 0 {
			t.Errorf("mlserve_fleet_redis_down %v with Redis up", g)
		}
	}
	for name, r := range map[string]replica{"a": a, "b": b, "c": c} {
		st, err := r.mon.DriftContext(ctx, "m-v1")
		if err != nil {
			t.Fatal(err)
		}
		if st.Scope != monitoring.ScopeFleet || st.Samples != 121 || st.WindowMinutes != 5 {
			t.Errorf("%s: scope %q samples %d window %d min, want fleet, 121, 5", name, st.Scope, st.Samples, st.WindowMinutes)
		}
		if lbl := st.Signals[0]; lbl.Signal != monitoring.SignalLabel || math.Abs(lbl.Window[0]-61.0/121) > 1e-9 || lbl.Status != "ok" {
			t.Errorf("%s: label signal %+v, want a share 61/121, ok", name, lbl)
		}
		if st.Accuracy.Live == nil || math.Abs(*st.Accuracy.Live-live) > 1e-9 || st.Accuracy.Feedback != 121 {
			t.Errorf("%s: live accuracy %v of %d, want %v of 121", name, st.Accuracy.Live, st.Accuracy.Feedback, live)
		}
		if g := gauge(t, r.reg, "mlserve_live_accuracy"); math.Abs(g-live) > 1e-9 {
			t.Errorf("%s: mlserve_live_accuracy %v, want %v", name, g, live)
		}
		sum := r.mon.SummaryContext(ctx, monitoring.ScopeFleet)
		ms := sum.Models["m-v1"]
		if sum.Scope != monitoring.ScopeFleet || sum.Fleet.State != monitoring.FleetShared || sum.Fleet.Replicas != 3 {
			t.Errorf("%s: fleet stats scope %q fleet %+v", name, sum.Scope, sum.Fleet)
		}
		if ms.Requests != 121 || ms.Texts != 121 || ms.Predictions["a"] != 61 || ms.Predictions["b"] != 60 ||
			ms.Feedback != 121 || ms.FeedbackCorrect != int64(want) {
			t.Errorf("%s: fleet counters %+v", name, ms)
		}
		if ms.LiveAccuracy == nil || *ms.LiveAccuracy != *st.Accuracy.Live || ms.Drift != st.Status {
			t.Errorf("%s: /stats drift %q accuracy %v disagree with drift %q %v", name, ms.Drift, ms.LiveAccuracy, st.Status, *st.Accuracy.Live)
		}
		rep := r.mon.SummaryContext(ctx, monitoring.ScopeReplica)
		if name == "c" { // no requests of its own: not in its replica stats
			continue
		}
		if rep.Scope != monitoring.ScopeReplica || rep.Models["m-v1"].LiveAccuracy == nil || *rep.Models["m-v1"].LiveAccuracy != *st.Accuracy.Live {
			t.Errorf("%s: replica stats must carry the fleet's live accuracy: %+v", name, rep.Models["m-v1"])
		}
	}
	// The replica's own window is all "a": alert, which the fleet's is not.
	if st := a.mon.SummaryContext(ctx, monitoring.ScopeReplica); st.Models["m-v1"].Requests != 61 {
		t.Errorf("replica A's own requests %d, want 61", st.Models["m-v1"].Requests)
	}

	rs.Kill()
	st, err := a.mon.DriftContext(ctx, "m-v1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Scope != monitoring.ScopeReplica || !strings.Contains(st.ScopeDetail, "Redis") || st.Signals[0].Status != "alert" {
		t.Errorf("Redis killed: scope %q detail %q label %s; want this replica's window (all a: alert)", st.Scope, st.ScopeDetail, st.Signals[0].Status)
	}
	sum := a.mon.SummaryContext(ctx, monitoring.ScopeFleet)
	if sum.Scope != monitoring.ScopeReplica || sum.Fleet.State != monitoring.FleetDown || sum.Fleet.Detail == "" {
		t.Errorf("Redis killed: stats scope %q fleet %+v, want replica, down with a reason", sum.Scope, sum.Fleet)
	}
	t0 := time.Now()
	a.predict("down-1", "a", .9)
	res, err := a.mon.FeedbackContext(ctx, "down-1", "a")
	if err != nil || !res.Correct {
		t.Fatalf("feedback on the predicting replica with Redis down: %+v %v", res, err)
	}
	if d := time.Since(t0); d > 300*time.Millisecond {
		t.Errorf("predict+feedback with Redis down took %s", d)
	}
	a.mon.FlushFleet(ctx) // must not block or panic while down
	if g := gauge(t, a.reg, "mlserve_fleet_redis_down"); g != 1 {
		t.Errorf("mlserve_fleet_redis_down %v with Redis killed, want 1", g)
	}
}

// TestMonitorWithoutFleet: no Redis configured, figures are the
// replica's and /stats says so.
func TestMonitorWithoutFleet(t *testing.T) {
	mon, err := monitoring.New(config.Monitoring{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Track("m-v1", []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	sum := mon.SummaryContext(context.Background(), monitoring.ScopeFleet)
	if sum.Scope != monitoring.ScopeReplica || sum.Fleet == nil || sum.Fleet.State != monitoring.FleetOff || !strings.Contains(sum.Fleet.Detail, "redis_url") {
		t.Errorf("stats without Redis: %+v %+v", sum.Scope, sum.Fleet)
	}
	st, err := mon.DriftContext(context.Background(), "m-v1")
	if err != nil || st.Scope != monitoring.ScopeReplica {
		t.Errorf("drift without Redis: scope %q %v", st.Scope, err)
	}
	mon.RunFleet(context.Background()) // returns at once
}

// TestAccuracyAlertIsTheFleets: replica A gets only wrong feedback (its
// own window: 0%, an alert), the fleet 100 right of 112 (89%, above the
// 0.9 − 0.05 floor): A judges by the fleet's window, raises no alert and
// logs none.
func TestAccuracyAlertIsTheFleets(t *testing.T) {
	rs := redistest.Start(t)
	var logs bytes.Buffer
	a := newReplicaLog(t, rs.URL(), "a", slog.New(slog.NewTextHandler(&logs, nil)))
	b := newReplica(t, rs.URL(), "b")
	ctx := context.Background()
	for i := range 100 {
		rid := fmt.Sprintf("b-%d", i)
		b.predict(rid, "a", .9)
		if _, err := b.mon.FeedbackContext(ctx, rid, "a"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		rid := fmt.Sprintf("a-%d", i)
		a.predict(rid, "a", .9)
		res, err := a.mon.FeedbackContext(ctx, rid, "b")
		if err != nil || res.Correct {
			t.Fatalf("feedback %d: %+v %v", i, res, err)
		}
	}
	st, err := a.mon.DriftContext(ctx, "m-v1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Accuracy.Status != "ok" || st.Accuracy.Feedback != 112 {
		t.Errorf("A's accuracy %+v, want ok over the fleet's 112", st.Accuracy)
	}
	if strings.Contains(logs.String(), "drift alert") {
		t.Errorf("A logged an accuracy alert from its own window:\n%s", logs.String())
	}
}
