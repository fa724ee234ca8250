package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// benchEmail is a 600-character e-mail, the length of the README's
// performance figures.
var benchEmail = "Subject: Re: quarterly planning meeting\n\nHi all, thanks for the notes from yesterday. " +
	strings.Repeat("I went through the numbers again and the budget for the next quarter looks fine to me. ", 6)

// sideBySide runs a and b (each one request) in interleaved rounds of n/40
// calls, order alternating, and reports each one's ns/op and the median of
// the rounds' b/a time ratios.
func sideBySide(b *testing.B, nameA, nameB string, a, bb func()) {
	n := max(b.N, 400)
	const rounds = 40
	ratios := make([]float64, 0, rounds)
	var ta, tb time.Duration
	timeIt := func(f func()) time.Duration {
		t0 := time.Now()
		for range n / rounds {
			f()
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	for r := range rounds {
		var da, db time.Duration
		if r%2 == 0 {
			da, db = timeIt(a), timeIt(bb)
		} else {
			db, da = timeIt(bb), timeIt(a)
		}
		ta, tb = ta+da, tb+db
		ratios = append(ratios, float64(db)/float64(da))
	}
	b.StopTimer()
	slices.Sort(ratios)
	per := float64(rounds * (n / rounds))
	b.ReportMetric(float64(ta.Nanoseconds())/per, nameA+"_ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/per, nameB+"_ns/op")
	b.ReportMetric(ratios[len(ratios)/2], nameB+"/"+nameA)
}

// post sends body to h and fails the benchmark on anything but 200.
func post(b *testing.B, h http.Handler, path, body string) func() {
	return func() {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkExplainOverhead: one text through POST /predict on spam-v1
// (TF-IDF (1,2) + LR, no cache) with explain off and on ({"top_k": 10}),
// side by side in one run; explain_on/off is the time ratio. "fast": off
// is the plain request the fast decoder and encoder serve; "library": off
// is `"explain": false`, which takes huma's path as explain requests do, so
// the ratio is explain's own work.
func BenchmarkExplainOverhead(b *testing.B) {
	reg, id := benchRegistry(b)
	s, err := server.New(reg, server.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	on, _ := json.Marshal(map[string]any{"text": benchEmail, "model_version": id, "explain": map[string]int{"top_k": 10}})
	for _, tc := range []struct {
		name string
		off  map[string]any
	}{
		{"fast", map[string]any{"text": benchEmail, "model_version": id}},
		{"library", map[string]any{"text": benchEmail, "model_version": id, "explain": false}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			off, _ := json.Marshal(tc.off)
			sideBySide(b, "explain_off", "explain_on", post(b, s, "/predict", string(off)), post(b, s, "/predict", string(on)))
		})
	}
}

// BenchmarkOODOverhead: one text through POST /predict on spam-v1 whose
// manifest has its reference (an OOD score on every answer) and the same
// model without one, side by side in one run. "model": every request runs
// the model; "cached": every request is a memory-cache hit, where the
// score's share of the time is largest; "control": both without a reference,
// the measurement's own bias on a shared machine.
func BenchmarkOODOverhead(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "models", "spam", "v1", "model.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	man, _, err := model.ParseManifest(raw)
	if err != nil {
		b.Fatal(err)
	}
	reg, id := benchRegistry(b)
	m := reg.(*oneModel).m
	for _, tc := range []struct {
		name            string
		cached, control bool
	}{{"model", false, false}, {"cached", true, false}, {"control", true, true}} {
		cached := tc.cached
		b.Run(tc.name, func(b *testing.B) {
			mk := func(man *model.Manifest) http.Handler {
				opts := server.Options{Logger: quietLogger()}
				if cached {
					c, err := cache.New(cache.Config{MaxSize: 1000, TTL: time.Hour})
					if err != nil {
						b.Fatal(err)
					}
					opts.Cache = c
				}
				s, err := server.New(&oneModel{id: id, m: m, man: man}, opts)
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			body, _ := json.Marshal(map[string]any{"text": benchEmail, "model_version": id})
			offH, onH := mk(nil), mk(man)
			if tc.control {
				onH = mk(nil)
			}
			// The answer carries ood only where the manifest has a reference.
			for h, want := range map[http.Handler]bool{offH: false, onH: !tc.control} {
				w := httptest.NewRecorder()
				req := httptest.NewRequest("POST", "/predict", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(w, req)
				if strings.Contains(w.Body.String(), `"ood"`) != want {
					b.Fatalf("ood in the answer: %v, want %v: %s", !want, want, w.Body)
				}
			}
			sideBySide(b, "ood_off", "ood_on", post(b, offH, "/predict", string(body)), post(b, onH, "/predict", string(body)))
		})
	}
}
