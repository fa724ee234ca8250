package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/payloadlog"
	"github.com/mlserve/mlserve/internal/server"
)

// eventSink is an HTTP sink that keeps the batched CloudEvents it gets.
type eventSink struct {
	mu     sync.Mutex
	events []payloadlog.Event
	delay  time.Duration
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body) // first: a read body lets net/http see the client leave
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return
		}
	}
	var evs []payloadlog.Event
	if err := json.Unmarshal(b, &evs); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
}

func payloadLogger(t *testing.T, url string) *payloadlog.Logger {
	t.Helper()
	c := config.Default().Logging.Payloads
	c.Enabled, c.SinkURL, c.FlushInterval, c.Timeout = true, url, config.Duration(5*time.Millisecond), config.Duration(time.Second)
	l, err := payloadlog.New(c, nil, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPayloadLog: each prediction of /predict and /batch-predict reaches
// the sink once as a request/response pair carrying the text sent, the
// answer the client got and the request id.
func TestPayloadLog(t *testing.T) {
	sk := &eventSink{}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	l := payloadLogger(t, srv.URL)
	s := newServer(t, newFakeRegistry(), server.Options{Payloads: l})
	w1 := do(t, s, call{method: "POST", path: "/predict", body: `{"text": "a good day"}`, header: map[string]string{"X-Request-ID": "one"}})
	w2 := do(t, s, call{method: "POST", path: "/batch-predict", body: `{"texts": ["good", "bad"], "model_version": "spam-v1"}`,
		header: map[string]string{"X-Request-ID": "two"}})
	if w1.Code != 200 || w2.Code != 200 {
		t.Fatal(w1.Code, w1.Body, w2.Code, w2.Body)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	type pair struct{ req, resp map[string]any }
	got := map[string]*pair{}
	for _, e := range sk.events {
		b, _ := json.Marshal(e.Data)
		var d map[string]any
		_ = json.Unmarshal(b, &d)
		p := got[e.ID]
		if p == nil {
			p = &pair{}
			got[e.ID] = p
		}
		switch e.Type {
		case payloadlog.TypeRequest:
			if p.req != nil {
				t.Errorf("request event %s twice", e.ID)
			}
			p.req = d
		case payloadlog.TypeResponse:
			if p.resp != nil {
				t.Errorf("response event %s twice", e.ID)
			}
			p.resp = d
		}
	}
	want := map[string]struct{ text, label, model, rid string }{
		"one":   {"a good day", "positive", "sentiment-v2", "one"},
		"two/0": {"good", "positive", "spam-v1", "two"},
		"two/1": {"bad", "negative", "spam-v1", "two"},
	}
	if len(got) != len(want) {
		t.Errorf("events for %d predictions, want %d", len(got), len(want))
	}
	for id, w := range want {
		p := got[id]
		if p == nil || p.req == nil || p.resp == nil {
			t.Errorf("%s: missing events %+v", id, p)
			continue
		}
		if p.req["text"] != w.text || p.req["model"] != w.model || p.req["request_id"] != w.rid {
			t.Errorf("%s request %v", id, p.req)
		}
		if p.resp["label"] != w.label || p.resp["model"] != w.model || p.resp["latency_ms"] == nil {
			t.Errorf("%s response %v", id, p.resp)
		}
	}
}

// TestPayloadLogSinkDown: with the sink down or hanging, predictions are
// answered as without the log, and promptly.
func TestPayloadLogSinkDown(t *testing.T) {
	hanging := httptest.NewServer(&eventSink{delay: 10 * time.Second})
	defer hanging.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	downURL := closed.URL
	closed.Close()
	plain := newServer(t, newFakeRegistry(), server.Options{})
	for name, url := range map[string]string{"hanging": hanging.URL, "down": downURL} {
		t.Run(name, func(t *testing.T) {
			l := payloadLogger(t, url)
			defer func() {
				// Not waiting for the hanging sink's timeouts: the test is
				// about the predictions.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				defer cancel()
				_ = l.Close(ctx)
			}()
			s := newServer(t, newFakeRegistry(), server.Options{Payloads: l})
			start := time.Now()
			for _, body := range []string{`{"text": "good", "return_probabilities": true}`, `{"text": "bad"}`} {
				for range 50 {
					got := do(t, s, call{method: "POST", path: "/predict", body: body, header: map[string]string{"X-Request-ID": "x"}})
					want := do(t, plain, call{method: "POST", path: "/predict", body: body, header: map[string]string{"X-Request-ID": "x"}})
					if got.Code != want.Code || stripLatency(t, got.Body.Bytes()) != stripLatency(t, want.Body.Bytes()) {
						t.Fatalf("with the sink %s: %d %s, without: %d %s", name, got.Code, got.Body, want.Code, want.Body)
					}
				}
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("200 predictions took %s with the sink %s", el, name)
			}
		})
	}
}

// stripLatency is an answer without its latency_ms, the one field that
// differs between two servers.
func stripLatency(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err, string(b))
	}
	delete(m, "latency_ms")
	out, _ := json.Marshal(m)
	return string(out)
}
