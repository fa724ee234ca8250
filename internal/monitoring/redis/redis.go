// Package redis is the monitoring.Fleet on Redis (go-redis/v9): the state
// the replicas of one service share so that they behave as one —
// predictions awaiting feedback, each version's live-accuracy window, its
// drift bin counts per minute, its request counters, and which replicas
// report.
//
// # Keys
//
// Every key starts with Options.Prefix ("mlserve:fleet:" by default, apart
// from the prediction cache's "mlserve:<model id>:" keys):
//
//	fb:<unix minute>         hash    request id → "<model id>\n<unix ns>\n<label>", or "-" once its
//	                                 feedback is taken; the minute the prediction was made; EX the
//	                                 pending TTL + 2 minutes (a prediction older than the TTL is refused)
//	acc:<model id>           list    "1"/"0" per feedback, newest first, trimmed to the feedback window
//	stats:<model id>         hash    requests, texts, errors, pred:<label>, feedback, correct (HINCRBY)
//	drift:<model id>:<unix minute>
//	                         hash    "<signal>:<bin>" → count (HINCRBY), EX window + 1 minute
//	replicas                 zset    replica name → unix second of its last Add
//
// acc: and stats: keys expire 7 days after their last write, so a version
// that no replica serves any more leaves nothing behind for long.
//
// # Cost on the request path
//
// Remember and Forget append to a bounded in-memory queue and wake one
// writer goroutine, which sends all that queued as one HSET into the
// minute's bucket, at most every Options.WriteEvery (2 ms), so under load
// one command carries a hundred predictions or more and Redis keeps one
// key per minute, not one per prediction. (BenchmarkFleetOverhead: one
// SET per prediction, woken per answer, cost the server 4% of its CPU in
// the writer alone; batched so, under 1%.) Drift
// bins and counters are not sent per request at all: the monitor adds them
// up and calls Add once per flush interval.
//
// # Redis down
//
// Every call runs under Options.Timeout. A failure that is not the caller's
// own deadline puts the fleet down: it logs once, drops what is queued,
// answers every call with ErrDown at once without touching the network, and
// a health check with backoff (100 ms doubling to MaxBackoff) puts it back
// up when Redis answers PING. The monitor meanwhile uses the replica's own
// state and says so.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mlserve/mlserve/internal/monitoring"
)

// ErrDown is returned while Redis is out of use.
var ErrDown = errors.New("redis: unavailable, monitoring per replica")

// Options configures a Fleet. Zero fields take the defaults named.
type Options struct {
	// URL is the server, as redis://[user:password@]host:port/db.
	URL string
	// Prefix starts every key; default "mlserve:fleet:".
	Prefix string
	// PendingTTL is how long a prediction awaits feedback; default 1 h.
	PendingTTL time.Duration
	// Window is the drift window in minutes; default 10.
	Window int
	// Queue bounds the predictions awaiting their write; default 65536.
	Queue int
	// WriteEvery is the least time between two writes of predictions, so
	// they gather into batches; default 2 ms (another replica may miss a
	// prediction for that long; the one that made it has it at once).
	WriteEvery time.Duration
	// DialTimeout bounds connecting; default 200 ms.
	DialTimeout time.Duration
	// Timeout bounds each call, end to end; default 200 ms.
	Timeout time.Duration
	// MaxBackoff is the longest pause between health checks while down;
	// default 5 s.
	MaxBackoff time.Duration
	// Logger receives the down and up messages; default slog.Default().
	Logger *slog.Logger
	// Now is the clock (minute buckets, replica liveness); default time.Now.
	Now func() time.Time
}

// keep is how long acc: and stats: keys outlive their last write.
const keep = 7 * 24 * time.Hour

// replicaAlive is how recent a replica's last Add must be to count.
const replicaAlive = 60

