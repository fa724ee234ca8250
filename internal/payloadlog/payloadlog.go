package payloadlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/config"
)

// CloudEvents types of the two events of a prediction.
const (
	TypeRequest  = "org.mlserve.inference.request"
	TypeResponse = "org.mlserve.inference.response"
)

// Record is one prediction as the server hands it over. Its slices are not
// modified afterwards (the server's answers are immutable once made).
type Record struct {
	// ID is the event id: the request id, "/<index>" appended in a batch.
	ID string
	// RequestID is the request's id (X-Request-ID).
	RequestID string
	// Model is the version id that answered ("spam-v1").
	Model string
	// Endpoint is the door the request came through ("/predict").
	Endpoint string
	// Text is the input text as sent.
	Text string
	// Label, Confidence and Probabilities (in Labels' order) are the answer.
	Label         string
	Confidence    float64
	Labels        []string
	Probabilities []float64
	// Cached says the cache answered.
	Cached bool
	// Latency is the time from the request's arrival to the answer.
	Latency time.Duration
	// TraceParent is the request span's W3C traceparent ("" untraced);
	// TraceID its trace id.
	TraceParent, TraceID string
	// Time is when the answer was made.
	Time time.Time
}

// Event is a CloudEvent 1.0 in its JSON form.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	// TraceParent is the distributed tracing extension's attribute.
	TraceParent string `json:"traceparent,omitempty"`
	// Data is RequestData or ResponseData.
	Data any `json:"data"`
}

// RequestData is the data of an org.mlserve.inference.request event.
type RequestData struct {
	// Text is the input (at most max_text_chars characters) with text: text;
	// TextSHA256 its hash (of the whole text) with text: hash.
	Text       string `json:"text,omitempty"`
	TextSHA256 string `json:"text_sha256,omitempty"`
	// Truncated says Text was cut to max_text_chars.
	Truncated bool   `json:"truncated,omitempty"`
	TextChars int    `json:"text_chars"`
	Model     string `json:"model"`
	Endpoint  string `json:"endpoint,omitempty"`
	RequestID string `json:"request_id"`
	TraceID   string `json:"trace_id,omitempty"`
}

// ResponseData is the data of an org.mlserve.inference.response event.
type ResponseData struct {
	Label         string             `json:"label"`
	Confidence    float64            `json:"confidence"`
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
	Cached        bool               `json:"cached"`
	LatencyMS     float64            `json:"latency_ms"`
	Model         string             `json:"model"`
	RequestID     string             `json:"request_id"`
	TraceID       string             `json:"trace_id,omitempty"`
}

// Sink receives batches of events.
type Sink interface {
	// Send delivers events, within ctx.
	Send(ctx context.Context, events []Event) error
	// Close releases the sink.
	Close() error
}

// Logger samples, queues and ships predictions. Its methods are safe for
// concurrent use; a nil *Logger logs nothing.
type Logger struct {
	cfg   config.Payloads
	rates map[string]float64 // nil: every model at cfg.SampleRate
	sink  Sink
	log   *slog.Logger
	q     chan Record

	sent, dropped, failed prometheus.Counter

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
	// abort ends the send in flight and fails what is left: Close's
	// deadline passed, so no send may outlive it.
	abort  context.Context
	cancel context.CancelFunc
}

// New returns a running logger for c (which must be enabled and valid),
// shipping to sink, or to the sink c names when sink is nil. Its counters
// are registered with reg when not nil.
func New(c config.Payloads, sink Sink, reg prometheus.Registerer, log *slog.Logger) (*Logger, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rates, err := c.ModelRates()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if sink == nil {
		switch {
		case c.SinkURL != "":
			u, err := url.Parse(c.SinkURL)
			if err != nil {
				return nil, fmt.Errorf("payload log: %w", err)
			}
			sink = NewHTTPSink(u.String(), c.Mode == "binary", time.Duration(c.Timeout))
		case c.File != "":
			if sink, err = NewFileSink(c.File, c.MaxFileBytes, c.MaxFiles); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("payload log: no sink_url and no file")
		}
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mlserve_payload_events_total",
		Help: "Payload log events by outcome: sent, dropped (queue full) or failed (the sink refused or timed out).",
	}, []string{"outcome"})
	if reg != nil {
		if err := reg.Register(events); err != nil {
			return nil, fmt.Errorf("payload log metrics: %w", err)
		}
	}
	l := &Logger{cfg: c, rates: rates, sink: sink, log: log.With("component", "payloadlog"),
		q: make(chan Record, c.QueueSize), stop: make(chan struct{}), done: make(chan struct{}),
		sent: events.WithLabelValues("sent"), dropped: events.WithLabelValues("dropped"),
		failed: events.WithLabelValues("failed")}
	l.abort, l.cancel = context.WithCancel(context.Background())
	go l.loop()
	return l, nil
}

