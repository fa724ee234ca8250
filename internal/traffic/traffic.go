package traffic

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// Registry is what the manager needs of the model registry to act on a
// verdict: *model.Registry satisfies it.
type Registry interface {
	// SetDefault makes version the default of name (promotion).
	SetDefault(ctx context.Context, name, version string) error
	// Unload takes a version out of service (rollback with unload).
	Unload(ctx context.Context, id string) error
}

// RunFunc predicts texts (as clients sent them) with the loaded version
// id, off the response path: the server's, booked with monitoring, without
// the prediction cache or the engine's batch slots.
type RunFunc func(ctx context.Context, id string, texts []string) ([]model.Prediction, error)

// Options configure a Manager. Zero values take the defaults noted.
type Options struct {
	// QueueSize bounds the comparisons waiting for a worker (1024); a
	// comparison that finds the queue full is dropped.
	QueueSize int
	// Workers run comparisons (1).
	Workers int
	// Timeout bounds one off-path prediction (10 s).
	Timeout time.Duration
	// Logger receives the policies' events (default slog.Default()).
	Logger *slog.Logger
	// Metrics registers the traffic metrics; nil registers none.
	Metrics prometheus.Registerer
	// Busy, when set, tells the workers when primary predictions are in
	// flight: a comparison then waits until none is, for at most
	// MaxYield, and runs anyway after that (idle-time scheduling).
	// *inference.Engine satisfies it. Nil: comparisons never wait.
	Busy Busy
	// MaxYield bounds how long one comparison waits for the primaries to
	// go idle (20 ms).
	MaxYield time.Duration
}

// Busy is the in-flight signal of the primaries' predictions.
type Busy interface {
	// InFlight returns the number of primary predictions under way.
	InFlight() int64
	// Idle returns a channel closed once InFlight is (or drops to) zero.
	Idle() <-chan struct{}
}

// Errors of the admin calls.
var (
	// ErrInvalidPolicy: a policy that cannot run (422).
	ErrInvalidPolicy = errors.New("invalid traffic policy")
	// ErrNoTraffic: the name has no traffic policy (404).
	ErrNoTraffic = errors.New("no traffic policy")
)

// Manager routes, compares and judges the traffic of every name that has a
// policy. It is safe for concurrent use; a nil *Manager routes nothing.
type Manager struct {
	opts  Options
	log   *slog.Logger
	met   *metrics
	queue chan job

	// active maps a name to its running pair; replaced whole (copy on
	// write) under mu, read without a lock on the request path.
	active atomic.Pointer[map[string]*pair]
	mu     sync.Mutex
	latest map[string]*pair // every name's latest pair, running or not

	reg      Registry
	run      RunFunc
	attached atomic.Bool
	fb       feedbackBook

	stop      chan struct{}
	kick      chan struct{} // a policy started: workers wake from their sleep
	closeOnce sync.Once
	wg        sync.WaitGroup

	waits, forced atomic.Int64 // comparisons that yielded; those whose wait ran out
	lowPriority   atomic.Int32 // workers whose thread runs at the lowest priority
}

// New returns a manager; it compares nothing before Attach.
func New(opts Options) (*Manager, error) {
	if opts.QueueSize < 0 || opts.Workers < 0 || opts.Timeout < 0 || opts.MaxYield < 0 {
		return nil, fmt.Errorf("traffic: negative queue size, workers, timeout or max yield")
	}
	if opts.MaxYield == 0 {
		opts.MaxYield = 20 * time.Millisecond
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 1024
	}
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	met, err := newMetrics(opts.Metrics)
	if err != nil {
		return nil, err
	}
	return &Manager{
		opts: opts, log: opts.Logger.With("component", "traffic"), met: met,
		queue: make(chan job, opts.QueueSize), latest: map[string]*pair{},
		fb: newFeedbackBook(feedbackCap), stop: make(chan struct{}), kick: make(chan struct{}, 64),
	}, nil
}

