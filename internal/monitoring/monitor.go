package monitoring

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
)

// Errors of the Monitor.
var (
	// ErrUnknownRequest means feedback names a request id that was never
	// recorded, has expired, or already had its feedback.
	ErrUnknownRequest = errors.New("unknown or expired request id")
	// ErrNotTracked means no model version of that id is monitored.
	ErrNotTracked = errors.New("model version not monitored")
	// ErrUnknownLabel means feedback names a label the model does not have.
	ErrUnknownLabel = errors.New("unknown label")
)

// Monitor ties metrics, drift detection, feedback and the stats summary
// together behind the calls the server makes. It is safe for concurrent use.
// A nil *Monitor is monitoring switched off: it books nothing, Drift and
// Feedback answer ErrNotTracked and ErrUnknownRequest, Summary is empty.
type Monitor struct {
	cfg     config.Monitoring // with its defaults
	metrics *Metrics
	stats   *Stats
	log     *slog.Logger
	now     func() time.Time

	mu        sync.RWMutex
	detectors map[string]*Detector

	// Predictions awaiting feedback. The ring and the map hold no pointers
	// (request ids as 64-bit hashes, model and label as an index into
	// pairs), so 100,000 of them cost the garbage collector nothing to scan.
	// The ring grows as predictions come, up to cfg.Pending (2.4 MB at the
	// default 100,000), then overwrites its oldest.
	pmu     sync.Mutex
	seed    maphash.Seed
	pending map[uint64]int32 // request id hash → slot in ring
	ring    []pendingPrediction
	next    int
	pairs   []pendingPair
	pairIdx map[pendingPair]uint32

	// Shared state (ShareWith); fleet nil: this replica's state only.
	fleet   Fleet
	replica string
	flushMu sync.Mutex
	sent    map[string]Delta // per id, the totals the fleet has
	carry   map[string]Delta // counts a failed Add left
}

// pendingPrediction is one prediction awaiting feedback; key 0 is a free slot.
type pendingPrediction struct {
	key  uint64 // hash of the request id, never 0
	pair uint32 // index into Monitor.pairs
	at   int64  // Unix nanoseconds
}

// pendingPair is a model version and the label it predicted.
type pendingPair struct{ model, label string }

// requestKey hashes a request id; 0 is kept for free slots.
func (m *Monitor) requestKey(id string) uint64 {
	return max(1, maphash.String(m.seed, id))
}

// New returns a Monitor for the config file's monitoring block (zero
// fields take their defaults; the listener's fields are not its concern)
// that reports to metrics (nil: no Prometheus metrics) and logs drift
// alerts to log (nil: no logging). A value out of range is an error that
// wraps both ErrConfig and config.ErrInvalid.
func New(cfg config.Monitoring, metrics *Metrics, log *slog.Logger) (*Monitor, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Monitor{cfg: cfg, metrics: metrics, stats: newStats(time.Now(), nil), log: log, now: time.Now,
		detectors: map[string]*Detector{}, seed: maphash.MakeSeed(), pending: map[uint64]int32{},
		pairIdx: map[pendingPair]uint32{}}, nil
}

// Metrics returns the Prometheus collectors (nil when off), for the
// engine's and cache's own calls.
func (m *Monitor) Metrics() *Metrics {
	if m == nil {
		return nil
	}
	return m.metrics
}

// Track starts drift detection for model version id (e.g. "spam-v1") with
// the given labels. man is its manifest (nil: none): its reference block
// is the drift reference (without one, the first Bootstrap predictions
// become it) and its accuracy the reference for live accuracy. Tracking an
// id again starts afresh. An id that is not "<name>-v<N>" is refused with
// model.ErrInvalidName: its series would have no version label.
func (m *Monitor) Track(id string, labels []string, man *model.Manifest) error {
	if m == nil {
		return nil
	}
	var ref *model.Reference
	var acc *float64
	if man != nil {
		ref, acc = man.Reference, man.Accuracy
	}
	name, version, err := model.SplitID(id)
	if err != nil {
		return fmt.Errorf("monitoring %s: %w", id, err)
	}
	d, err := newDetector(m.cfg.Drift, name, version, labels, ref, acc)
	if err != nil {
		return fmt.Errorf("monitoring %s: %w", id, err)
	}
	d.metrics = m.metrics
	d.shared = m.fleet != nil
	if m.log != nil {
		d.log = m.log.With("component", "drift")
	}
	m.mu.Lock()
	m.detectors[id] = d
	m.mu.Unlock()
	return nil
}

// Untrack stops monitoring id and drops its series and counters.
func (m *Monitor) Untrack(id string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.detectors, id)
	m.mu.Unlock()
	m.stats.Forget(id)
	if name, version, err := model.SplitID(id); err == nil {
		m.metrics.Forget(name, version)
	}
}

func (m *Monitor) detector(id string) *Detector {
	if m == nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.detectors[id]
}

// Request books one /predict or /batch-predict call: its latency metric
// and the stats summary. code is the HTTP status; errKind is "" on success,
// else a Kind* constant (also counted in mlserve_errors_total). An id that
// is not tracked (a request naming an unknown model) is booked with empty
// model and version labels and left out of the stats, so clients cannot
// grow the series or the summary without bound.
func (m *Monitor) Request(endpoint, id string, code, texts int, d time.Duration, errKind string) {
	if m == nil {
		return
	}
	var name, version string
	det := m.detector(id)
	tracked := det != nil
	if tracked {
		name, version = det.model, det.version
	}
	m.metrics.ObserveRequest(endpoint, name, version, code, d)
	if errKind != "" {
		m.metrics.Error(errKind, name, version)
	}
	if tracked {
		m.stats.Request(id, texts, d, errKind)
	}
}

