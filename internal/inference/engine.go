package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/model"
)

// Errors returned by Engine.Predict; the server maps each to one HTTP status.
var (
	// ErrQueueFull means the model's queue holds Config.MaxQueue requests
	// already (503 with Retry-After). The error is a *QueueFullError.
	ErrQueueFull = errors.New("inference: queue full")
	// ErrTimeout means the request's deadline passed before it was answered
	// (504). It is returned wrapped together with context.DeadlineExceeded.
	ErrTimeout = errors.New("inference: timed out")
	// ErrClosed means the engine is shutting down and accepts no more work.
	ErrClosed = errors.New("inference: engine closed")
)

// DefaultRetryAfter is the delay suggested to a rejected client when the
// engine has no measurement to base one on.
const DefaultRetryAfter = time.Second

// QueueFullError is the error for a request refused because its model's
// queue is full. It matches ErrQueueFull with errors.Is.
type QueueFullError struct {
	// Model is the id of the model whose queue is full.
	Model string
	// RetryAfter is how long the queue is expected to need to drain, never
	// less than one second.
	RetryAfter time.Duration
}

// Error describes the refusal.
func (e *QueueFullError) Error() string {
	return fmt.Sprintf("inference: queue full for model %q (retry after %s)", e.Model, e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrQueueFull) hold.
func (e *QueueFullError) Unwrap() error { return ErrQueueFull }

// RetryAfter returns the delay to suggest in a Retry-After header for err:
// the queue's estimate when err is a *QueueFullError, DefaultRetryAfter
// otherwise.
func RetryAfter(err error) time.Duration {
	var qf *QueueFullError
	if errors.As(err, &qf) && qf.RetryAfter > 0 {
		return qf.RetryAfter
	}
	return DefaultRetryAfter
}

// BatchPreferrer is implemented by models that say whether grouping texts
// from several requests into one Predict call lowers their cost per text.
// Models that do not implement it are batched.
type BatchPreferrer interface {
	// BatchPreference reports whether the model benefits from batching.
	BatchPreference() bool
}

// Config sets the engine's limits. Zero fields take the defaults named.
type Config struct {
	// MaxQueue is the number of requests that may wait per model
	// (queue.max_size); default 1024.
	MaxQueue int
	// MaxBatchSize is the most texts in one Predict call; default 32.
	MaxBatchSize int
	// BatchTimeout is the longest a request waits for others to join its
	// batch (batch_timeout_ms); default 5 ms. Waiting happens only when the
	// measured costs say it pays (see the package documentation).
	BatchTimeout time.Duration
	// Workers is the number of batches that run at once, across all models;
	// default runtime.GOMAXPROCS(0).
	Workers int
	// Logger receives the engine's log lines; default slog.Default().
	Logger *slog.Logger
	// Observe, when not nil, is told about every batch after it ran and its
	// answers were handed out, for monitoring. It runs on the batch's
	// goroutine, holding its worker, and must be quick.
	Observe func(BatchInfo)
	// Tracer, when not nil, traces each request's wait in the queue and
	// each batch's model call: one span per batch, the child of its first
	// request's span and linked to the span of every request it served
	// (trace.go). Nil is tracing off, at the cost of a nil check.
	Tracer trace.Tracer
}

// BatchInfo describes one model call, for Config.Observe.
type BatchInfo struct {
	// ID is the model version id.
	ID string
	// Size is the number of texts in the batch.
	Size int
	// Waits holds, per request in the batch, how long its texts waited in
	// the queue before the batch started.
	Waits []time.Duration
	// Inference is how long the model call took.
	Inference time.Duration
	// Queued is the number of texts still waiting after the batch.
	Queued int
	// Err is the model call's error, if any.
	Err error
}

// Engine queues, batches and runs predictions. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{} // the worker pool: a slot per running batch

	mu      sync.Mutex
	queues  map[string]*queue
	closed  bool
	closing chan struct{} // closed by Close
	wg      sync.WaitGroup

	busy inFlight // Predict calls under way, for InFlight and Idle
}

// New returns an engine with the limits of cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.MaxQueue < 0 || cfg.MaxBatchSize < 0 || cfg.BatchTimeout < 0 || cfg.Workers < 0 {
		return nil, fmt.Errorf("inference: negative limit in config %+v", cfg)
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 1024
	}
	if cfg.MaxBatchSize == 0 {
		cfg.MaxBatchSize = 32
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 5 * time.Millisecond
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Engine{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "inference"),
		slots:   make(chan struct{}, cfg.Workers),
		queues:  make(map[string]*queue),
		closing: make(chan struct{}),
	}, nil
}

