// Package nudge tells the other replicas that share a Redis when this one
// changed the model repository (committed an upload, wrote the state file
// with a new default, an unload or a keep_loaded), so that they rescan the
// repository at once instead of at their next poll.
//
// A nudge is a hint, never the truth: it carries no change, only "look
// now". The repository (a folder or a bucket) stays the one source of truth
// and every replica's poll (repository.poll_interval) stays the guarantee:
// a nudge lost because Redis is down, restarting or slow only means the
// change is picked up at the next poll. Sending never blocks the admin call
// that made the change for longer than Options.Timeout, and failures are
// logged once per outage.
//
// The message is the sender's random id, so a replica ignores its own
// nudges. Redis pub/sub delivers to the subscribers connected at the time;
// go-redis re-subscribes after a reconnection by itself.
package nudge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultChannel is the pub/sub channel replicas nudge each other on.
const DefaultChannel = "mlserve:repository"

// Options configure a Redis nudger.
type Options struct {
	// URL is the Redis URL (redis://, rediss://, unix://).
	URL string
	// Channel is the pub/sub channel; empty means DefaultChannel. Replicas
	// serving different repositories from one Redis may use their own.
	Channel string
	// Timeout bounds one Send; default 500 ms.
	Timeout time.Duration
	// Logger receives the outage and recovery lines; nil means slog.Default.
	Logger *slog.Logger
}

// Redis sends and receives nudges over Redis pub/sub.
type Redis struct {
	c       *goredis.Client
	channel string
	id      string
	timeout time.Duration
	log     *slog.Logger
	down    atomic.Bool // the last Send failed (logged once per outage)
}

// New returns a nudger on o.URL. It does not connect until used.
func New(o Options) (*Redis, error) {
	ro, err := goredis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("nudge: %w", err)
	}
	ro.DialTimeout = 500 * time.Millisecond
	ro.MaxRetries = 1
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Redis{c: goredis.NewClient(ro), channel: o.Channel, id: hex.EncodeToString(b[:]), timeout: o.Timeout,
		log: o.Logger.With("component", "nudge")}, nil
}

// ID is this replica's sender id (the message of its nudges).
func (r *Redis) ID() string { return r.id }

// Send tells the other replicas to rescan now; it returns within Timeout.
func (r *Redis) Send(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.c.Publish(ctx, r.channel, r.id).Err()
	switch {
	case err != nil && !r.down.Swap(true):
		r.log.Warn("cannot nudge the other replicas (they pick the change up at their next poll)", "err", err)
	case err == nil && r.down.Swap(false):
		r.log.Info("nudging the other replicas again")
	}
	if err != nil {
		return fmt.Errorf("nudge: %w", err)
	}
	return nil
}

// Listen calls fn for every nudge another replica sends, until ctx ends.
// fn runs on Listen's goroutine: it should only signal (a rescan that is
// already due absorbs the next nudges).
func (r *Redis) Listen(ctx context.Context, fn func()) {
	ps := r.c.Subscribe(ctx, r.channel)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			if m.Payload != r.id {
				fn()
			}
		}
	}
}

// Close closes the connections.
func (r *Redis) Close() error { return r.c.Close() }
