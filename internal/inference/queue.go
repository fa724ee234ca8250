package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/model"
)

// queue is one model's queue and the dispatcher goroutine that drains it.
type queue struct {
	e        *Engine
	id       string
	m        model.Model
	batching bool
	wake     chan struct{} // capacity 1: "something changed"

	mu          sync.Mutex
	pending     []*request // FIFO; the head may be partly dispatched
	queuedTexts int        // texts of pending not yet handed to a batch
	retired     bool       // accepts no more requests
	running     int
	fit         costFit
	rate        rate
	batches     uint64
	texts       uint64
	rejected    uint64
}

func newQueue(e *Engine, id string, m model.Model) *queue {
	batching := true
	if bp, ok := m.(BatchPreferrer); ok {
		batching = bp.BatchPreference()
	}
	return &queue{e: e, id: id, m: m, batching: batching, wake: make(chan struct{}, 1)}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// finishLocked completes r with err (nil: success) unless it is finished
// already, and takes it out of pending.
func (q *queue) finishLocked(r *request, err error) {
	if r.finished {
		return
	}
	r.finished = true
	r.err = err
	if r.queued {
		q.removeLocked(r)
	}
	close(r.done)
}

func (q *queue) removeLocked(r *request) {
	for i, p := range q.pending {
		if p == r {
			copy(q.pending[i:], q.pending[i+1:])
			q.pending[len(q.pending)-1] = nil
			q.pending = q.pending[:len(q.pending)-1]
			break
		}
	}
	q.queuedTexts -= len(r.texts) - r.next
	r.queued = false
}

// retryAfterLocked estimates how long the queue needs to drain.
func (q *queue) retryAfterLocked() time.Duration {
	f, c := q.fit.costs()
	b := float64(q.e.cfg.MaxBatchSize)
	batches := math.Ceil(float64(q.queuedTexts)/b) + float64(q.running)
	secs := batches * (f + c*b) / float64(q.e.cfg.Workers)
	d := time.Duration(math.Ceil(secs)) * time.Second
	if d < DefaultRetryAfter {
		d = DefaultRetryAfter
	}
	return d
}

// dispatch forms batches and hands them to the worker pool until the queue
// is retired (or the engine closed) and empty.
func (q *queue) dispatch() {
	defer q.e.wg.Done()
	for {
		q.mu.Lock()
		for len(q.pending) == 0 {
			if q.retired || q.e.isClosing() {
				q.retired = true
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			select {
			case <-q.wake:
			case <-q.e.closing:
			}
			q.mu.Lock()
		}
		q.mu.Unlock()

		q.e.slots <- struct{}{} // a worker is free: what waits now batches for free
		b := q.collect()
		if b == nil {
			<-q.e.slots
			continue
		}
		q.e.wg.Add(1)
		go q.run(b)
	}
}

type segment struct {
	r        *request
	from, to int
}

type batch struct {
	segs  []segment
	texts []string
}

// collect waits as the batching rule says, then takes up to MaxBatchSize
// texts from the head of the queue. It returns nil when nothing is left.
func (q *queue) collect() *batch {
	max := q.e.cfg.MaxBatchSize
	q.mu.Lock()
	for {
		q.dropDeadHeadLocked()
		if len(q.pending) == 0 {
			q.mu.Unlock()
			return nil
		}
		now := time.Now()
		wait, until := q.shouldWaitLocked(now, min(q.queuedTexts, max))
		if !wait {
			break
		}
		q.mu.Unlock()
		t := time.NewTimer(until.Sub(now))
		select {
		case <-q.wake:
		case <-t.C:
		case <-q.e.closing:
		}
		t.Stop()
		q.mu.Lock()
	}

	b := &batch{}
	n := 0
	for len(q.pending) > 0 && n < max {
		r := q.pending[0]
		if r.ctx.Err() != nil {
			// Its deadline passed (or it was cancelled) while queued: never run it.
			q.finishLocked(r, ctxErr(r.ctx.Err()))
			continue
		}
		if !q.batching && len(b.segs) > 0 {
			break
		}
		take := min(len(r.texts)-r.next, max-n)
		b.segs = append(b.segs, segment{r: r, from: r.next, to: r.next + take})
		r.next += take
		q.queuedTexts -= take
		n += take
		if r.next == len(r.texts) {
			q.pending[0] = nil
			q.pending = q.pending[1:]
			r.queued = false
		}
	}
	if len(q.pending) == 0 {
		q.pending = nil // let the backing array go
	}
	if n == 0 {
		q.mu.Unlock()
		return nil
	}
	q.running++
	q.mu.Unlock()

	if len(b.segs) == 1 {
		s := b.segs[0]
		b.texts = s.r.texts[s.from:s.to]
	} else {
		b.texts = make([]string, 0, n)
		for _, s := range b.segs {
			b.texts = append(b.texts, s.r.texts[s.from:s.to]...)
		}
	}
	return b
}

// dropDeadHeadLocked finishes the requests at the head of the queue whose
// context has ended, so they neither run nor hold a batch back.
func (q *queue) dropDeadHeadLocked() {
	for len(q.pending) > 0 {
		r := q.pending[0]
		err := r.ctx.Err()
		if err == nil {
			return
		}
		q.finishLocked(r, ctxErr(err))
	}
}

// waitTarget is the load at which the batcher sizes batches to keep up.
const waitTarget = 0.8

// shouldWaitLocked applies the batching rule of the package documentation to
// a batch that would now hold n texts. It reports whether to wait, and until
// when at most.
func (q *queue) shouldWaitLocked(now time.Time, n int) (bool, time.Time) {
	return q.waitRuleLocked(now, n, q.pending[0].enqueued, q.pending)
}

// waitRuleLocked is the batching rule for a batch of n texts whose oldest
// request arrived at oldest, made of the requests waiting.
func (q *queue) waitRuleLocked(now time.Time, n int, oldest time.Time, waiting []*request) (bool, time.Time) {
	max := q.e.cfg.MaxBatchSize
	if !q.batching || n >= max || q.e.isClosing() {
		return false, time.Time{}
	}
	limit := oldest.Add(q.e.cfg.BatchTimeout)
	if !now.Before(limit) {
		return false, time.Time{}
	}
	fixed, perText := q.fit.costs()
	if fixed <= 0 {
		return false, time.Time{}
	}
	lambda := q.rate.at(now)
	if lambda <= 0 {
		return false, time.Time{}
	}
	target := float64(max)
	if denom := waitTarget*float64(q.e.cfg.Workers) - lambda*perText; denom > 0 {
		target = math.Min(target, math.Ceil(lambda*fixed/denom))
	}
	missing := target - float64(n)
	if missing <= 0 {
		return false, time.Time{}
	}
	eta := now.Add(time.Duration(missing / lambda * 1e9))
	if eta.After(limit) {
		return false, time.Time{} // the texts we need will not come in time
	}
	// Never wait past what a waiting request's own deadline allows.
	run := time.Duration((fixed + perText*target) * 1e9)
	for _, r := range waiting {
		if d, ok := r.ctx.Deadline(); ok && d.Add(-run).Before(eta) {
			return false, time.Time{}
		}
	}
	return true, limit
}

// inlineLocked reports whether r, just arrived, may skip the queue and run
// at once on its caller's goroutine, and if so takes a worker for it. That
// is when nothing waits before it, its texts fit one batch, the batching
// rule would send it alone at once (computed as the arrival would make it,
// including r's texts in the rate), and a worker is free: the dispatcher
// would then have formed the same one-request batch, later.
func (q *queue) inlineLocked(now time.Time, r *request) bool {
	if len(q.pending) > 0 || len(r.texts) > q.e.cfg.MaxBatchSize {
		return false
	}
	// The rule sees the rate with r counted, as the dispatcher would.
	saved := q.rate
	q.rate.add(now, float64(len(r.texts)))
	wait, _ := q.waitRuleLocked(now, len(r.texts), now, []*request{r})
	q.rate = saved
	if wait {
		return false
	}
	select {
	case q.e.slots <- struct{}{}:
		return true
	default:
		return false // every worker is busy: queue, and batch with what follows
	}
}

// runInline runs r, which inlineLocked let skip the queue, on the calling
// goroutine and books it as run books a batch.
func (q *queue) runInline(r *request) ([]model.Prediction, error) {
	defer q.e.wg.Done()
	defer func() { <-q.e.slots }()
	ctx, span := r.ctx, trace.Span(nil)
	if q.e.cfg.Tracer != nil && trace.SpanContextFromContext(r.ctx).IsSampled() {
		ctx, span = q.startInlineSpan(r)
	}
	start := time.Now()
	preds, err := safePredict(ctx, q.m, r.texts)
	elapsed := time.Since(start)
	err = q.modelErr(err, len(preds), len(r.texts))
	if span != nil {
		endSpan(span, err)
	}

	var info *BatchInfo
	if obs := q.e.cfg.Observe; obs != nil {
		info = &BatchInfo{ID: q.id, Size: len(r.texts), Waits: []time.Duration{start.Sub(r.enqueued)}, Inference: elapsed, Err: err}
	}
	q.mu.Lock()
	q.booked(len(r.texts), elapsed, err)
	if info != nil {
		info.Queued = q.queuedTexts
	}
	q.mu.Unlock()
	if info != nil {
		q.e.cfg.Observe(*info)
	}
	if err == nil {
		// A queued request is answered at its deadline even when its batch
		// goes on; so is this one, though the model answered later.
		err = r.ctx.Err()
		if err != nil {
			err = ctxErr(err)
		}
	}
	if err != nil {
		return nil, err
	}
	return preds, nil
}

// modelErr is the error a batch's requests get for a model call that
// returned err and got predictions for want texts.
func (q *queue) modelErr(err error, got, want int) error {
	if err == nil && got != want {
		err = fmt.Errorf("inference: model %s returned %d predictions for %d texts", q.id, got, want)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		} else if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("inference: model %s: %w", q.id, err)
		}
	}
	return err
}