// Config returns the engine's effective limits, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Predict classifies texts with m, the model loaded under id, through id's
// queue and batcher. The result has one prediction per text, in order. It
// returns at once with a *QueueFullError when the queue is full, with
// ErrTimeout when ctx's deadline passes first (the work is then dropped from
// the queue if it had not started), with ctx's error when ctx is cancelled,
// and with ErrClosed after Close. Requests for one id are batched together
// while they name the same model; a different m under a known id (a version
// reloaded without Forget) starts a new queue.
func (e *Engine) Predict(ctx context.Context, id string, m model.Model, texts []string) ([]model.Prediction, error) {
	if len(texts) == 0 {
		return []model.Prediction{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(err)
	}
	e.busy.begin()
	defer e.busy.end()
	r := &request{
		ctx:       ctx,
		texts:     texts,
		remaining: len(texts),
	}
	q, inline, err := e.enqueue(id, m, r)
	if err != nil {
		return nil, err
	}
	if inline {
		return q.runInline(r)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		q.mu.Lock()
		q.finishLocked(r, ctxErr(ctx.Err()))
		q.mu.Unlock()
		<-r.done
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.results, nil
}

// enqueue appends r to id's queue, creating the queue on first use. When
// nothing waits in the queue, a worker is free and the batching rule would
// not hold r back for company, r is not queued: enqueue takes the worker
// for it and reports inline, and the caller runs the model itself
// (queue.runInline), sparing the hand-offs to the dispatcher and a worker
// goroutine. The call is the batch the dispatcher would have formed.
func (e *Engine) enqueue(id string, m model.Model, r *request) (*queue, bool, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, false, ErrClosed
		}
		q := e.queues[id]
		if q != nil && !sameModel(q.m, m) {
			// The id was reloaded without Forget: the old queue drains with the
			// old model, new requests get a queue of their own.
			delete(e.queues, id)
			q.mu.Lock()
			q.retired = true
			q.mu.Unlock()
			q.signal()
			q = nil
		}
		if q == nil {
			q = newQueue(e, id, m)
			e.queues[id] = q
			e.wg.Add(1)
			go q.dispatch()
		}
		// Held for an inline run, so that Close waits for it, and given back
		// below otherwise; added under e.mu, before Close can start waiting.
		e.wg.Add(1)
		e.mu.Unlock()

		q.mu.Lock()
		if q.retired {
			// Forgotten or shut down since we looked it up: look again.
			q.mu.Unlock()
			e.wg.Done()
			continue
		}
		now := time.Now()
		r.enqueued = now
		if q.inlineLocked(now, r) {
			q.rate.add(now, float64(len(r.texts)))
			q.running++
			q.mu.Unlock()
			return q, true, nil
		}
		e.wg.Done()
		if len(q.pending) >= e.cfg.MaxQueue {
			ra := q.retryAfterLocked()
			q.rejected++
			q.mu.Unlock()
			return nil, false, &QueueFullError{Model: id, RetryAfter: ra}
		}
		r.results = make([]model.Prediction, len(r.texts))
		r.done = make(chan struct{})
		r.queued = true
		q.pending = append(q.pending, r)
		q.queuedTexts += len(r.texts)
		q.rate.add(now, float64(len(r.texts)))
		q.mu.Unlock()
		q.signal()
		return q, false, nil
	}
}

// Forget releases id's queue, for when that model version is unloaded.
// Requests already queued are still answered; the next Predict for id starts
// a fresh queue (and fresh cost estimates).
func (e *Engine) Forget(id string) {
	e.mu.Lock()
	q := e.queues[id]
	delete(e.queues, id)
	e.mu.Unlock()
	if q == nil {
		return
	}
	q.mu.Lock()
	q.retired = true
	q.mu.Unlock()
	q.signal()
}

// Close stops accepting requests and waits, at most until ctx ends, for the
// queued and running ones to finish. When ctx ends first, requests still
// queued fail with ErrClosed and ctx's error is returned; running batches
// finish in the background.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.closing)
	}
	qs := make([]*queue, 0, len(e.queues))
	for _, q := range e.queues {
		qs = append(qs, q)
	}
	e.mu.Unlock()
	for _, q := range qs {
		q.signal()
	}
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, q := range qs {
			q.mu.Lock()
			for len(q.pending) > 0 {
				q.finishLocked(q.pending[0], ErrClosed)
			}
			q.mu.Unlock()
		}
		return fmt.Errorf("inference: draining: %w", ctx.Err())
	}
}

