package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/nudge"
)

// watcher rescans the model repository every poll interval and whenever
// another replica nudges: an s3:// repository's mirror syncs first, then
// the registry polls (new versions, and the state file: defaults, unloads,
// keep_loaded). The interval is the guarantee that every replica serves a
// change within it; a nudge only makes it sooner.
type watcher struct {
	sync     func(context.Context) error // the mirror's Sync; nil for a local folder
	poll     func(context.Context) error // the registry's Poll
	interval time.Duration               // 0: nudges only
	kick     chan struct{}               // capacity 1: nudges while a rescan is due coalesce
	log      *slog.Logger
}

// nudge asks for a rescan now; it never blocks.
func (w *watcher) nudge() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run rescans until ctx ends.
func (w *watcher) run(ctx context.Context) {
	var tick <-chan time.Time
	if w.interval > 0 {
		t := time.NewTicker(w.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-w.kick:
		}
		w.once(ctx)
	}
}

// once syncs the mirror (its failures are logged by the mirror) and polls.
func (w *watcher) once(ctx context.Context) {
	if w.sync != nil {
		_ = w.sync(ctx)
	}
	if ctx.Err() != nil {
		return
	}
	if err := w.poll(ctx); err != nil {
		w.log.Warn("repository poll", "err", err)
	}
}

// newNudger returns the Redis nudger of c (nil when repository.nudge is off
// or no cache.redis_url is set) and makes repo nudge the other replicas
// after each change it commits. A send runs in the background, bounded by
// the nudger's timeout: an admin call never waits on Redis.
func newNudger(c *config.Config, repo *model.Repository, log *slog.Logger) (*nudge.Redis, error) {
	if !c.Repository.Nudge || c.Cache.RedisURL == "" {
		return nil, nil
	}
	n, err := nudge.New(nudge.Options{URL: c.Cache.RedisURL, Logger: log})
	if err != nil {
		return nil, err
	}
	repo.OnChange(func() { go func() { _ = n.Send(context.Background()) }() })
	return n, nil
}
