package payloadlog

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/config"
)

// BenchmarkLogSinkHung is what a prediction pays to the payload log when
// the sink hangs: Sample and Log on a full queue (a drop, counted).
func BenchmarkLogSinkHung(b *testing.B) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // read: net/http then sees the client leave
		<-r.Context().Done()
	}))
	defer hung.Close()
	c := testConfig(hung.URL)
	c.QueueSize, c.Timeout = 16, config.Duration(2*time.Second)
	l, err := New(c, nil, nil, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = l.Close(ctx)
		l.sink.(*HTTPSink).client.CloseIdleConnections()
	}()
	rec := record(1)
	for range 1000 { // fill the queue behind the hung POST
		l.Log(rec)
	}
	b.ReportAllocs()
	for b.Loop() {
		if l.Sample("spam") {
			l.Log(rec)
		}
	}
}

// BenchmarkLogLive is the same with a sink that answers at once: a record
// is queued when there is room (the sending is the background
// goroutine's); at this loop's rate the queue is full most of the time, so
// the figure mixes queued records and drops.
func BenchmarkLogLive(b *testing.B) {
	sink := httptest.NewServer(&sink{})
	defer sink.Close()
	l, err := New(testConfig(sink.URL), nil, nil, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	rec := record(1)
	b.ReportAllocs()
	for b.Loop() {
		if l.Sample("spam") {
			l.Log(rec)
		}
	}
}