// Fleet is a monitoring.Fleet on Redis. It is safe for concurrent use.
type Fleet struct {
	rdb        *goredis.Client
	opts       Options
	log        *slog.Logger
	addFB      *goredis.Script
	claim      *goredis.Script
	peek       *goredis.Script
	down       atomic.Bool
	lastErr    atomic.Pointer[string]
	dropped    atomic.Uint64
	writes     atomic.Uint64
	qmu        sync.Mutex
	queue      []op
	wake       chan struct{}
	mu         sync.Mutex // guards checking and stop
	checking   bool
	stop       chan struct{}
	wg         sync.WaitGroup
	writerDone chan struct{}
}

// op is one queued write into the fb: bucket of at's minute: the
// prediction, or the taken mark.
type op struct {
	rid, model, label string
	at                int64
	taken             bool
}

// value is what op writes.
func (o op) value() string {
	if o.taken {
		return taken
	}
	return o.model + "\n" + strconv.FormatInt(o.at, 10) + "\n" + o.label
}

var _ monitoring.Fleet = (*Fleet)(nil)

// addFeedbackLua pushes one feedback onto a version's window, trims it,
// counts it in the version's counters, refreshes both expiries and
// returns {right, size} of the window, in one atomic step: concurrent
// replicas never lose or double-count one.
const addFeedbackLua = `
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[2], 'feedback', 1)
redis.call('HINCRBY', KEYS[2], 'correct', tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[2], ARGV[3])
local xs = redis.call('LRANGE', KEYS[1], 0, -1)
local ok = 0
for _, x in ipairs(xs) do if x == '1' then ok = ok + 1 end end
return {ok, #xs}`

// claimLua replaces request ARGV[1]'s prediction by the taken mark
// ARGV[2] in its bucket: 1 when it did, 0 for no prediction or one
// already taken (a mark in any bucket).
const claimLua = `
local at = false
for _, k in ipairs(KEYS) do
  local v = redis.call('HGET', k, ARGV[1])
  if v == ARGV[2] then return 0 end
  if v then at = k end
end
if not at then return 0 end
redis.call('HSET', at, ARGV[1], ARGV[2])
return 1`