// Attach gives the manager the registry it promotes and rolls back through
// and the function that runs a version off the response path, and starts
// its workers. It is called once, by the server that serves the traffic.
func (m *Manager) Attach(reg Registry, run RunFunc) {
	if m == nil || !m.attached.CompareAndSwap(false, true) {
		return
	}
	m.reg, m.run = reg, run
	for range m.opts.Workers {
		m.wg.Add(1)
		goLowPriority(m.work)
	}
}

// Close stops the workers; comparisons still queued are dropped.
func (m *Manager) Close() {
	if m == nil {
		return
	}
	m.closeOnce.Do(func() { close(m.stop) })
	m.wg.Wait()
}

// Decision is Route's answer for one request.
type Decision struct {
	p       *pair
	primary string
	// Answer is the version that answers the request instead of the
	// resolved one (canary), or "".
	Answer string
}

// Compare says whether the request's answer is to be compared.
func (d Decision) Compare() bool { return d.p != nil }

// Route decides the traffic of one request: ref is its model_version as
// sent, name and id the version it resolved to (name "": id's). Requests that pin a
// version, and names without a running policy, are left alone.
func (m *Manager) Route(ref, name, id, key string) Decision {
	if m == nil {
		return Decision{}
	}
	act := m.active.Load()
	if act == nil {
		return Decision{}
	}
	if name == "" {
		name, _, _ = model.SplitID(id) // a handle that does not carry its name
	}
	p := (*act)[name]
	if p == nil || id == p.candidate || (ref != "" && ref != name) {
		return Decision{}
	}
	switch p.policy.Mode {
	case api.TrafficShadow:
		p.requests.Add(1)
		return Decision{p: p, primary: id}
	case api.TrafficMirror:
		p.requests.Add(1)
		if rand.Float64() < p.policy.Share {
			return Decision{p: p, primary: id}
		}
	case api.TrafficCanary:
		p.requests.Add(1)
		if p.toCandidate(key) {
			p.canary.Add(1)
			return Decision{p: p, primary: id, Answer: p.candidate}
		}
	}
	return Decision{}
}

// toCandidate draws a canary request's side: by the key's hash when the
// request has one (the same key, the same side, for the pair's life),
// at random otherwise.
func (p *pair) toCandidate(key string) bool {
	if key == "" {
		return rand.Float64() < p.policy.Share
	}
	h := maphash.String(p.seed, key)
	return float64(h>>11)/(1<<53) < p.policy.Share
}

// Sample is one answered request, handed to Observe.
type Sample struct {
	// ID is the version that answered.
	ID string
	// Texts are the texts as sent; Preds the answers, one per text.
	Texts []string
	Preds []model.Prediction
	// Latency is the answer's model time; 0 when part of it came from the
	// prediction cache (then it is not a latency sample).
	Latency time.Duration
	// RequestID is the request's id (feedback comes under it; a batch's
	// texts under RequestID/index).
	RequestID string
	Batch     bool
}

type job struct {
	d Decision
	s Sample
}

// Observe hands an answered request to the comparison workers without
// waiting: a full queue drops it (counted).
func (m *Manager) Observe(d Decision, s Sample) {
	if d.p == nil {
		return
	}
	select {
	case m.queue <- job{d: d, s: s}:
	default:
		d.p.dropped.Add(1)
		m.met.dropped(d.p.name)
	}
}

// drainEvery is how often a worker drains the queue while a policy runs.
const drainEvery = 2 * time.Millisecond

// work drains the queue on a ticker while any policy runs (and sleeps
// while none does), instead of blocking on it: Observe's send then never
// wakes a parked goroutine, which costs the request a scheduler wake-up
// and puts the comparison on the request's processor right after it.
func (m *Manager) work(lowered bool) {
	defer m.wg.Done()
	if lowered {
		m.lowPriority.Add(1)
	} else if threadPriorities {
		m.log.Warn("comparisons run at normal priority: their thread's could not be lowered")
	}
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		if m.active.Load() == nil && len(m.queue) == 0 {
			select {
			case <-m.stop:
				return
			case <-m.kick:
			}
		}
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		for drained := false; !drained; {
			select {
			case j := <-m.queue:
				if !m.yield() {
					return
				}
				m.compare(j)
			default:
				drained = true
			}
		}
	}
}

