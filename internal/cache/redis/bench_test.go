package redis

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
)

// linearModel stands in for a TF-IDF + logistic regression pipeline with a
// realistic cost: it lowercases and tokenizes each text, hashes its terms
// into 2^18 features, L2-normalises the counts and applies a two-class
// linear model.
type linearModel struct{ w []float64 }

func newLinearModel() *linearModel {
	w := make([]float64, 1<<18)
	for i := range w {
		w[i] = math.Sin(float64(i)) / 10
	}
	return &linearModel{w: w}
}

func (m *linearModel) Predict(ctx context.Context, texts []string) ([]model.Prediction, error) {
	out := make([]model.Prediction, len(texts))
	for i, t := range texts {
		counts := map[uint32]float64{}
		for _, tok := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
			if len(tok) < 2 {
				continue
			}
			h := fnv.New32a()
			h.Write([]byte(tok))
			counts[h.Sum32()&(1<<18-1)]++
		}
		var norm, d float64
		for _, c := range counts {
			norm += c * c
		}
		norm = math.Sqrt(norm)
		for f, c := range counts {
			d += m.w[f] * c / norm
		}
		p := 1 / (1 + math.Exp(-d))
		label, idx, conf := "ham", 0, 1-p
		if p > 0.5 {
			label, idx, conf = "spam", 1, p
		}
		out[i] = model.Prediction{Label: label, Index: idx, Confidence: conf, Probabilities: []float64{1 - p, p}}
	}
	return out, nil
}

func (m *linearModel) Labels() []string { return []string{"ham", "spam"} }
func (m *linearModel) Info() model.Info { return model.Info{Framework: "test"} }
func (m *linearModel) Close() error     { return nil }

// predict is the server's /predict path: cache lookup, engine on a miss,
// cache store.
func predict(ctx context.Context, c *cache.Cache, e *inference.Engine, m model.Model, version, text string) (model.Prediction, error) {
	k := cache.NewKey("spam-v1", version, text)
	if p, ok := c.Get(ctx, k); ok {
		return p, nil
	}
	ps, err := e.Predict(ctx, "spam-v1", m, []string{text})
	if err != nil {
		return model.Prediction{}, err
	}
	c.SetMany(ctx, []cache.Key{k}, ps)
	return ps[0], nil
}

// BenchmarkPredict measures a 2,000-character text through cache and engine:
// a hit (the text repeats) against a miss (a fresh key every time, same
// text), with the memory cache alone and with Redis behind it; remote-hit is
// a replica whose memory is cold but whose Redis has the entry.
//
//	go test -run '^$' -bench Predict ./internal/cache/redis
func BenchmarkPredict(b *testing.B) {
	srv := redistest.Start(b)
	text := strings.Repeat("Win a FREE cruise now, reply to claim your prize. ", 40)[:2000]
	m := newLinearModel()
	ctx := context.Background()
	for _, tier := range []string{"memory", "memory+redis"} {
		for _, mode := range []string{"hit", "miss", "remote-hit"} {
			if tier == "memory" && mode == "remote-hit" {
				continue
			}
			b.Run(tier+"/"+mode, func(b *testing.B) {
				e, err := inference.New(inference.Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close(ctx)
				var remote cache.Tier
				if tier != "memory" {
					s, err := New(Options{URL: srv.URL()})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					remote = s
				}
				c, _ := cache.New(cache.Config{MaxSize: 10000, TTL: time.Minute, Remote: remote})
				if mode == "remote-hit" {
					// Store under many versions, then use a cold memory tier.
					for i := range 10000 {
						c.SetMany(ctx, []cache.Key{cache.NewKey("spam-v1", fmt.Sprint(i), text)}, []model.Prediction{{Label: "spam"}})
					}
					// A one-entry memory tier: each promotion evicts the last.
					c, _ = cache.New(cache.Config{MaxSize: 1, TTL: time.Minute, Remote: remote})
				}
				b.ResetTimer()
				i := 0
				for b.Loop() {
					version := "v1"
					if mode != "hit" {
						version = fmt.Sprint(i % 10000)
						if mode == "miss" {
							version = fmt.Sprint("miss-", i)
						}
					}
					i++
					if _, err := predict(ctx, c, e, m, version, text); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				s := c.Stats()
				b.ReportMetric(float64(s.Memory.Hits)/float64(s.Memory.Hits+s.Memory.Misses), "memhit/op")
			})
		}
	}
}

// BenchmarkNewKey measures hashing a 2,000-character text into a key.
func BenchmarkNewKey(b *testing.B) {
	text := strings.Repeat("x", 2000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		_ = cache.NewKey("spam-v1", "v1", text)
	}
}
