// Package redis is the shared second cache tier, on Redis (go-redis/v9). A
// batch is looked up with one MGET and stored with one pipeline of SET EX.
// Every call runs under a short timeout; when Redis fails or is slow, the
// tier goes into fallback: it logs once, answers every lookup as a miss
// without touching the network, and a background health check with backoff
// puts it back in use when Redis answers again.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/model"
)

// ErrFallback is returned while Redis is out of use.
var ErrFallback = errors.New("redis: unavailable, in fallback")

// Options configures a Store. Zero fields take the defaults named.
type Options struct {
	// URL is the server, as redis://[user:password@]host:port/db.
	URL string
	// DialTimeout bounds connecting; default 200 ms.
	DialTimeout time.Duration
	// Timeout bounds each lookup or store, end to end; default 100 ms.
	Timeout time.Duration
	// Prefix starts every key; default "mlserve:".
	Prefix string
	// MaxBackoff is the longest pause between health checks in fallback;
	// default 5 s (the first is 100 ms, doubling).
	MaxBackoff time.Duration
	// Logger receives the fallback messages; default slog.Default().
	Logger *slog.Logger
}

// Store is a cache.Tier on Redis. It is safe for concurrent use.
type Store struct {
	rdb        *goredis.Client
	timeout    time.Duration
	prefix     string
	maxBackoff time.Duration
	log        *slog.Logger

	fallback atomic.Bool
	mu       sync.Mutex // guards checking and stopping
	checking bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

var (
	_ cache.Tier             = (*Store)(nil)
	_ cache.FallbackReporter = (*Store)(nil)
)

// New returns a Store for opts.URL. It does not wait for Redis: a Redis that
// is down at start is a fallback like any other.
func New(opts Options) (*Store, error) {
	o, err := goredis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 200 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 100 * time.Millisecond
	}
	if opts.Prefix == "" {
		opts.Prefix = "mlserve:"
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	o.DialTimeout = opts.DialTimeout
	o.ReadTimeout = opts.Timeout
	o.WriteTimeout = opts.Timeout
	o.PoolTimeout = opts.Timeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1 // a retry would double the delay a request can pay
	o.DisableIdentity = true
	s := &Store{
		rdb:        goredis.NewClient(o),
		timeout:    opts.Timeout,
		prefix:     opts.Prefix,
		maxBackoff: opts.MaxBackoff,
		log:        opts.Logger.With("component", "cache.redis", "addr", o.Addr),
		stop:       make(chan struct{}),
	}
	return s, nil
}

// InFallback reports whether Redis is currently out of use.
func (s *Store) InFallback() bool { return s.fallback.Load() }

// Close stops the health check and closes the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.rdb.Close()
}

func (s *Store) key(k cache.Key) string {
	return s.prefix + k.Model + ":" + k.Hex()
}

// GetMany looks all keys up with one MGET. Entries that do not decode are
// misses.
func (s *Store) GetMany(ctx context.Context, keys []cache.Key) ([]model.Prediction, []bool, error) {
	if s.fallback.Load() {
		return nil, nil, ErrFallback
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = s.key(k)
	}
	opCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	vals, err := s.rdb.MGet(opCtx, names...).Result()
	if err != nil {
		s.failed(ctx, err)
		return nil, nil, fmt.Errorf("redis: MGET: %w", err)
	}
	preds := make([]model.Prediction, len(keys))
	found := make([]bool, len(keys))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		p, err := cache.Decode([]byte(str))
		if err != nil {
			continue
		}
		preds[i], found[i] = p, true
	}
	return preds, found, nil
}

// SetMany stores the entries with one pipeline of SET (with EX when ttl is
// positive).
func (s *Store) SetMany(ctx context.Context, keys []cache.Key, preds []model.Prediction, ttl time.Duration) error {
	if s.fallback.Load() {
		return ErrFallback
	}
	opCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.rdb.Pipelined(opCtx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			p.Set(opCtx, s.key(k), cache.Encode(preds[i]), ttl)
		}
		return nil
	})
	if err != nil {
		s.failed(ctx, err)
		return fmt.Errorf("redis: pipeline SET: %w", err)
	}
	return nil
}

// FlushModel deletes the model's keys (SCAN by prefix, UNLINK in batches).
// It is an admin call, so it is not bound by the per-request timeout.
func (s *Store) FlushModel(ctx context.Context, modelID string) error {
	if s.fallback.Load() {
		return ErrFallback
	}
	match := globEscape(s.prefix+modelID+":") + "*"
	iter := s.rdb.Scan(ctx, 0, match, 500).Iterator()
	batch := make([]string, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return fmt.Errorf("redis: flushing %s: %w", modelID, err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis: scanning %s: %w", modelID, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("redis: flushing %s: %w", modelID, err)
	}
	return nil
}

// failed puts the store in fallback after a Redis failure, unless the
// caller's own context (its request deadline or a disconnect) ended the call:
// that says nothing about Redis.
func (s *Store) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		return
	default:
	}
	if !s.fallback.CompareAndSwap(false, true) {
		return
	}
	s.log.Warn("redis unavailable: serving from the memory cache alone until it answers again", "err", err)
	if !s.checking {
		s.checking = true
		s.wg.Add(1)
		go s.healthCheck()
	}
}

// healthCheck pings Redis with exponential backoff until it answers, then
// puts the store back in use.
func (s *Store) healthCheck() {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		t := time.NewTimer(backoff)
		select {
		case <-s.stop:
			t.Stop()
			s.mu.Lock()
			s.checking = false
			s.mu.Unlock()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout+s.rdb.Options().DialTimeout)
		err := s.rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.mu.Lock()
			s.checking = false
			s.fallback.Store(false)
			s.mu.Unlock()
			s.log.Info("redis answers again: back in use", "outage", time.Since(start).Round(time.Millisecond))
			return
		}
		backoff = min(2*backoff, s.maxBackoff)
	}
}

// globEscape escapes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}