// yield waits until no primary prediction is in flight, for at most
// MaxYield (then the comparison runs anyway, so that under sustained load
// comparisons still progress, counted as forced). It reports false when
// the manager closes meanwhile.
func (m *Manager) yield() bool {
	b := m.opts.Busy
	if b == nil || b.InFlight() == 0 {
		return true
	}
	m.waits.Add(1)
	t := time.NewTimer(m.opts.MaxYield)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return false
		case <-t.C:
			m.forced.Add(1)
			m.met.yield("forced")
			return true
		case <-b.Idle():
			if b.InFlight() == 0 {
				m.met.yield("idle")
				return true
			}
		}
	}
}

// compare runs j's other version, books the comparison and takes the
// gates' verdict.
func (m *Manager) compare(j job) {
	p, s := j.d.p, j.s
	if p.getState() != api.TrafficRunning {
		return
	}
	other, byCandidate := p.candidate, s.ID == p.candidate
	if byCandidate {
		other = j.d.primary
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.Timeout)
	start := time.Now()
	preds, err := m.run(ctx, other, s.Texts)
	took := time.Since(start)
	cancel()
	if err == nil && len(preds) != len(s.Texts) {
		err = fmt.Errorf("%s gave %d predictions for %d texts", other, len(preds), len(s.Texts))
	}
	if err != nil {
		p.errors.Add(1)
		m.met.error(p.name)
		m.log.Debug("off-path prediction failed", "name", p.name, "version", other, "err", err)
		return
	}
	prim, cand, primLat, candLat := s.Preds, preds, s.Latency, took
	if byCandidate {
		prim, cand, primLat, candLat = preds, s.Preds, took, s.Latency
	}
	p.mu.Lock()
	if p.state != api.TrafficRunning {
		p.mu.Unlock()
		return
	}
	if p.primary == "" {
		p.primary = j.d.primary
	}
	agree := 0
	for i := range prim {
		d := cand[i].Confidence - prim[i].Confidence
		same := cand[i].Label == prim[i].Label
		if same {
			agree++
		}
		p.book(d, same)
		m.met.compared(p.name, p.candidate, d, same)
	}
	if primLat > 0 {
		p.primLat.add(primLat.Seconds() * 1000)
		m.met.latency(p.name, j.d.primary, "primary", primLat)
	}
	if candLat > 0 {
		p.candLat.add(candLat.Seconds() * 1000)
		m.met.latency(p.name, p.candidate, "candidate", candLat)
	}
	p.mu.Unlock()
	if s.RequestID != "" {
		for i := range prim {
			rid := s.RequestID
			if s.Batch {
				rid = fmt.Sprintf("%s/%d", s.RequestID, i)
			}
			e := fbEntry{p: p, primary: prim[i].Label, candidate: cand[i].Label}
			if label, ok := m.fb.put(rid, e); ok {
				e.score(label)
			}
		}
	}
	m.judge(p)
}

// score books e's feedback: the true label of its request.
func (e fbEntry) score(label string) {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	e.p.feedback++
	if e.primary == label {
		e.p.primCorrect++
	}
	if e.candidate == label {
		e.p.candCorrect++
	}
}

// Feedback scores both versions' labels of a compared request with its
// true label (POST /feedback, after monitoring accepted it).
func (m *Manager) Feedback(requestID, label string) {
	if m == nil {
		return
	}
	// Feedback waits for its comparison only while a policy runs.
	e, ok := m.fb.take(requestID, label, m.active.Load() != nil)
	if !ok {
		return // not compared (yet): the comparison scores it when it comes
	}
	e.score(label)
	m.judge(e.p)
}