// New returns a Fleet on opts.URL and starts its writer. It does not wait
// for Redis: one that is down at start is an outage like any other.
func New(opts Options) (*Fleet, error) {
	o, err := goredis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = "mlserve:fleet:"
	}
	if opts.PendingTTL <= 0 {
		opts.PendingTTL = time.Hour
	}
	if opts.Window <= 0 {
		opts.Window = 10
	}
	if opts.Queue <= 0 {
		opts.Queue = 65536
	}
	if opts.WriteEvery <= 0 {
		opts.WriteEvery = 2 * time.Millisecond
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 200 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	o.DialTimeout = opts.DialTimeout
	o.ReadTimeout = opts.Timeout
	o.WriteTimeout = opts.Timeout
	o.PoolTimeout = opts.Timeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DisableIdentity = true
	f := &Fleet{
		rdb:        goredis.NewClient(o),
		opts:       opts,
		log:        opts.Logger.With("component", "monitoring.redis", "addr", o.Addr),
		addFB:      goredis.NewScript(addFeedbackLua),
		claim:      goredis.NewScript(claimLua),
		peek:       goredis.NewScript(peekLua),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go f.writer()
	return f, nil
}

// Close writes what is queued (within Timeout), stops the writer and the
// health check, and closes the connections.
func (f *Fleet) Close() error {
	f.mu.Lock()
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.mu.Unlock()
	<-f.writerDone
	f.wg.Wait()
	return f.rdb.Close()
}

// Dropped counts predictions not written because the queue was full or
// Redis was down: their feedback is accepted by the replica that made
// them only.
func (f *Fleet) Dropped() uint64 { return f.dropped.Load() }

// State reports whether Redis is in use and, when not, the error that put
// it out of use.
func (f *Fleet) State() (bool, string) {
	if !f.down.Load() {
		return true, ""
	}
	if p := f.lastErr.Load(); p != nil {
		return false, *p
	}
	return false, "unavailable"
}

func (f *Fleet) key(parts ...string) string { return f.opts.Prefix + strings.Join(parts, ":") }

// Remember queues requestID's prediction for the writer; it never blocks
// and allocates nothing but the queue's growth (the writer formats).
func (f *Fleet) Remember(requestID string, p monitoring.Pending) {
	f.enqueue(op{rid: requestID, model: p.Model, label: p.Label, at: p.At.UnixNano()})
}

// taken marks a prediction whose feedback a replica took.
const taken = "-"

// Forget queues the mark that requestID's prediction had its feedback.
func (f *Fleet) Forget(requestID string) {
	f.enqueue(op{rid: requestID, taken: true, at: f.opts.Now().UnixNano()})
}

func (f *Fleet) enqueue(o op) {
	if f.down.Load() {
		f.dropped.Add(1)
		return
	}
	f.qmu.Lock()
	if len(f.queue) >= f.opts.Queue {
		f.qmu.Unlock()
		f.dropped.Add(1)
		return
	}
	f.queue = append(f.queue, o)
	f.qmu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// writer sends the queue as one pipeline whenever woken, until Close.
func (f *Fleet) writer() {
	defer close(f.writerDone)
	var spare []op
	for {
		select {
		case <-f.stop:
			ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
			f.write(ctx, f.swap(nil))
			cancel()
			return
		case <-f.wake:
		}
		batch := f.swap(spare)
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
		f.write(ctx, batch)
		cancel()
		clear(batch)
		spare = batch[:0]
		f.writes.Add(1)
		// Let the next batch gather: under load a round trip then carries
		// hundreds of predictions, not one or two.
		t := time.NewTimer(f.opts.WriteEvery)
		select {
		case <-f.stop:
			t.Stop()
		case <-t.C:
		}
	}
}

// Writes counts the batches written (a benchmark's predictions per round
// trip is their count over it).
func (f *Fleet) Writes() uint64 { return f.writes.Load() }

// swap takes the queue, leaving next (emptied) in its place.
func (f *Fleet) swap(next []op) []op {
	f.qmu.Lock()
	defer f.qmu.Unlock()
	q := f.queue
	f.queue = next
	return q
}

func (f *Fleet) write(ctx context.Context, batch []op) {
	if len(batch) == 0 {
		return
	}
	if f.down.Load() {
		f.dropped.Add(uint64(len(batch)))
		return
	}
	// One HSET per minute bucket (nearly always one) carries the whole
	// batch: far cheaper for both sides than a SET per prediction.
	buckets := map[int64][]any{}
	for _, o := range batch {
		m := o.at / int64(time.Minute)
		buckets[m] = append(buckets[m], o.rid, o.value())
	}
	ttl := f.opts.PendingTTL + 2*time.Minute
	_, err := f.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for m, args := range buckets {
			k := f.key("fb", strconv.FormatInt(m, 10))
			p.HSet(ctx, k, args...)
			p.Expire(ctx, k, ttl)
		}
		return nil
	})
	if err != nil {
		f.dropped.Add(uint64(len(batch)))
		f.failed(context.Background(), err)
	}
}

// call runs fn under the timeout unless Redis is down, putting it down
// when fn fails for a reason other than ctx.
func (f *Fleet) call(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	if f.down.Load() {
		return ErrDown
	}
	opCtx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	if err := fn(opCtx); err != nil && !errors.Is(err, goredis.Nil) {
		f.failed(ctx, err)
		return fmt.Errorf("redis: %s: %w", what, err)
	}
	return nil
}

// pendingBuckets are the fb: bucket keys a prediction awaiting feedback
// can be in: the pending TTL back from now, a minute either side for
// clocks that differ between replicas.
func (f *Fleet) pendingBuckets() []string {
	now := f.opts.Now().UnixNano() / int64(time.Minute)
	from := now - int64(f.opts.PendingTTL/time.Minute) - 2
	keys := make([]string, 0, now-from+2)
	for m := from; m <= now+1; m++ {
		keys = append(keys, f.key("fb", strconv.FormatInt(m, 10)))
	}
	return keys
}

// peekLua finds request ARGV[1] in the buckets: the taken mark if any
// bucket has it, else the prediction, else nil.
const peekLua = `
local found = false
for _, k in ipairs(KEYS) do
  local v = redis.call('HGET', k, ARGV[1])
  if v == ARGV[2] then return v end
  if v then found = v end
end
return found`