// QueueStats describes one model's queue.
type QueueStats struct {
	// Model is the model id.
	Model string `json:"model"`
	// Queued is the number of requests waiting; QueuedTexts their texts.
	Queued      int `json:"queued"`
	QueuedTexts int `json:"queued_texts"`
	// Running is the number of batches being executed.
	Running int `json:"running"`
	// Batches and Texts count the Predict calls made and the texts in them.
	Batches uint64 `json:"batches"`
	Texts   uint64 `json:"texts"`
	// Rejected counts requests refused with ErrQueueFull.
	Rejected uint64 `json:"rejected"`
	// FixedCost and TextCost are the fitted cost of a call and of each text.
	FixedCost time.Duration `json:"fixed_cost_ns"`
	TextCost  time.Duration `json:"text_cost_ns"`
	// ArrivalRate is the recent arrival rate, in texts per second.
	ArrivalRate float64 `json:"arrival_rate"`
}

// Stats returns a snapshot of every queue, in no particular order.
func (e *Engine) Stats() []QueueStats {
	e.mu.Lock()
	qs := make([]*queue, 0, len(e.queues))
	for _, q := range e.queues {
		qs = append(qs, q)
	}
	e.mu.Unlock()
	out := make([]QueueStats, 0, len(qs))
	now := time.Now()
	for _, q := range qs {
		q.mu.Lock()
		f, c := q.fit.costs()
		out = append(out, QueueStats{
			Model:       q.id,
			Queued:      len(q.pending),
			QueuedTexts: q.queuedTexts,
			Running:     q.running,
			Batches:     q.batches,
			Texts:       q.texts,
			Rejected:    q.rejected,
			FixedCost:   time.Duration(f * 1e9),
			TextCost:    time.Duration(c * 1e9),
			ArrivalRate: q.rate.at(now),
		})
		q.mu.Unlock()
	}
	return out
}

func (e *Engine) isClosing() bool {
	select {
	case <-e.closing:
		return true
	default:
		return false
	}
}

// sameModel reports whether a and b are the same model. Models whose dynamic
// type cannot be compared count as different.
func sameModel(a, b model.Model) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// ctxErr turns a context error into the error Predict returns.
func ctxErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// request is one Predict call. Its mutable fields are guarded by its queue's mu.
type request struct {
	ctx      context.Context
	texts    []string
	enqueued time.Time

	next      int  // first text not yet handed to a batch
	queued    bool // in queue.pending
	remaining int  // texts without a result yet
	finished  bool
	results   []model.Prediction
	err       error
	done      chan struct{} // closed when finished
}

// costFit is an exponentially weighted least-squares fit of batch duration
// (seconds) against batch size: t ≈ fixed + perText·n.
type costFit struct {
	samples          int
	mn, mt, mnn, mnt float64
}

const fitAlpha = 0.05

func (f *costFit) add(n int, t time.Duration) {
	x, y := float64(n), t.Seconds()
	if f.samples == 0 {
		f.mn, f.mt, f.mnn, f.mnt = x, y, x*x, x*y
	} else {
		a := fitAlpha
		f.mn += a * (x - f.mn)
		f.mt += a * (y - f.mt)
		f.mnn += a * (x*x - f.mnn)
		f.mnt += a * (x*y - f.mnt)
	}
	f.samples++
}

// costs returns the fixed and per-text cost in seconds. Until batches of
// different sizes have been seen the whole cost counts as per-text, so the
// batcher does not wait on a guess.
func (f *costFit) costs() (fixed, perText float64) {
	if f.samples == 0 || f.mn <= 0 {
		return 0, 0
	}
	v := f.mnn - f.mn*f.mn
	if v < 1e-6*f.mnn {
		return 0, f.mt / f.mn
	}
	c := (f.mnt - f.mn*f.mt) / v
	fx := f.mt - c*f.mn
	switch {
	case c < 0:
		return f.mt, 0
	case fx < 0:
		return 0, f.mt / f.mn
	}
	return fx, c
}

// rate is a decaying count of arrivals: texts per second over roughly the
// last rateTau.
type rate struct {
	score float64
	last  time.Time
}

const rateTau = 100 * time.Millisecond

func (r *rate) decay(now time.Time) float64 {
	if r.last.IsZero() {
		return 0
	}
	dt := now.Sub(r.last)
	if dt <= 0 {
		return r.score
	}
	return r.score * math.Exp(-float64(dt)/float64(rateTau))
}

func (r *rate) add(now time.Time, n float64) {
	r.score = r.decay(now) + n
	r.last = now
}

func (r *rate) at(now time.Time) float64 {
	return r.decay(now) / rateTau.Seconds()
}

// QueueIDs returns the model ids that have a queue, in no particular order.
func (e *Engine) QueueIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.queues))
	for id := range e.queues {
		ids = append(ids, id)
	}
	return ids
}
