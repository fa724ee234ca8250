package e2e

import (
	"context"
	"fmt"
	"github.com/mlserve/mlserve/internal/rawhttp"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

// TestSlowBodyClientsAreCut is the slowloris case against the real binary:
// 50 connections announce a 1 MiB /predict body and send one byte every
// 500 ms. With http.read_timeout 2s the server closes every one of them
// within the timeout and some slack, and a normal client's /predict keeps
// answering 200 throughout.
func TestSlowBodyClientsAreCut(t *testing.T) {
	const (
		conns       = 50
		readTimeout = 2 * time.Second
		slack       = 3 * time.Second
	)
	p := startServerWith(t, copyModels(t), "http:\n  read_header_timeout: 1s\n  read_timeout: 2s\n")
	start := time.Now()
	closedAt := make([]time.Duration, conns)
	var wg sync.WaitGroup
	for i := range conns {
		c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := fmt.Sprintf("POST /predict HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", p.addr, 1<<20)
		if _, err := c.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		// Hard stop for the test: nothing here outlives 10 s.
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		closed := make(chan struct{})
		wg.Go(func() { // reader: until the server closes the connection
			defer close(closed)
			_, _ = io.Copy(io.Discard, c)
			closedAt[i] = time.Since(start)
		})
		wg.Go(func() { // writer: one byte every 500 ms
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-closed:
					return
				case <-tick.C:
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		})
	}
	// A normal client meanwhile.
	var failures []string
	for time.Since(start) < readTimeout+time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := p.client.Predict(ctx, &api.PredictRequest{Text: "a fine product"})
		cancel()
		if err != nil {
			failures = append(failures, err.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d normal predictions failed during the slow clients, first: %s", len(failures), failures[0])
	}
	for i, d := range closedAt {
		if d == 0 || d > readTimeout+slack {
			t.Errorf("connection %d closed after %v, want within %v", i, d, readTimeout+slack)
		}
	}
}

// TestOversizedBodyReads413 against the real binary: a client that writes
// a 4 MiB body over a 1 MiB limit before reading gets the 413 problem (not
// "connection reset by peer") on /predict, /batch-predict and POST /models.
func TestOversizedBodyReads413(t *testing.T) {
	p := startServerWith(t, copyModels(t), "limits:\n  max_body_bytes: 1048576\n  max_upload_bytes: 1048576\n")
	for _, tt := range []struct{ path, ct string }{
		{"/predict", "application/json"},
		{"/batch-predict", "application/json"},
		{"/models", "multipart/form-data; boundary=xyz"},
	} {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			code, body, err := rawhttp.WriteWholeBody(p.addr, tt.path, tt.ct, 4<<20, 15*time.Second)
			if err != nil {
				t.Fatalf("client saw %v, want the 413", err)
			}
			if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than the limit") {
				t.Errorf("%d %s", code, body)
			}
		})
	}
	// The server still answers.
	if _, err := p.client.Predict(context.Background(), &api.PredictRequest{Text: "fine"}); err != nil {
		t.Error(err)
	}
}
