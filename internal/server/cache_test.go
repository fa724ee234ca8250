package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// engineTexts is the number of texts the real engine ran for model id.
func engineTexts(eng *inference.Engine, id string) uint64 {
	for _, q := range eng.Stats() {
		if q.Model == id {
			return q.Texts
		}
	}
	return 0
}

func newCachedServer(t *testing.T, reg server.Registry, opts server.Options) (*server.Server, *inference.Engine, *cache.Cache) {
	t.Helper()
	eng, err := inference.New(inference.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	c, err := cache.New(cache.Config{MaxSize: 100, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	opts.Engine, opts.Cache = eng, c
	return newServer(t, reg, opts), eng, c
}

// TestCachePredict: a repeated text is answered from the cache without the
// engine, per version, and the answers are the model's.
func TestCachePredict(t *testing.T) {
	s, eng, _ := newCachedServer(t, newFakeRegistry(), server.Options{})
	tests := []struct {
		name, body, model, label string
		cached                   bool
		ran                      uint64 // texts the engine has run for model after the call
	}{
		{"first", `{"text":"good film"}`, "sentiment-v2", "positive", false, 1},
		{"repeat", `{"text":"good film"}`, "sentiment-v2", "positive", true, 1},
		{"other text", `{"text":"bad film"}`, "sentiment-v2", "negative", false, 2},
		{"other version", `{"text":"good film","model_version":"sentiment-v1"}`, "sentiment-v1", "positive", false, 1},
		{"other version repeat", `{"text":"good film","model_version":"v1"}`, "sentiment-v1", "positive", true, 1},
		{"full id repeat", `{"text":"good film","model_version":"sentiment-v2"}`, "sentiment-v2", "positive", true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, s, call{method: "POST", path: "/predict", body: tc.body})
			if w.Code != 200 {
				t.Fatalf("%d: %s", w.Code, w.Body)
			}
			var r api.PredictResponse
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Label != tc.label || r.Cached != tc.cached || r.ModelVersion != tc.model {
				t.Errorf("got %+v, want label %s cached %v model %s", r, tc.label, tc.cached, tc.model)
			}
			if got := engineTexts(eng, tc.model); got != tc.ran {
				t.Errorf("engine ran %d texts for %s, want %d", got, tc.model, tc.ran)
			}
		})
	}
}

// TestCacheBatch: a batch sends only its misses to the engine, answers in
// request order, and marks each prediction's origin.
func TestCacheBatch(t *testing.T) {
	s, eng, _ := newCachedServer(t, newFakeRegistry(), server.Options{})
	batch := func(texts ...string) api.BatchPredictResponse {
		t.Helper()
		b, _ := json.Marshal(api.BatchPredictRequest{Texts: texts, ReturnProbabilities: true})
		w := do(t, s, call{method: "POST", path: "/batch-predict", body: string(b)})
		if w.Code != 200 {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		var r api.BatchPredictResponse
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := batch("good a", "bad b")
	if engineTexts(eng, "sentiment-v2") != 2 || first.Predictions[0].Cached || first.Predictions[1].Cached {
		t.Fatalf("first batch: %+v, engine texts %d", first, engineTexts(eng, "sentiment-v2"))
	}
	r := batch("bad c", "good a", "good d", "bad b")
	wantLabels := []string{"negative", "positive", "positive", "negative"}
	wantCached := []bool{false, true, false, true}
	for i, p := range r.Predictions {
		if p.Label != wantLabels[i] || p.Cached != wantCached[i] {
			t.Errorf("prediction %d = %+v, want %s cached %v", i, p, wantLabels[i], wantCached[i])
		}
		if p.Probabilities["positive"] == 0 {
			t.Errorf("prediction %d has no probabilities: %+v", i, p)
		}
	}
	if got := engineTexts(eng, "sentiment-v2"); got != 4 {
		t.Errorf("engine ran %d texts in all, want 4 (only the 2 misses of the second batch)", got)
	}
	if r := batch("good a", "bad b"); !r.Predictions[0].Cached || !r.Predictions[1].Cached {
		t.Errorf("all-hit batch: %+v", r)
	}
	if got := engineTexts(eng, "sentiment-v2"); got != 4 {
		t.Errorf("an all-hit batch reached the engine: %d texts", got)
	}
}

// TestCacheAdmin: DELETE /models/{id}/cache flushes one version; unloading a
// version flushes it and forgets its queue; /stats reports the tiers.
func TestCacheAdmin(t *testing.T) {
	reg := newFakeRegistry()
	s, eng, c := newCachedServer(t, reg, server.Options{AdminToken: "secret"})
	admin := map[string]string{"Authorization": "Bearer secret"}
	predict := func(model string) bool {
		t.Helper()
		w := do(t, s, call{method: "POST", path: "/predict", body: `{"text":"good","model_version":"` + model + `"}`})
		var r api.PredictResponse
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &r) != nil {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		return r.Cached
	}
	for _, m := range []string{"sentiment-v1", "sentiment-v2", "spam-v1"} {
		predict(m)
	}
	if w := do(t, s, call{method: "DELETE", path: "/models/sentiment-v2/cache"}); w.Code != 401 {
		t.Fatalf("flush without token: %d", w.Code)
	}
	if w := do(t, s, call{method: "DELETE", path: "/models/sentiment-v2/cache", header: admin}); w.Code != 204 {
		t.Fatalf("flush: %d %s", w.Code, w.Body)
	}
	if predict("sentiment-v2") {
		t.Error("sentiment-v2 still cached after its flush")
	}
	if !predict("sentiment-v1") {
		t.Error("flushing sentiment-v2 flushed sentiment-v1 too")
	}
	before := c.Stats().Memory.Entries
	if w := do(t, s, call{method: "DELETE", path: "/models/sentiment-v1", header: admin}); w.Code != 204 {
		t.Fatalf("unload: %d %s", w.Code, w.Body)
	}
	if got := c.Stats().Memory.Entries; got != before-1 {
		t.Errorf("entries %d after unloading sentiment-v1, want %d", got, before-1)
	}
	if slices.Contains(eng.QueueIDs(), "sentiment-v1") {
		t.Error("the engine still has a queue for the unloaded sentiment-v1")
	}

	// A version retired behind the server's back (the keep-N policy) is
	// released by the registry's events.
	reg.retire("spam-v1")
	if slices.Contains(eng.QueueIDs(), "spam-v1") {
		t.Error("the engine still has a queue for the retired spam-v1")
	}
	if got := c.Stats().Memory.Entries; got != before-2 {
		t.Errorf("entries %d after spam-v1 retired, want %d", got, before-2)
	}

	w := do(t, s, call{method: "GET", path: "/stats"})
	var st api.Stats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Cache == nil {
		t.Fatalf("stats %s (%v)", w.Body, err)
	}
	cs := c.Stats()
	if st.Cache.Memory.Hits != cs.Memory.Hits || st.Cache.Memory.Hits != 1 || st.Cache.Memory.Misses != cs.Memory.Misses || st.Cache.Redis != nil {
		t.Errorf("stats cache %+v, cache says %+v", st.Cache, cs)
	}
}

// TestTimeoutNeverMore: timeout_ms may shorten the server's deadline, never
// lengthen it; a queued or running request past it gets 504.
func TestTimeoutNeverMore(t *testing.T) {
	s, _, _ := newCachedServer(t, newFakeRegistry(), server.Options{RequestTimeout: 300 * time.Millisecond})
	tests := []struct {
		name, body string
		max        time.Duration
	}{
		{"longer than the default", `{"text":"slow","timeout_ms":60000}`, 2 * time.Second},
		{"shorter", `{"text":"slow","timeout_ms":10}`, 250 * time.Millisecond},
		{"default", `{"text":"slow"}`, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			w := do(t, s, call{method: "POST", path: "/predict", body: tc.body})
			el := time.Since(start)
			if w.Code != 504 || el > tc.max {
				t.Fatalf("%d after %s (max %s): %s", w.Code, el, tc.max, w.Body)
			}
			if p := problemOf(t, w); !strings.Contains(p.Detail, "timed out") {
				t.Errorf("detail %q", p.Detail)
			}
		})
	}
}

// cleanedRegistry hands out its models wrapped in a lowercasing cleaner, as
// the real registry does for a manifest with `preprocessing: [lowercase]`.
type cleanedRegistry struct{ *fakeRegistry }

type lower struct{}

func (lower) Clean(s string) string { return strings.ToLower(s) }

func (r cleanedRegistry) Resolve(ref string) (*model.Handle, error) {
	l, err := r.fakeRegistry.Resolve(ref)
	if err == nil {
		l.Model = model.WithCleaner(l.Model, lower{})
	}
	return l, err
}

// TestCacheKeysCleanedText: texts that the model's preprocessing makes equal
// share one cache entry, and the model sees the cleaned text.
func TestCacheKeysCleanedText(t *testing.T) {
	s, eng, _ := newCachedServer(t, cleanedRegistry{newFakeRegistry()}, server.Options{})
	for i, tc := range []struct {
		body   string
		cached bool
	}{
		{`{"text":"GOOD film"}`, false}, // "good" is only found once lowercased
		{`{"text":"good FILM"}`, true},
		{`{"text":"Good Film"}`, true},
	} {
		w := do(t, s, call{method: "POST", path: "/predict", body: tc.body})
		var r api.PredictResponse
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || w.Code != 200 {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		if r.Label != "positive" || r.Cached != tc.cached {
			t.Errorf("request %d: got %+v, want positive, cached %v", i, r, tc.cached)
		}
	}
	if got := engineTexts(eng, "sentiment-v2"); got != 1 {
		t.Errorf("engine ran %d texts, want 1", got)
	}
}