// Peek returns requestID's shared prediction without taking it.
func (f *Fleet) Peek(ctx context.Context, requestID string) (monitoring.Pending, bool, error) {
	var s string
	var found bool
	err := f.call(ctx, "peek script", func(ctx context.Context) error {
		v, err := f.peek.Run(ctx, f.rdb, f.pendingBuckets(), requestID, taken).Text()
		s, found = v, err == nil
		return err
	})
	if err != nil || !found {
		return monitoring.Pending{}, false, err
	}
	if s == taken {
		return monitoring.Pending{}, false, monitoring.ErrTaken
	}
	p, ok := decodePending(s)
	if !ok || f.opts.Now().Sub(p.At) > f.opts.PendingTTL {
		return monitoring.Pending{}, false, nil
	}
	return p, true, nil
}

// decodePending reads "<model id>\n<unix ns>\n<label>"; a value in any
// other shape (not ours) is no prediction.
func decodePending(s string) (monitoring.Pending, bool) {
	id, rest, ok1 := strings.Cut(s, "\n")
	at, label, ok2 := strings.Cut(rest, "\n")
	ns, err := strconv.ParseInt(at, 10, 64)
	if !ok1 || !ok2 || err != nil || id == "" {
		return monitoring.Pending{}, false
	}
	return monitoring.Pending{Model: id, Label: label, At: time.Unix(0, ns)}, true
}

// Claim takes requestID's prediction, leaving the taken mark, in one
// script: of replicas racing for it, one gets true.
func (f *Fleet) Claim(ctx context.Context, requestID string) (bool, error) {
	var took bool
	err := f.call(ctx, "claim script", func(ctx context.Context) error {
		n, err := f.claim.Run(ctx, f.rdb, f.pendingBuckets(), requestID, taken).Int()
		took = n == 1
		return err
	})
	return took, err
}

// AddFeedback pushes one feedback onto version id's window, atomically.
func (f *Fleet) AddFeedback(ctx context.Context, id string, correct bool, window int) (monitoring.Accuracy, error) {
	v := "0"
	if correct {
		v = "1"
	}
	var acc monitoring.Accuracy
	err := f.call(ctx, "feedback script", func(ctx context.Context) error {
		res, err := f.addFB.Run(ctx, f.rdb, []string{f.key("acc", id), f.key("stats", id)}, v, max(window, 1), int(keep/time.Second)).Int64Slice()
		if err == nil && len(res) == 2 {
			acc = monitoring.Accuracy{Correct: int(res[0]), N: int(res[1])}
		}
		return err
	})
	return acc, err
}

// minute is the current drift bucket.
func (f *Fleet) minute() int64 { return f.opts.Now().Unix() / 60 }

// Add adds the deltas in one pipeline: counters with HINCRBY, drift bins
// into the current minute's bucket, and replica's liveness.
func (f *Fleet) Add(ctx context.Context, replica string, deltas []monitoring.Delta) error {
	now, minute := f.opts.Now().Unix(), strconv.FormatInt(f.minute(), 10)
	bucketTTL := time.Duration(f.opts.Window+1) * time.Minute
	return f.call(ctx, "pipeline HINCRBY", func(ctx context.Context) error {
		_, err := f.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, d := range deltas {
				sk := f.key("stats", d.ID)
				for field, n := range map[string]int64{"requests": d.Requests, "texts": d.Texts, "errors": d.Errors} {
					if n != 0 {
						p.HIncrBy(ctx, sk, field, n)
					}
				}
				for l, n := range d.Predictions {
					p.HIncrBy(ctx, sk, "pred:"+l, n)
				}
				p.Expire(ctx, sk, keep)
				if len(d.Bins) > 0 {
					bk := f.key("drift", d.ID, minute)
					for field, n := range d.Bins {
						p.HIncrBy(ctx, bk, field, n)
					}
					p.Expire(ctx, bk, bucketTTL)
				}
			}
			rk := f.key("replicas")
			p.ZAdd(ctx, rk, goredis.Z{Score: float64(now), Member: replica})
			p.ZRemRangeByScore(ctx, rk, "-inf", strconv.FormatInt(now-3600, 10))
			return nil
		})
		return err
	})
}

