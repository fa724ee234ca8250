package monitoring

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// Fleet is the monitoring state the replicas of one service share (Redis:
// package monitoring/redis): predictions awaiting feedback, each version's
// live-accuracy window, its drift bin counts per minute and its counters.
// Remember and Forget are on the request path: they queue and never block.
// Every other call is bounded by the implementation's own timeout. While
// State says down, the Monitor uses this replica's state alone.
type Fleet interface {
	// Remember queues a prediction awaiting feedback under requestID,
	// kept for the pending TTL; dropped when the queue is full or the
	// fleet is down.
	Remember(requestID string, p Pending)
	// Forget queues the mark that requestID's prediction has had its
	// feedback (taken by this replica from its own memory, maybe before
	// Remember's write), so no other replica takes it too.
	Forget(requestID string)
	// Peek returns requestID's prediction without taking it; false when
	// none is shared (never recorded, expired, not written yet), ErrTaken
	// when a replica took its feedback already.
	Peek(ctx context.Context, requestID string) (Pending, bool, error)
	// Claim takes requestID's prediction, atomically: of two replicas
	// claiming it, one gets true. What it leaves is a mark that Peek
	// answers with ErrTaken, until the pending TTL ends.
	Claim(ctx context.Context, requestID string) (bool, error)
	// AddFeedback adds one feedback to version id's shared window of the
	// last window feedbacks, atomically, and returns that window.
	AddFeedback(ctx context.Context, id string, correct bool, window int) (Accuracy, error)
	// Add adds this replica's counts since its last Add to the shared ones
	// (drift bins to the current minute's bucket) and marks replica alive.
	Add(ctx context.Context, replica string, deltas []Delta) error
	// Read returns the shared figures of the ids: what selects counters,
	// accuracy and the drift bins of the last window minutes.
	Read(ctx context.Context, ids []string, what Parts) (Shared, error)
	// State reports whether the shared state is in use (up) and, when
	// not, why.
	State() (up bool, detail string)
}

// ErrTaken is Fleet.Peek's answer for a prediction that has had its
// feedback on some replica.
var ErrTaken = errors.New("prediction already has its feedback")

// Pending is a prediction awaiting feedback: the version that made it, its
// label and when.
type Pending struct {
	Model, Label string
	At           time.Time
}

// Accuracy is a live-accuracy window: Correct right of N feedbacks.
type Accuracy struct{ Correct, N int }

// Delta is one version's counts on this replica since its last Add.
type Delta struct {
	// ID is the model version.
	ID string
	// Requests, Texts and Errors count /predict and /batch-predict calls.
	Requests, Texts, Errors int64
	// Predictions counts predictions by label.
	Predictions map[string]int64
	// Bins counts drift-window entries by BinField.
	Bins map[string]int64
}

// Parts selects what Read returns.
type Parts uint8

// What Read returns.
const (
	PartCounters Parts = 1 << iota
	PartAccuracy
	PartBins
	PartAll = PartCounters | PartAccuracy | PartBins
)

// Shared is what Read returns: per version the fleet's figures, and how
// many replicas added to them in the last minute.
type Shared struct {
	Versions map[string]SharedVersion
	Replicas int
}

// SharedVersion is one version's figures summed over the fleet.
type SharedVersion struct {
	Requests, Texts, Errors int64
	// Feedback and Correct count every feedback since the version's
	// counters began (Accuracy covers the last window of them).
	Feedback, Correct int64
	Predictions       map[string]int64
	Accuracy          Accuracy
	// Bins are the drift bin counts of the window, by BinField.
	Bins map[string]int64
}

// BinField names a drift bin in the shared counts: "<signal>:<bin>", the
// bin being the label itself for the label signal (replicas may number
// labels differently) and the bin's index for the others.
func BinField(signal, bin string) string { return signal + ":" + bin }

// Fleet states in api.FleetState.
const (
	FleetShared = "shared"
	FleetDown   = "down"
	FleetOff    = "off"
)

// Scopes of api.DriftStatus and api.Stats.
const (
	ScopeFleet   = "fleet"
	ScopeReplica = "replica"
)

// ShareWith makes the monitor share its state through f, with PSI over
// the fleet's last window (whole minutes) and this replica named replica
// in it. Call it before the first Track; RunFleet then flushes.
func (m *Monitor) ShareWith(f Fleet, replica string) {
	if m == nil {
		return
	}
	m.fleet, m.replica = f, replica
	m.sent = map[string]Delta{}
}