// CacheLookup books a request's cache lookups on model id in tier.
func (m *Monitor) CacheLookup(id, tier string, hits, misses int) {
	if m == nil {
		return
	}
	if hits > 0 {
		m.metrics.CacheHit(tier, hits)
	}
	if misses > 0 {
		m.metrics.CacheMiss(tier, misses)
	}
	if tier == TierMemory && m.detector(id) != nil { // the first tier sees every lookup once
		m.stats.Cache(id, hits, misses)
	}
}

// Record books one prediction of model version id: the prediction
// distribution and confidence metrics, the drift window, and, when
// requestID is not empty, the prediction awaiting feedback. Predictions of
// an id that is not tracked are ignored.
func (m *Monitor) Record(id, requestID string, o Observation) {
	if m == nil {
		return
	}
	d := m.detector(id)
	if d == nil {
		return
	}
	m.metrics.ObservePrediction(d.model, d.version, o.Label, o.Confidence)
	m.stats.Prediction(id, o.Label)
	d.Record(o)
	if requestID == "" {
		return
	}
	key, at := m.requestKey(requestID), m.now().UnixNano()
	m.pmu.Lock()
	pp := pendingPair{id, o.Label}
	pair, ok := m.pairIdx[pp]
	if !ok {
		pair = uint32(len(m.pairs))
		m.pairs = append(m.pairs, pp)
		m.pairIdx[pp] = pair
	}
	slot := m.next
	if slot == len(m.ring) { // not full yet: grow, doubling up to cfg.Pending
		if slot == cap(m.ring) {
			m.ring = append(make([]pendingPrediction, 0, min(max(2*slot, 64), m.cfg.Pending)), m.ring...)
		}
		m.ring = m.ring[:slot+1]
	} else if old := m.ring[slot].key; old != 0 && m.pending[old] == int32(slot) {
		delete(m.pending, old)
	}
	m.ring[slot] = pendingPrediction{key: key, pair: pair, at: at}
	m.pending[key] = int32(slot)
	m.next = (slot + 1) % m.cfg.Pending
	m.pmu.Unlock()
	if m.fleet != nil {
		m.fleet.Remember(requestID, Pending{Model: id, Label: o.Label, At: time.Unix(0, at)})
	}
}

// dropPending forgets requestID's prediction in this replica's memory.
func (m *Monitor) dropPending(requestID string) {
	key := m.requestKey(requestID)
	m.pmu.Lock()
	if slot, ok := m.pending[key]; ok {
		delete(m.pending, key)
		m.ring[slot] = pendingPrediction{}
	}
	m.pmu.Unlock()
}

func errNotTracked(id string) error { return fmt.Errorf("%w: %s", ErrNotTracked, id) }

func errUnknownRequest(requestID string) error {
	return fmt.Errorf("%w: %q", ErrUnknownRequest, requestID)
}

func errUnknownLabel(label, id string) error {
	return fmt.Errorf("%w: %q is not a label of %s", ErrUnknownLabel, label, id)
}

// Feedback is FeedbackContext without a deadline of the caller's.
func (m *Monitor) Feedback(requestID, label string) (api.FeedbackResponse, error) {
	return m.FeedbackContext(context.Background(), requestID, label)
}

// FeedbackContext records the true label of the prediction made for
// requestID, on this replica or, shared through Redis, on any other.
// Each prediction takes one feedback; it returns ErrUnknownRequest for an
// id never recorded, forgotten, expired or already answered, and
// ErrUnknownLabel (the prediction still awaiting feedback) for a label the
// model does not have. Live accuracy is the fleet's while shared.
func (m *Monitor) FeedbackContext(ctx context.Context, requestID, label string) (api.FeedbackResponse, error) {
	if m == nil {
		return api.FeedbackResponse{}, fmt.Errorf("%w: %q (monitoring is off)", ErrUnknownRequest, requestID)
	}
	f := m.upFleet()
	if f != nil {
		if res, done, err := m.fleetFeedback(ctx, f, requestID, label); done {
			return res, err
		}
	}
	key := m.requestKey(requestID)
	now := m.now()
	m.pmu.Lock()
	slot, ok := m.pending[key]
	var p pendingPair
	var at time.Time
	if ok {
		p, at = m.pairs[m.ring[slot].pair], time.Unix(0, m.ring[slot].at)
		if d := m.detector(p.model); d != nil && d.known != nil && !d.known[label] && now.Sub(at) <= time.Duration(m.cfg.PendingTTL) {
			m.pmu.Unlock() // the prediction keeps waiting for a valid label
			return api.FeedbackResponse{ModelVersion: p.model}, errUnknownLabel(label, p.model)
		}
		delete(m.pending, key)
		m.ring[slot] = pendingPrediction{}
	}
	m.pmu.Unlock()
	if !ok || now.Sub(at) > time.Duration(m.cfg.PendingTTL) {
		return api.FeedbackResponse{}, errUnknownRequest(requestID)
	}
	if m.fleet != nil {
		m.fleet.Forget(requestID) // taken here: no other replica may take it too
	}
	return m.bookFeedback(ctx, f, p.model, p.label, label), nil
}

// Drift is DriftContext without a deadline of the caller's.
func (m *Monitor) Drift(id string) (api.DriftStatus, error) {
	return m.DriftContext(context.Background(), id)
}

// Summary returns the monitor's figures of GET /stats for each tracked
// version (Stats.Summary); empty when monitoring is off.
func (m *Monitor) Summary() api.Stats {
	if m == nil {
		return api.Stats{}
	}
	return m.stats.Summary(func(id string) (string, *float64) {
		d := m.detector(id)
		if d == nil {
			return "", nil
		}
		st := d.Status()
		return st.Status, st.Accuracy.Live
	})
}
