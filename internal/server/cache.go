package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
)

// forgetter is implemented by engines that keep per-version state (the
// inference engine's queues) to be released when a version is unloaded.
type forgetter interface {
	Forget(id string)
}

// queueLister is implemented by engines that can list the versions they hold
// state for, so versions retired behind the server's back (the registry's
// keep-N policy, the repository poll) are released too.
type queueLister interface {
	QueueIDs() []string
}

// retired tracks the versions the server has seen serving, so that one
// leaving the registry has its queue and cache entries released once.
type retired struct {
	mu    sync.Mutex
	ready map[string]bool
}

// cacheKeys returns the cache key of each text for version id. The texts are
// already through the model's manifest preprocessing (classify cleans them),
// so raw texts that clean alike share an entry; the version is hashed in, so a
// swap never serves another version's answer.
func cacheKeys(id string, texts []string) []cache.Key {
	_, version, _ := model.SplitID(id)
	keys := make([]cache.Key, len(texts))
	for i, t := range texts {
		keys[i] = cache.NewKey(id, version, t)
	}
	return keys
}

// predictCached answers texts from the cache where it can and runs only the
// misses through run, storing their answers. cached[i] says text i was a hit.
func (s *Server) predictCached(ctx context.Context, id string, texts []string,
	run func(ctx context.Context, texts []string) ([]model.Prediction, error),
) (preds []model.Prediction, cached []bool, err error) {
	c := s.opts.Cache
	if c == nil {
		preds, err = run(ctx, texts)
		return preds, make([]bool, len(texts)), err
	}
	keys := cacheKeys(id, texts)
	var found []bool
	if s.mon != nil {
		rc := &remoteCount{}
		preds, found = c.GetMany(context.WithValue(ctx, remoteCountKey{}, rc), keys)
		s.bookCache(id, found, rc)
	} else {
		preds, found = c.GetMany(ctx, keys)
	}
	var missIdx []int
	for i, ok := range found {
		if !ok {
			missIdx = append(missIdx, i)
		}
	}
	if len(missIdx) == 0 {
		return preds, found, nil
	}
	missTexts := make([]string, len(missIdx))
	missKeys := make([]cache.Key, len(missIdx))
	for j, i := range missIdx {
		missTexts[j], missKeys[j] = texts[i], keys[i]
	}
	got, err := run(ctx, missTexts)
	if err != nil {
		return nil, nil, err
	}
	if len(got) != len(missTexts) {
		return nil, nil, fmt.Errorf("model %s returned %d predictions for %d texts", id, len(got), len(missTexts))
	}
	for j, i := range missIdx {
		preds[i] = got[j]
	}
	c.SetMany(ctx, missKeys, got)
	return preds, found, nil
}

// flushCache deletes version id's cached predictions.
func (s *Server) flushCache(ctx context.Context, id string) error {
	if s.opts.Cache == nil {
		return nil
	}
	return s.opts.Cache.FlushModel(ctx, id)
}

// released drops what the server and engine keep for a version that has left
// the registry: its engine queue, its cache entries and its monitoring.
func (s *Server) released(ctx context.Context, id string) {
	if f, ok := s.opts.Engine.(forgetter); ok {
		f.Forget(id)
	}
	if err := s.flushCache(ctx, id); err != nil {
		s.log.Warn("flushing an unloaded version's cache", "model", id, "err", err)
	}
	s.untrack(id)
}

// Reconcile compares the registry's serving versions with those seen before
// and releases the engine queue and cache entries of every version that is no
// longer ready (unloaded, or retired by the keep-N policy or a repository
// change). The registry has no unload callback, so the server calls this
// after each admin change and the serve command on a timer.
func (s *Server) Reconcile(ctx context.Context) {
	l, err := s.reg.List(ctx)
	if err != nil {
		return
	}
	now := make(map[string]bool, len(l.Models))
	for _, m := range l.Models {
		if m.Status == api.ModelStatus(model.StateReady) {
			now[m.ID] = true
		}
	}
	s.gone.mu.Lock()
	var gone []string
	for id := range s.gone.ready {
		if !now[id] {
			gone = append(gone, id)
		}
	}
	if ql, ok := s.opts.Engine.(queueLister); ok {
		for _, id := range ql.QueueIDs() {
			if !now[id] && !s.gone.ready[id] {
				gone = append(gone, id)
			}
		}
	}
	s.gone.ready = now
	s.gone.mu.Unlock()
	for _, id := range gone {
		s.log.Debug("releasing a version that left the registry", "model", id)
		s.released(ctx, id)
	}
	s.mon.Metrics().SetModelsLoaded(len(now))
}

// queueStatser is implemented by engines that describe their queues.
type queueStatser interface {
	Stats() []inference.QueueStats
}

// queueStats is the /stats view of the engine's queues.
func (s *Server) queueStats() map[string]api.QueueStats {
	e, ok := s.opts.Engine.(queueStatser)
	if !ok {
		return nil
	}
	out := map[string]api.QueueStats{}
	for _, q := range e.Stats() {
		out[q.Model] = api.QueueStats{Queued: q.Queued, Running: q.Running, Batches: q.Batches, Texts: q.Texts, Rejected: q.Rejected}
	}
	return out
}

// cacheStats is the /stats view of the cache.
func (s *Server) cacheStats() *api.CacheStats {
	if s.opts.Cache == nil {
		return nil
	}
	st := s.opts.Cache.Stats()
	out := &api.CacheStats{
		Memory:        api.CacheTierStats{Hits: st.Memory.Hits, Misses: st.Memory.Misses, Entries: st.Memory.Entries},
		RedisFallback: st.RemoteFallback,
	}
	if r := st.Remote; r != nil {
		out.Redis = &api.CacheTierStats{Hits: r.Hits, Misses: r.Misses, Errors: r.Errors}
	}
	return out
}

func (s *Server) registerCacheAdmin() {
	huma.Register(s.api, huma.Operation{
		OperationID: "flush-model-cache", Method: http.MethodDelete, Path: "/models/{id}/cache",
		Summary: "Flush a model version's cached predictions", Tags: []string{"admin"}, Security: adminSecurity,
		Description:   "Deletes the version's entries from the memory cache and from Redis.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{401, 403, 503},
	}, func(ctx context.Context, in *idPath) (*struct{}, error) {
		if s.opts.Cache == nil {
			return nil, nil
		}
		if err := s.flushCache(ctx, in.ID); err != nil {
			// Memory is flushed; Redis is not, and would answer again.
			return nil, huma.Error503ServiceUnavailable("the Redis cache could not be flushed: " + err.Error())
		}
		return nil, nil
	})
}