// Read returns the ids' shared figures in one pipeline.
func (f *Fleet) Read(ctx context.Context, ids []string, what monitoring.Parts) (monitoring.Shared, error) {
	type cmds struct {
		stats   *goredis.MapStringStringCmd
		acc     *goredis.StringSliceCmd
		buckets []*goredis.MapStringStringCmd
	}
	per := make([]cmds, len(ids))
	var replicas *goredis.IntCmd
	now, minute := f.opts.Now().Unix(), f.minute()
	err := f.call(ctx, "pipeline read", func(ctx context.Context) error {
		_, err := f.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range ids {
				if what&monitoring.PartCounters != 0 {
					per[i].stats = p.HGetAll(ctx, f.key("stats", id))
				}
				if what&monitoring.PartAccuracy != 0 {
					per[i].acc = p.LRange(ctx, f.key("acc", id), 0, -1)
				}
				if what&monitoring.PartBins != 0 {
					for m := minute - int64(f.opts.Window) + 1; m <= minute; m++ {
						per[i].buckets = append(per[i].buckets, p.HGetAll(ctx, f.key("drift", id, strconv.FormatInt(m, 10))))
					}
				}
			}
			replicas = p.ZCount(ctx, f.key("replicas"), strconv.FormatInt(now-replicaAlive, 10), "+inf")
			return nil
		})
		return err
	})
	if err != nil {
		return monitoring.Shared{}, err
	}
	sh := monitoring.Shared{Versions: make(map[string]monitoring.SharedVersion, len(ids)), Replicas: int(replicas.Val())}
	for i, id := range ids {
		var v monitoring.SharedVersion
		if c := per[i].stats; c != nil {
			for field, s := range c.Val() {
				n, _ := strconv.ParseInt(s, 10, 64)
				switch {
				case field == "requests":
					v.Requests = n
				case field == "texts":
					v.Texts = n
				case field == "errors":
					v.Errors = n
				case field == "feedback":
					v.Feedback = n
				case field == "correct":
					v.Correct = n
				case strings.HasPrefix(field, "pred:"):
					if v.Predictions == nil {
						v.Predictions = map[string]int64{}
					}
					v.Predictions[field[len("pred:"):]] = n
				}
			}
		}
		if c := per[i].acc; c != nil {
			for _, x := range c.Val() {
				v.Accuracy.N++
				if x == "1" {
					v.Accuracy.Correct++
				}
			}
		}
		for _, c := range per[i].buckets {
			for field, s := range c.Val() {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
					if v.Bins == nil {
						v.Bins = map[string]int64{}
					}
					v.Bins[field] += n
				}
			}
		}
		sh.Versions[id] = v
	}
	return sh, nil
}

// failed puts the fleet down after a Redis failure, unless the caller's
// own context ended the call: that says nothing about Redis.
func (f *Fleet) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.stop:
		return
	default:
	}
	msg := err.Error()
	f.lastErr.Store(&msg)
	if !f.down.CompareAndSwap(false, true) {
		return
	}
	f.swap(nil)
	f.log.Warn("redis unavailable: feedback, live accuracy and drift are this replica's until it answers again", "err", err)
	if !f.checking {
		f.checking = true
		f.wg.Add(1)
		go f.healthCheck()
	}
}

// healthCheck pings Redis with exponential backoff until it answers, then
// puts the fleet back up.
func (f *Fleet) healthCheck() {
	defer f.wg.Done()
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		t := time.NewTimer(backoff)
		select {
		case <-f.stop:
			t.Stop()
			f.mu.Lock()
			f.checking = false
			f.mu.Unlock()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout+f.opts.DialTimeout)
		err := f.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			f.mu.Lock()
			f.checking = false
			f.down.Store(false)
			f.mu.Unlock()
			f.log.Info("redis answers again: sharing feedback, live accuracy and drift", "outage", time.Since(start).Round(time.Millisecond))
			return
		}
		backoff = min(2*backoff, f.opts.MaxBackoff)
	}
}
