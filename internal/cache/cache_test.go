package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/model"
)

func TestNewKey(t *testing.T) {
	base := NewKey("spam-v1", "v1", "hello")
	for _, tc := range []struct {
		name string
		k    Key
		same bool
	}{
		{"same inputs", NewKey("spam-v1", "v1", "hello"), true},
		{"other version", NewKey("spam-v1", "v2", "hello"), false},
		{"other model", NewKey("spam-v2", "v1", "hello"), false},
		{"other text", NewKey("spam-v1", "v1", "hello!"), false},
		{"shifted boundary", NewKey("spam-v", "1v1", "hello"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.k == base) != tc.same {
				t.Errorf("key equality = %v, want %v", tc.k == base, tc.same)
			}
		})
	}
	if len(base.Hex()) != 64 {
		t.Errorf("Hex() = %q", base.Hex())
	}
}

func TestNewRejectsBadLimits(t *testing.T) {
	for _, cfg := range []Config{{MaxSize: 0}, {MaxSize: 1, TTL: -time.Second}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func pred(label string) model.Prediction {
	return model.Prediction{Label: label, Index: 1, Confidence: 0.75, Probabilities: []float64{0.25, 0.75}}
}

func TestMemoryTier(t *testing.T) {
	ctx := context.Background()
	c, err := New(Config{MaxSize: 3, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	keys := []Key{NewKey("a-v1", "v1", "x"), NewKey("a-v1", "v1", "y"), NewKey("b-v1", "v1", "x")}
	in := []model.Prediction{pred("x"), pred("y"), pred("bx")}
	c.SetMany(ctx, keys, in)
	in[0].Probabilities[0] = 99 // the cache holds its own copy
	got, found, n := c.GetMany(ctx, append(keys, NewKey("a-v1", "v1", "z")))
	if !reflect.DeepEqual(found, []bool{true, true, true, false}) {
		t.Fatalf("found = %v", found)
	}
	if n != (Lookup{MemoryHits: 3}) {
		t.Errorf("lookup %+v, want 3 memory hits and no second tier", n)
	}
	if !reflect.DeepEqual(got[0], pred("x")) || got[2].Label != "bx" {
		t.Errorf("got %+v", got)
	}
	if s := c.Stats(); s.Memory.Hits != 3 || s.Memory.Misses != 1 || s.Memory.Entries != 3 || s.Remote != nil {
		t.Errorf("stats %+v", s)
	}
	if err := c.FlushModel(ctx, "a-v1"); err != nil {
		t.Fatal(err)
	}
	_, found, _ = c.GetMany(ctx, keys)
	if !reflect.DeepEqual(found, []bool{false, false, true}) {
		t.Errorf("after FlushModel(a-v1) found = %v, want only b-v1's entry", found)
	}
	// Bounded: a fourth entry evicts the least recently used.
	more := []Key{NewKey("c", "", "1"), NewKey("c", "", "2"), NewKey("c", "", "3")}
	c.SetMany(ctx, more, []model.Prediction{pred("1"), pred("2"), pred("3")})
	if n := c.Stats().Memory.Entries; n != 3 {
		t.Errorf("%d entries, max size 3", n)
	}
}

func TestMemoryTTL(t *testing.T) {
	ctx := context.Background()
	c, _ := New(Config{MaxSize: 10, TTL: 50 * time.Millisecond})
	k := NewKey("m", "v1", "t")
	c.SetMany(ctx, []Key{k}, []model.Prediction{pred("t")})
	if _, ok := c.Get(ctx, k); !ok {
		t.Fatal("fresh entry missing")
	}
	time.Sleep(120 * time.Millisecond)
	if _, ok := c.Get(ctx, k); ok {
		t.Error("entry outlived its TTL")
	}
}

// mapTier is a second tier in a map, to test the tiering rules without a
// network; the Redis tier is tested against a real server in its package.
type mapTier struct {
	m     map[Key]model.Prediction
	fail  bool
	calls int
}

func (t *mapTier) GetMany(_ context.Context, keys []Key) ([]model.Prediction, []bool, error) {
	t.calls++
	if t.fail {
		return nil, nil, errors.New("down")
	}
	p, f := make([]model.Prediction, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		p[i], f[i] = t.m[k]
	}
	return p, f, nil
}

func (t *mapTier) SetMany(_ context.Context, keys []Key, preds []model.Prediction, _ time.Duration) error {
	t.calls++
	if t.fail {
		return errors.New("down")
	}
	for i, k := range keys {
		t.m[k] = preds[i]
	}
	return nil
}

func (t *mapTier) FlushModel(_ context.Context, id string) error {
	for k := range t.m {
		if k.Model == id {
			delete(t.m, k)
		}
	}
	return nil
}

func (t *mapTier) InFallback() bool { return t.fail }

func TestTiers(t *testing.T) {
	ctx := context.Background()
	remote := &mapTier{m: map[Key]model.Prediction{}}
	k1, k2 := NewKey("m", "v1", "1"), NewKey("m", "v1", "2")
	remote.m[k2] = pred("from-remote")
	c, _ := New(Config{MaxSize: 10, Remote: remote})
	c.SetMany(ctx, []Key{k1}, []model.Prediction{pred("1")})
	if _, ok := remote.m[k1]; !ok {
		t.Error("SetMany did not reach the second tier")
	}
	remote.calls = 0
	got, found, n := c.GetMany(ctx, []Key{k1, k2, NewKey("m", "v1", "nowhere")})
	if !found[0] || !found[1] || found[2] || got[1].Label != "from-remote" || remote.calls != 1 {
		t.Fatalf("found %v, got %+v, remote calls %d (want one call for the two misses)", found, got, remote.calls)
	}
	if n != (Lookup{MemoryHits: 1, RemoteHits: 1, RemoteMisses: 1}) {
		t.Errorf("lookup %+v, want 1 memory hit, 1 second-tier hit and 1 miss", n)
	}
	remote.calls = 0
	if _, ok := c.Get(ctx, k2); !ok || remote.calls != 0 {
		t.Errorf("a promoted entry went to the second tier again (%d calls)", remote.calls)
	}
	s := c.Stats()
	if s.Remote == nil || s.Remote.Hits != 1 || s.Remote.Misses != 1 || s.Memory.Hits != 2 {
		t.Errorf("stats %+v / %+v", s, s.Remote)
	}
	// A failing second tier is a miss, never an error.
	remote.fail = true
	k3 := NewKey("m", "v1", "3")
	if _, found, n := c.GetMany(ctx, []Key{k3}); found[0] || n != (Lookup{RemoteMisses: 1}) {
		t.Errorf("from a failing tier: found %v, lookup %+v (want one miss)", found, n)
	}
	c.SetMany(ctx, []Key{k3}, []model.Prediction{pred("3")})
	if _, ok := c.Get(ctx, k3); !ok {
		t.Error("memory tier did not keep the entry while the second tier failed")
	}
	if s := c.Stats(); !s.RemoteFallback || s.Remote.Errors != 2 {
		t.Errorf("stats while failing: %+v %+v", s, s.Remote)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, p := range []model.Prediction{
		{},
		pred("spam"),
		{Label: "ünïcode", Index: -1, Confidence: math.Inf(1), Decision: []float64{-3.5}},
		{Label: strings.Repeat("x", 300), Probabilities: []float64{}, Decision: []float64{1, 2, 3}},
	} {
		t.Run(fmt.Sprintf("%.10s", p.Label), func(t *testing.T) {
			got, err := Decode(Encode(p))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Errorf("round trip: got %+v, want %+v", got, p)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(pred("spam"))
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-3]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"huge label", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"huge score count", append(Encode(model.Prediction{})[:11], 0xff, 0xff, 0xff, 0x7f)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(pred("spam")))
	f.Add(Encode(model.Prediction{Decision: []float64{1}}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes survives a round trip (its canonical encoding is stable;
		// bytes are compared so NaN scores count as equal).
		enc := Encode(p)
		p2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", enc, err)
		}
		if again := Encode(p2); string(again) != string(enc) {
			t.Errorf("round trip of %x changed it to %x", enc, again)
		}
	})
}
