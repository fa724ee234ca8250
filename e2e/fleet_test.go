package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
)

// TestFleetSharesThroughRedis runs three `mlserve serve` replicas on one
// repository and one real redis-server, as a load balancer would spread
// them. Replica A answers predictions, B takes their feedback, and C —
// which made none of them — shows the live accuracy B reported, in its
// drift answer, its /stats and its metric; drift and GET /stats?scope=fleet
// (and `mlserve stats --fleet`) count the predictions of all replicas.
// Then Redis is killed under load: no request fails, /stats says the
// replica is on its own, drift answers this replica's window, feedback on
// the predicting replica is accepted; Redis restarted, sharing resumes.
func TestFleetSharesThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	dir := copyModels(t)
	extra := fmt.Sprintf("cache:\n  enabled: true\n  max_size: 1000\n  redis_url: %s\n"+
		"monitoring:\n  enabled: true\n  fleet:\n    flush: 100ms\n    window: 5m\n", rs.URL())
	a := startServerWith(t, dir, extra)
	b := startServerWith(t, dir, extra)
	c := startServerWith(t, dir, extra)
	ctx := context.Background()

	const n = 40
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("Subject: offer %d\n\nClaim your FREE prize number %d now, click here!", i, i)
		if i%2 == 1 {
			texts[i] = fmt.Sprintf("Hi Sam, minutes of meeting %d attached; see you Tuesday at %d.", i, i)
		}
	}
	type made struct{ rid, label string }
	var preds []made
	for i, text := range texts {
		p := a
		if i%4 == 3 {
			p = b // some predictions on B too: the fleet window holds both
		}
		r, err := p.client.Predict(ctx, &api.PredictRequest{Text: text, ModelVersion: "spam-v1"})
		if err != nil {
			t.Fatal(err)
		}
		if p == a {
			preds = append(preds, made{r.RequestID, r.Label})
		}
	}
	if _, err := c.client.Predict(ctx, &api.PredictRequest{Text: "one of C's own", ModelVersion: "spam-v1"}); err != nil {
		t.Fatal(err)
	}

	// B takes the feedback of A's predictions; every third is wrong.
	right := 0
	var last api.FeedbackResponse
	for i, p := range preds {
		truth := p.label
		if i%3 == 0 {
			truth = map[string]string{"spam": "ham", "ham": "spam"}[p.label]
		} else {
			right++
		}
		var res *api.FeedbackResponse
		var err error
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if res, err = b.client.Feedback(ctx, p.rid, truth); err == nil || !isNotFound(err) || time.Now().After(end) {
				break
			}
		}
		if err != nil {
			t.Fatalf("feedback on B for A's prediction %s: %v\nA's log:\n%s", p.rid, err, a.log)
		}
		if res.ModelVersion != "spam-v1" || res.Predicted != p.label || res.Correct != (truth == p.label) {
			t.Fatalf("feedback %d: %+v", i, res)
		}
		last = *res
	}
	live := float64(right) / float64(len(preds))
	if math.Abs(last.LiveAccuracy-live) > 1e-9 {
		t.Errorf("B answered live accuracy %v, want %v", last.LiveAccuracy, live)
	}
	if _, err := a.client.Feedback(ctx, preds[1].rid, preds[1].label); !isNotFound(err) {
		t.Errorf("a second feedback, on the replica that predicted: %v, want 404", err)
	}

	// C, which made none of these predictions, shows B's figures.
	total := n + 1
	var d *api.DriftStatus
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if d, err = c.client.Drift(ctx, "spam-v1"); err != nil {
			t.Fatal(err)
		}
		if d.Samples == total || time.Now().After(end) {
			break
		}
	}
	if d.Scope != "fleet" || d.Samples != total || d.WindowMinutes != 5 {
		t.Errorf("C's drift: scope %q samples %d (want fleet, %d) window %d", d.Scope, d.Samples, total, d.WindowMinutes)
	}
	if d.Accuracy.Live == nil || math.Abs(*d.Accuracy.Live-live) > 1e-9 || d.Accuracy.Feedback != len(preds) {
		t.Errorf("C's live accuracy %v of %d, want %v of %d", d.Accuracy.Live, d.Accuracy.Feedback, live, len(preds))
	}
	st, err := c.client.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ms := st.Models["spam-v1"]; ms.LiveAccuracy == nil || math.Abs(*ms.LiveAccuracy-live) > 1e-9 || ms.Requests != 1 ||
		st.Scope != "replica" || st.Fleet == nil || st.Fleet.State != "shared" {
		t.Errorf("C's /stats: scope %q fleet %+v spam-v1 %+v, want its own 1 request and live accuracy %v", st.Scope, st.Fleet, ms, live)
	}
	gauge := regexp.MustCompile(`mlserve_live_accuracy\{model="spam",version="v1"\} (\S+)`)
	var g float64
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := gauge.FindStringSubmatch(scrape(t, c.metricsURL)); m != nil {
			g, _ = strconv.ParseFloat(m[1], 64)
		}
		if math.Abs(g-live) < 1e-9 || time.Now().After(end) {
			break
		}
	}
	if math.Abs(g-live) > 1e-9 {
		t.Errorf("C's mlserve_live_accuracy %v, want %v", g, live)
	}
	fs, err := c.client.FleetStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ms := fs.Models["spam-v1"]; fs.Scope != "fleet" || fs.Fleet == nil || fs.Fleet.Replicas != 3 || ms.Requests != int64(total) ||
		ms.Predictions["spam"]+ms.Predictions["ham"] != int64(total) || ms.LiveAccuracy == nil {
		t.Errorf("fleet stats: scope %q fleet %+v spam-v1 %+v, want 3 replicas and %d requests", fs.Scope, fs.Fleet, ms, total)
	}
	out, err := c.cli(t, "stats", "--fleet")
	if err != nil || !strings.Contains(out, "fleet: 3 replicas sharing Redis") || !strings.Contains(out, "spam-v1") {
		t.Errorf("mlserve stats --fleet (%v):\n%s", err, out)
	}

	// Redis killed under load: nothing fails, each replica on its own.
	loadCtx, stop := context.WithCancel(ctx)
	defer stop()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i, p := range []*proc{a, b, c, a} {
		wg.Go(func() {
			for j := i; loadCtx.Err() == nil; j++ {
				_, err := p.client.Predict(context.Background(), &api.PredictRequest{Text: texts[j%n] + " again", ModelVersion: "spam-v1"})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	rs.Kill()
	var down *api.Stats
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if down, err = a.client.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		if (down.Fleet != nil && down.Fleet.State == "down") || time.Now().After(end) {
			break
		}
	}
	if down.Fleet == nil || down.Fleet.State != "down" || down.Fleet.Detail == "" {
		t.Errorf("A's /stats with Redis killed: fleet %+v, want down with a reason", down.Fleet)
	}
	if d, err := a.client.Drift(ctx, "spam-v1"); err != nil || d.Scope != "replica" || d.ScopeDetail == "" {
		t.Errorf("A's drift with Redis killed: %v scope %q detail %q, want this replica's and why", err, d.Scope, d.ScopeDetail)
	}
	if fs, err := c.client.FleetStats(ctx); err != nil || fs.Scope != "replica" || fs.Fleet == nil || fs.Fleet.State != "down" {
		t.Errorf("fleet stats with Redis killed: %v %+v", err, fs)
	}
	r, err := a.client.Predict(ctx, &api.PredictRequest{Text: "Subject: WIN now", ModelVersion: "spam-v1"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.client.Feedback(ctx, r.RequestID, r.Label); err != nil || !res.Correct {
		t.Errorf("feedback on the predicting replica with Redis down: %+v %v", res, err)
	}
	time.Sleep(500 * time.Millisecond)
	okDown := ok.Load()

	rs.Restart()
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := a.client.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Fleet != nil && st.Fleet.State == "shared" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("A not sharing again 15 s after Redis restarted: %+v", st.Fleet)
		}
	}
	stop()
	wg.Wait()
	t.Logf("%d answers under load (%d before Redis came back), %d failed", ok.Load(), okDown, failed.Load())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d requests failed, first: %v", n, firstErr.Load())
	}
	if okDown < 20 {
		t.Errorf("only %d answers by the end of the outage", okDown)
	}
}

// isNotFound reports whether err is the API's 404.
func isNotFound(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// scrape returns a /metrics page.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