// judge takes p's verdict when its gates allow one, and acts on it.
func (m *Manager) judge(p *pair) {
	p.mu.Lock()
	state, detail := p.verdictLocked()
	p.mu.Unlock()
	if state == "" {
		return
	}
	if !m.end(p, state, detail) {
		return // ended meanwhile by another path
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.Timeout)
	defer cancel()
	switch state {
	case api.TrafficPromoted:
		_, version, _ := model.SplitID(p.candidate)
		if err := m.reg.SetDefault(ctx, p.name, version); err != nil {
			m.event(p, "error", "promotion failed: "+err.Error())
			m.log.Error("promotion failed", "name", p.name, "candidate", p.candidate, "err", err)
		}
	case api.TrafficRolledBack:
		if p.policy.UnloadOnRollback {
			if err := m.reg.Unload(ctx, p.candidate); err != nil {
				m.event(p, "error", "unloading the candidate failed: "+err.Error())
				m.log.Error("unload after rollback failed", "name", p.name, "candidate", p.candidate, "err", err)
			} else {
				m.event(p, "unloaded", p.candidate+" unloaded")
			}
		}
	}
}

// Set starts policy on name: the candidate (a full id, checked loaded by
// the caller) is compared with the name's default from now on. A running
// policy on the name is replaced; mode off stops it.
func (m *Manager) Set(name string, policy api.TrafficPolicy, source string) (api.TrafficView, error) {
	if err := model.CheckTraffic(policy, false); err != nil {
		return api.TrafficView{}, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	if policy.Mode == api.TrafficOff {
		m.mu.Lock()
		p := m.latest[name]
		m.mu.Unlock()
		if p == nil || p.getState() != api.TrafficRunning {
			return api.TrafficView{}, fmt.Errorf("%w: %s has no running traffic", ErrNoTraffic, name)
		}
		m.end(p, api.TrafficStopped, "stopped by "+source)
		return m.view(p), nil
	}
	cname, _, err := model.SplitID(policy.Candidate)
	if err != nil || cname != name {
		return api.TrafficView{}, fmt.Errorf("%w: candidate %q is not a version id of %s", ErrInvalidPolicy, policy.Candidate, name)
	}
	p := newPair(name, policy)
	m.mu.Lock()
	old := m.latest[name]
	m.latest[name] = p
	m.mu.Unlock()
	if old != nil {
		m.end(old, api.TrafficStopped, "replaced by a new policy ("+source+")")
	}
	m.mu.Lock()
	m.setActiveLocked(name, p)
	m.mu.Unlock()
	for range m.opts.Workers {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	m.event(p, "started", fmt.Sprintf("%s of %s from %s%s", policy.Mode, policy.Candidate, source, shareText(policy)))
	m.log.Info("traffic started", "name", name, "candidate", policy.Candidate, "mode", policy.Mode, "share", policy.Share, "source", source)
	return m.view(p), nil
}

func shareText(p api.TrafficPolicy) string {
	if p.Mode == api.TrafficShadow {
		return ""
	}
	return fmt.Sprintf(", share %g%%", p.Share*100)
}

// end moves p from running to state (promoted, rolled_back, stopped),
// taking it off the request path. It reports whether p was running.
func (m *Manager) end(p *pair, state, detail string) bool {
	p.mu.Lock()
	if p.state != api.TrafficRunning {
		p.mu.Unlock()
		return false
	}
	p.state, p.verdict = state, detail
	p.mu.Unlock()
	m.mu.Lock()
	if act := m.active.Load(); act != nil && (*act)[p.name] == p {
		m.setActiveLocked(p.name, nil)
	}
	m.mu.Unlock()
	m.event(p, state, detail)
	m.met.verdict(p.name, state)
	m.log.Info("traffic ended", "name", p.name, "candidate", p.candidate, "state", state, "detail", detail)
	return true
}

// setActiveLocked puts p (nil: none) on the request path for name.
// Caller holds m.mu.
func (m *Manager) setActiveLocked(name string, p *pair) {
	next := map[string]*pair{}
	if act := m.active.Load(); act != nil {
		next = maps.Clone(*act)
	}
	if p == nil {
		delete(next, name)
	} else {
		next[name] = p
	}
	if len(next) == 0 {
		m.active.Store(nil)
		return
	}
	m.active.Store(&next)
}

func (m *Manager) event(p *pair, kind, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, api.TrafficEvent{Time: time.Now().UTC(), Kind: kind, Detail: detail})
	if len(p.events) > maxEvents {
		p.events = p.events[len(p.events)-maxEvents:]
	}
}

// maxEvents is how many events a policy keeps.
const maxEvents = 32

// OnEvent is the manager's registry subscriber: a candidate's model.yaml
// traffic: section starts its policy when it loads; a candidate or
// primary that retires, or a default that changes, ends the traffic.
func (m *Manager) OnEvent(ev model.Event) {
	if m == nil {
		return
	}
	if ev.Kind == model.Loaded && ev.Manifest != nil && ev.Manifest.Traffic != nil {
		pol := *ev.Manifest.Traffic
		pol.Candidate = ev.ID
		if _, err := m.Set(ev.Name, pol, "model.yaml"); err != nil {
			m.log.Error("model.yaml traffic: section refused", "id", ev.ID, "err", err)
		}
		return
	}
	m.mu.Lock()
	p := m.latest[ev.Name]
	m.mu.Unlock()
	if p == nil || p.getState() != api.TrafficRunning {
		return
	}
	p.mu.Lock()
	primary := p.primary
	p.mu.Unlock()
	switch ev.Kind {
	case model.DefaultChanged:
		switch {
		case ev.ID == p.candidate && ev.Previous == "":
			// The name's first default (a restart after a promotion, or a
			// name with no other version): nothing to compare it with.
			m.end(p, api.TrafficStopped, ev.ID+" is its name's default already")
		case ev.ID == p.candidate:
			m.end(p, api.TrafficPromoted, ev.ID+" was made the default outside the gates")
		case primary != "" && ev.ID != primary:
			m.end(p, api.TrafficStopped, fmt.Sprintf("the default changed from %s to %s", primary, ev.ID))
		}
	case model.Retiring, model.Retired:
		switch ev.ID {
		case p.candidate:
			m.end(p, api.TrafficStopped, "the candidate "+ev.ID+" retired")
		case primary:
			m.end(p, api.TrafficStopped, "the primary "+ev.ID+" retired")
		}
	}
}

// View is name's latest traffic policy and its figures.
func (m *Manager) View(name string) (api.TrafficView, error) {
	if m == nil {
		return api.TrafficView{}, fmt.Errorf("%w: %s", ErrNoTraffic, name)
	}
	m.mu.Lock()
	p := m.latest[name]
	m.mu.Unlock()
	if p == nil {
		return api.TrafficView{}, fmt.Errorf("%w: %s", ErrNoTraffic, name)
	}
	return m.view(p), nil
}

// Views are every name's latest traffic policy, by name.
func (m *Manager) Views() map[string]api.TrafficView {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	ps := make([]*pair, 0, len(m.latest))
	for _, p := range m.latest {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	if len(ps) == 0 {
		return nil
	}
	out := make(map[string]api.TrafficView, len(ps))
	for _, p := range ps {
		out[p.name] = m.view(p)
	}
	return out
}

func (m *Manager) view(p *pair) api.TrafficView {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := api.TrafficView{Name: p.name, Primary: p.primary, Candidate: p.candidate, Policy: p.policy,
		State: p.state, Verdict: p.verdict, Since: p.since, Events: append([]api.TrafficEvent(nil), p.events...)}
	if p.state == api.TrafficRunning {
		v.Verdict = p.waiting()
	}
	v.Stats = p.statsLocked()
	return v
}