// fleetWindow is the fleet drift window in whole minutes.
func (m *Monitor) fleetWindow() int {
	return max(1, int(time.Duration(m.cfg.Fleet.Window)/time.Minute))
}

// FleetState says whether the monitor shares its state now (api.Stats.Fleet).
func (m *Monitor) FleetState() api.FleetState {
	if m == nil {
		return api.FleetState{State: FleetOff, Detail: "monitoring is off"}
	}
	if m.fleet == nil {
		return api.FleetState{State: FleetOff,
			Detail: "no Redis configured (monitoring.fleet.redis_url or cache.redis_url): figures are this replica's"}
	}
	if up, detail := m.fleet.State(); !up {
		return api.FleetState{State: FleetDown, Detail: detail}
	}
	return api.FleetState{State: FleetShared}
}

// upFleet is the fleet when it is in use now, else nil.
func (m *Monitor) upFleet() Fleet {
	if m.fleet == nil {
		return nil
	}
	if up, _ := m.fleet.State(); !up {
		return nil
	}
	return m.fleet
}

// RunFleet adds this replica's counts to the fleet and refreshes the
// live-accuracy gauges every monitoring.fleet.flush until ctx ends, then
// flushes once more. It returns at once without a fleet.
func (m *Monitor) RunFleet(ctx context.Context) {
	if m == nil || m.fleet == nil {
		return
	}
	t := time.NewTicker(time.Duration(m.cfg.Fleet.Flush))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), time.Second)
			m.FlushFleet(fctx)
			cancel()
			return
		case <-t.C:
			m.FlushFleet(ctx)
		}
	}
}

// FlushFleet adds the counts since the last flush to the fleet and sets
// the live-accuracy gauges to the fleet's, and mlserve_fleet_redis_down. Counts a failed Add could not
// deliver are kept for the next.
func (m *Monitor) FlushFleet(ctx context.Context) {
	if m == nil || m.fleet == nil {
		return
	}
	f := m.upFleet()
	m.metrics.SetFleetDown(f == nil)
	if f == nil {
		return
	}
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	ids := m.trackedIDs()
	deltas := make([]Delta, 0, len(ids))
	for _, id := range ids {
		d := m.detector(id)
		if d == nil {
			continue
		}
		t := m.stats.totals(id)
		delta := since(t, m.sent[id])
		m.sent[id] = t
		delta.Bins = d.takeUnsent()
		if carry, ok := m.carry[id]; ok {
			delta = mergeDelta(delta, carry)
		}
		if delta.Requests != 0 || delta.Texts != 0 || delta.Errors != 0 || len(delta.Predictions) > 0 || len(delta.Bins) > 0 {
			deltas = append(deltas, delta)
		}
	}
	m.carry = nil
	if err := f.Add(ctx, m.replica, deltas); err != nil {
		m.carry = make(map[string]Delta, len(deltas))
		for _, d := range deltas {
			m.carry[d.ID] = d
		}
		return
	}
	sh, err := f.Read(ctx, ids, PartAccuracy)
	if err != nil {
		return
	}
	for id, v := range sh.Versions {
		if d := m.detector(id); d != nil && v.Accuracy.N > 0 {
			d.mu.Lock()
			acc := d.judgeAccuracy(v.Accuracy.Correct, v.Accuracy.N)
			d.mu.Unlock()
			m.metrics.SetLiveAccuracy(d.model, d.version, acc)
		}
	}
}

func mergeDelta(a, b Delta) Delta {
	a.Requests += b.Requests
	a.Texts += b.Texts
	a.Errors += b.Errors
	for _, p := range []struct {
		into *map[string]int64
		from map[string]int64
	}{{&a.Predictions, b.Predictions}, {&a.Bins, b.Bins}} {
		for k, v := range p.from {
			if *p.into == nil {
				*p.into = map[string]int64{}
			}
			(*p.into)[k] += v
		}
	}
	return a
}

func (m *Monitor) trackedIDs() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.detectors))
}

// takeUnsent returns the window entries recorded since the last call by
// BinField, and zeroes them.
func (d *Detector) takeUnsent() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unsentN == 0 {
		return nil
	}
	out := map[string]int64{}
	var names []string
	if d.sig[0] != nil {
		names = make([]string, len(d.sig[0].counts))
		for l, j := range d.labels {
			names[j] = l
		}
		names[len(names)-1] = "(other)"
	}
	for i, s := range d.sig {
		if s == nil {
			continue
		}
		for b, c := range d.unsent[i] {
			if c == 0 {
				continue
			}
			bin := strconv.Itoa(b)
			if i == 0 {
				bin = names[b]
			}
			out[BinField(s.name, bin)] += c
			d.unsent[i][b] = 0
		}
	}
	d.unsentN = 0
	return out
}