// Sample decides whether a prediction of the named model (not the id) is
// logged.
func (l *Logger) Sample(name string) bool {
	r := l.cfg.SampleRate
	if l.rates != nil {
		var ok bool
		if r, ok = l.rates[name]; !ok {
			return false
		}
	}
	return r >= 1 || (r > 0 && rand.Float64() < r)
}

// Log enqueues rec without waiting: when the queue is full the record is
// dropped and counted. It reports whether rec was queued.
func (l *Logger) Log(rec Record) bool {
	select {
	case l.q <- rec:
		return true
	default:
		l.dropped.Add(2) // its two events
		return false
	}
}

// Close sends what is queued, within ctx, and closes the sink. When ctx
// ends first, the send in flight is cancelled and what is left is counted
// as failed: Close returns ctx's error with the logger's goroutine gone, so
// a hung sink cannot hold shutdown beyond ctx.
func (l *Logger) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { close(l.stop) })
	var err error
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancel()
		<-l.done
		err = fmt.Errorf("payload log: flushing: %w", ctx.Err())
	}
	l.cancel()
	return errors.Join(err, l.sink.Close())
}

// loop drains the queue into batches of at most BatchSize events, sending
// a batch when it is full or FlushInterval after its first event.
func (l *Logger) loop() {
	defer close(l.done)
	max := l.cfg.BatchSize
	batch := make([]Event, 0, max)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := l.abort.Err()
		if err == nil {
			ctx, cancel := context.WithTimeout(l.abort, time.Duration(l.cfg.Timeout))
			err = l.sink.Send(ctx, batch)
			cancel()
		}
		if err != nil {
			l.failed.Add(float64(len(batch)))
			l.log.Warn("payload log: sink failed; events dropped", "events", len(batch), "err", err)
		} else {
			l.sent.Add(float64(len(batch)))
		}
		batch = make([]Event, 0, max)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	add := func(rec Record) {
		if len(batch) == 0 {
			timer.Reset(time.Duration(l.cfg.FlushInterval))
		}
		req, resp := l.events(rec)
		batch = append(batch, req)
		if len(batch) >= max {
			flush()
		}
		batch = append(batch, resp)
		if len(batch) >= max {
			flush()
		}
	}
	for {
		select {
		case rec := <-l.q:
			add(rec)
		case <-timer.C:
			flush()
		case <-l.stop:
			for {
				select {
				case rec := <-l.q:
					add(rec)
				default:
					flush()
					return
				}
			}
		}
	}
}

// events turns rec into its request and response events.
func (l *Logger) events(rec Record) (Event, Event) {
	rd := RequestData{Model: rec.Model, Endpoint: rec.Endpoint, RequestID: rec.RequestID, TraceID: rec.TraceID,
		TextChars: utf8.RuneCountInString(rec.Text)}
	switch l.cfg.Text {
	case "text":
		rd.Text, rd.Truncated = truncate(rec.Text, l.cfg.MaxTextChars)
	case "hash":
		h := sha256.Sum256([]byte(rec.Text))
		rd.TextSHA256 = hex.EncodeToString(h[:])
	}
	resp := ResponseData{Label: rec.Label, Confidence: rec.Confidence, Cached: rec.Cached,
		LatencyMS: float64(rec.Latency.Microseconds()) / 1000, Model: rec.Model, RequestID: rec.RequestID, TraceID: rec.TraceID}
	if len(rec.Probabilities) > 0 && len(rec.Probabilities) == len(rec.Labels) {
		resp.Probabilities = make(map[string]float64, len(rec.Labels))
		for i, lab := range rec.Labels {
			resp.Probabilities[lab] = rec.Probabilities[i]
		}
	}
	ev := func(typ string, data any) Event {
		return Event{SpecVersion: "1.0", ID: rec.ID, Source: "mlserve/" + rec.Model, Type: typ, Time: rec.Time.UTC(),
			DataContentType: "application/json", TraceParent: rec.TraceParent, Data: data}
	}
	return ev(TypeRequest, rd), ev(TypeResponse, resp)
}

// truncate cuts s to at most n characters (code points).
func truncate(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j], true
		}
		i++
	}
	return s, false
}
