package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
)

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
	var span trace.Span
	lctx := ctx
	if s.opts.Tracer != nil {
		lctx, span = s.startCacheSpan(ctx, "cache.lookup", len(keys))
	}
	preds, found, n := c.GetMany(lctx, keys)
	if span != nil {
		endCacheLookup(ctx, span, n.MemoryHits+n.RemoteHits, len(keys))
	}
	s.bookCache(id, len(keys), n)
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
	if s.opts.Tracer != nil {
		sctx, span := s.startCacheSpan(ctx, "cache.store", len(missKeys))
		c.SetMany(sctx, missKeys, got)
		span.End()
	} else {
		c.SetMany(ctx, missKeys, got)
	}
	return preds, found, nil
}

// flushCache deletes version id's cached predictions.
func (s *Server) flushCache(ctx context.Context, id string) error {
	if s.opts.Cache == nil {
		return nil
	}
	return s.opts.Cache.FlushModel(ctx, id)
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