// booked counts a finished model call of n texts; q.mu is held.
func (q *queue) booked(n int, elapsed time.Duration, err error) {
	q.running--
	q.batches++
	q.texts += uint64(n)
	if err == nil {
		q.fit.add(n, elapsed)
	}
}

// run executes b on the model and hands each request its results.
func (q *queue) run(b *batch) {
	defer q.e.wg.Done()
	defer func() { <-q.e.slots }()

	ctx, release := batchContext(b)
	var span trace.Span
	start := time.Now()
	if q.e.cfg.Tracer != nil {
		ctx, span = q.startBatchSpan(ctx, b, start)
	}
	preds, err := safePredict(ctx, q.m, b.texts)
	elapsed := time.Since(start)
	release()
	err = q.modelErr(err, len(preds), len(b.texts))
	if span != nil {
		endSpan(span, err)
	}

	var info *BatchInfo
	if obs := q.e.cfg.Observe; obs != nil {
		info = &BatchInfo{ID: q.id, Size: len(b.texts), Waits: make([]time.Duration, len(b.segs)), Inference: elapsed, Err: err}
		for i, s := range b.segs {
			info.Waits[i] = start.Sub(s.r.enqueued)
		}
		defer func() { obs(*info) }() // after the unlock below; Queued is set under the lock
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if info != nil {
		defer func() { info.Queued = q.queuedTexts }()
	}
	q.booked(len(b.texts), elapsed, err)
	off := 0
	for _, s := range b.segs {
		r, k := s.r, s.to-s.from
		if !r.finished {
			if err != nil {
				q.finishLocked(r, err)
			} else {
				copy(r.results[s.from:s.to], preds[off:off+k])
				r.remaining -= k
				if r.remaining == 0 {
					q.finishLocked(r, nil)
				}
			}
		}
		off += k
	}
}

// batchContext returns the context a batch runs under: its single request's
// context, or for a merged batch one that carries the latest deadline of its
// requests and is cancelled once all of them are.
func batchContext(b *batch) (context.Context, func()) {
	first := b.segs[0].r
	distinct := make([]*request, 0, len(b.segs))
	for _, s := range b.segs {
		if len(distinct) == 0 || distinct[len(distinct)-1] != s.r {
			distinct = append(distinct, s.r)
		}
	}
	if len(distinct) == 1 {
		return first.ctx, func() {}
	}
	var latest time.Time
	bounded := true
	for _, r := range distinct {
		d, ok := r.ctx.Deadline()
		if !ok {
			bounded = false
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	base := context.WithoutCancel(first.ctx)
	var ctx context.Context
	var cancel context.CancelFunc
	if bounded {
		ctx, cancel = context.WithDeadline(base, latest)
	} else {
		ctx, cancel = context.WithCancel(base)
	}
	left := int64(len(distinct))
	stops := make([]func() bool, len(distinct))
	for i, r := range distinct {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if atomic.AddInt64(&left, -1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// safePredict calls m.Predict, turning a panic into an error so one bad
// model cannot take the server down.
func safePredict(ctx context.Context, m model.Model, texts []string) (preds []model.Prediction, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("inference: model panicked: %v", p)
		}
	}()
	return m.Predict(ctx, texts)
}