// fleetStatus is the drift status over the fleet's bins v, with the
// reference, edges and thresholds of this replica's detector.
func (d *Detector) fleetStatus(v SharedVersion, minutes int) api.DriftStatus {
	st := d.Status()
	d.mu.Lock()
	defer d.mu.Unlock()
	acc := LevelOK
	st.Accuracy.Feedback, st.Accuracy.Live = v.Accuracy.N, nil
	if v.Accuracy.N > 0 {
		live := float64(v.Accuracy.Correct) / float64(v.Accuracy.N)
		st.Accuracy.Live = &live
		if d.refAccuracy != nil && v.Accuracy.N >= d.cfg.MinFeedback && live < *d.refAccuracy-d.cfg.Tolerance {
			acc = LevelAlert
		}
	}
	st.Accuracy.Status = acc.String()
	if d.boot != nil { // no reference yet: the accuracy is the fleet's, the signals none
		st.Scope, st.ScopeDetail = ScopeReplica, "this replica is still collecting its drift reference; live accuracy is the fleet's"
		st.Status = acc.String()
		return st
	}
	st.Scope, st.WindowMinutes, st.Samples = ScopeFleet, minutes, 0
	counts := [4][]float64{}
	for i, s := range d.sig {
		if s != nil {
			counts[i] = make([]float64, len(s.counts))
		}
	}
	for field, c := range v.Bins {
		name, bin, ok := strings.Cut(field, ":")
		if !ok || c <= 0 {
			continue
		}
		for i, s := range d.sig {
			if s == nil || s.name != name {
				continue
			}
			b := -1
			if i == 0 {
				var known bool
				if b, known = d.labels[bin]; !known {
					b = len(counts[0]) - 1
				}
			} else if n, err := strconv.Atoi(bin); err == nil && n >= 0 && n < len(counts[i]) {
				b = n
			}
			if b >= 0 {
				counts[i][b] += float64(c)
			}
		}
	}
	worst := LevelOK
	j := 0
	for i, s := range d.sig {
		if s == nil {
			continue
		}
		ss := &st.Signals[j]
		j++
		n := sum(counts[i])
		ss.Samples = int(n)
		st.Samples = max(st.Samples, int(n))
		ss.PSI, ss.Status = 0, LevelOK.String()
		for k := range ss.Window {
			ss.Window[k] = 0
			if n > 0 {
				ss.Window[k] = counts[i][k] / n
			}
		}
		if int(n) < d.cfg.MinSamples {
			continue
		}
		ss.PSI = psiOf(s.ref, ss.Window, d.cfg.Epsilon)
		lv := LevelOK
		switch {
		case ss.PSI >= d.cfg.Alert:
			lv = LevelAlert
		case ss.PSI >= d.cfg.Warn:
			lv = LevelWarn
		}
		ss.Status = lv.String()
		worst = max(worst, lv)
	}
	st.Status = max(worst, acc).String()
	return st
}

// readFleet reads ids' shared figures when the fleet is up; the detail
// says why not otherwise ("" with no fleet at all).
func (m *Monitor) readFleet(ctx context.Context, ids []string, what Parts) (Shared, bool, string) {
	if m.fleet == nil {
		return Shared{}, false, ""
	}
	up, detail := m.fleet.State()
	if !up {
		return Shared{}, false, "Redis is down: " + detail
	}
	sh, err := m.fleet.Read(ctx, ids, what)
	if err != nil {
		return Shared{}, false, "Redis failed: " + err.Error()
	}
	return sh, true, ""
}

// DriftContext returns model version id's drift figures, over the fleet's
// window when shared through Redis (Scope "fleet"), else this replica's
// (Scope "replica", ScopeDetail saying why when Redis is configured).
func (m *Monitor) DriftContext(ctx context.Context, id string) (api.DriftStatus, error) {
	d := m.detector(id)
	if d == nil {
		return api.DriftStatus{}, errNotTracked(id)
	}
	sh, ok, detail := m.readFleet(ctx, []string{id}, PartAccuracy|PartBins)
	if !ok {
		st := d.Status()
		st.Scope, st.ScopeDetail = ScopeReplica, detail
		return st, nil
	}
	return d.fleetStatus(sh.Versions[id], m.fleetWindow()), nil
}

