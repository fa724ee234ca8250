package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

// TestShutdownUnderLoad sends SIGTERM to the real binary while 16 clients
// post batches of 100 fresh texts (cache misses, so every request reaches
// the engine). Every request written before the signal must be answered
// with 200 (none reset or cut short), requests after it may only be
// refused, and the process must exit 0.
func TestShutdownUnderLoad(t *testing.T) {
	p := startServer(t, copyModels(t))
	warm := time.Second
	if testing.Short() {
		warm = 500 * time.Millisecond
	}
	type outcome struct {
		wrote  time.Time // request fully written
		status int
		err    error
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		inflight atomic.Int64
		seq      atomic.Int64
	)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	stopAt := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stopAt:
					return
				default:
				}
				n := seq.Add(1)
				texts := make([]string, 100)
				for i := range texts {
					texts[i] = fmt.Sprintf("request %d text %d: not bad at all, I would buy it again", n, i)
				}
				body, _ := json.Marshal(api.BatchPredictRequest{Texts: texts})
				var o outcome
				// The transport may call WroteRequest from its own goroutine,
				// even after Do has returned: hand the time over atomically.
				var wrote atomic.Int64
				trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(time.Now().UnixNano()) }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
					http.MethodPost, p.url+"/batch-predict", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				inflight.Add(1)
				resp, err := c.Do(req)
				if err == nil {
					var r api.BatchPredictResponse
					err = json.NewDecoder(resp.Body).Decode(&r)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					o.status = resp.StatusCode
					if err == nil && resp.StatusCode == 200 && len(r.Predictions) != 100 {
						err = fmt.Errorf("%d predictions for 100 texts", len(r.Predictions))
					}
				}
				inflight.Add(-1)
				o.err = err
				if ns := wrote.Load(); ns != 0 {
					o.wrote = time.Unix(0, ns)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		})
	}
	time.Sleep(warm)
	atSignal := inflight.Load()
	sig := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, p.log)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("no exit 30 s after SIGTERM:\n%s", p.log)
	}
	exited := time.Now()
	close(stopAt)
	wg.Wait()

	var before, after, refused int
	for _, o := range outcomes {
		accepted := !o.wrote.IsZero() && o.wrote.Before(sig)
		switch {
		case accepted && (o.err != nil || o.status != 200):
			t.Errorf("request written %s before SIGTERM: status %d, err %v", sig.Sub(o.wrote), o.status, o.err)
		case accepted:
			before++
		case o.err != nil:
			refused++
		case o.status != 200:
			t.Errorf("request after SIGTERM answered %d", o.status)
		default:
			after++
		}
	}
	t.Logf("%d in flight at SIGTERM; %d answered before, %d after, %d refused after; exit %s after the signal",
		atSignal, before, after, refused, exited.Sub(sig).Round(time.Millisecond))
	if atSignal == 0 || before == 0 {
		t.Error("no request was in flight when SIGTERM came: the test proved nothing")
	}
}