// SummaryContext returns the figures of GET /stats (scope "replica") or
// GET /stats?scope=fleet (scope "fleet"). Replica scope: this replica's
// counters, with drift and live accuracy the fleet's while shared. Fleet
// scope: requests, texts, errors and predictions summed over the replicas
// (no latency: that stays per replica, on /metrics); without Redis in use
// it answers the replica scope, and Fleet says why.
func (m *Monitor) SummaryContext(ctx context.Context, scope string) api.Stats {
	if m == nil {
		return api.Stats{}
	}
	ids := m.trackedIDs()
	what := PartAccuracy | PartBins
	if scope == ScopeFleet {
		what = PartAll
	}
	fs := m.FleetState()
	sh, ok, detail := m.readFleet(ctx, ids, what)
	if !ok && detail != "" {
		fs = api.FleetState{State: FleetDown, Detail: detail}
	}
	drift := func(id string) (string, *float64) {
		d := m.detector(id)
		if d == nil {
			return "", nil
		}
		st := d.Status()
		if ok {
			st = d.fleetStatus(sh.Versions[id], m.fleetWindow())
		}
		return st.Status, st.Accuracy.Live
	}
	if !ok || scope != ScopeFleet {
		sum := m.stats.Summary(drift)
		sum.Scope, sum.Fleet = ScopeReplica, &fs
		return sum
	}
	fs.Replicas = sh.Replicas
	sum := api.Stats{UptimeSeconds: m.now().Sub(m.stats.start).Seconds(), Scope: ScopeFleet, Fleet: &fs,
		Models: map[string]api.ModelStats{}}
	for _, id := range ids {
		v := sh.Versions[id]
		ms := api.ModelStats{Requests: v.Requests, Texts: v.Texts, Errors: v.Errors, Predictions: v.Predictions,
			Feedback: v.Feedback, FeedbackCorrect: v.Correct}
		if v.Requests > 0 {
			ms.ErrorRate = float64(v.Errors) / float64(v.Requests)
		}
		ms.Drift, ms.LiveAccuracy = drift(id)
		sum.Models[id] = ms
		sum.Requests += ms.Requests
		sum.Errors += ms.Errors
	}
	return sum
}

// fleetFeedback books feedback whose prediction the fleet holds. done is
// false when the fleet cannot tell (Redis failed, or does not hold it):
// the caller then looks in this replica's memory.
func (m *Monitor) fleetFeedback(ctx context.Context, f Fleet, requestID, label string) (res api.FeedbackResponse, done bool, err error) {
	p, ok, err := f.Peek(ctx, requestID)
	if errors.Is(err, ErrTaken) {
		m.dropPending(requestID)
		return res, true, errUnknownRequest(requestID)
	}
	if err != nil || !ok {
		return res, false, nil
	}
	if d := m.detector(p.Model); d != nil && d.known != nil && !d.known[label] {
		return api.FeedbackResponse{ModelVersion: p.Model}, true, errUnknownLabel(label, p.Model)
	}
	claimed, err := f.Claim(ctx, requestID)
	if err != nil {
		return res, false, nil
	}
	if !claimed { // another replica took it between Peek and Claim
		return res, true, errUnknownRequest(requestID)
	}
	m.dropPending(requestID)
	return m.bookFeedback(ctx, f, p.Model, p.Label, label), true, nil
}

// bookFeedback counts one feedback of version id, which predicted
// predicted, in this replica's window and metrics and, with f, in the
// fleet's window, whose accuracy it then answers.
func (m *Monitor) bookFeedback(ctx context.Context, f Fleet, id, predicted, label string) api.FeedbackResponse {
	res := api.FeedbackResponse{ModelVersion: id, Predicted: predicted, Correct: predicted == label}
	d := m.detector(id)
	name, version, _ := model.SplitID(id)
	var shared Accuracy
	if f != nil {
		if acc, err := f.AddFeedback(ctx, id, res.Correct, m.cfg.Drift.FeedbackWindow); err == nil && acc.N > 0 {
			shared = acc
		}
	}
	if d != nil {
		m.metrics.ObserveFeedback(name, version, res.Correct)
		res.LiveAccuracy = d.feedbackJudged(res.Correct, shared.N == 0)
	}
	if shared.N > 0 {
		res.LiveAccuracy = float64(shared.Correct) / float64(shared.N)
		if d != nil {
			d.mu.Lock()
			d.judgeAccuracy(shared.Correct, shared.N)
			d.mu.Unlock()
		}
	}
	if d != nil {
		m.metrics.SetLiveAccuracy(name, version, res.LiveAccuracy)
	}
	return res
}
