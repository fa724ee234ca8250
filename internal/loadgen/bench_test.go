package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAppendBody is the per-request body building: it should not
// allocate.
func BenchmarkAppendBody(b *testing.B) {
	for _, batch := range []int{0, 100} {
		b.Run(map[int]string{0: "predict", 100: "batch100"}[batch], func(b *testing.B) {
			g, err := newGen(Config{URL: "http://x", Model: "spam-v1", Batch: batch, RepeatRatio: 0.3, Concurrency: 1, Requests: 1})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, 0, 1<<18)
			b.ReportAllocs()
			for b.Loop() {
				buf = g.appendBody(buf[:0], rng)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkWorkerDo is one request through the generator's HTTP path. The
// server is a bare TCP loop that answers every request with the same bytes
// and allocates nothing per request, so the allocations reported are the
// generator's own (with net/http's client).
func BenchmarkWorkerDo(b *testing.B) {
	url := rawServer(b, `{"label":"ham","confidence":0.9,"latency_ms":0.123,"model_version":"spam-v1","request_id":"1","cached":false}`)
	g, err := newGen(Config{URL: url, Model: "spam-v1", Concurrency: 1, Requests: 1, Client: NewHTTPClient(1)})
	if err != nil {
		b.Fatal(err)
	}
	w := newWorker(g, 1)
	ctx := context.Background()
	w.do(ctx, time.Now()) // connect
	b.ReportAllocs()
	for b.Loop() {
		w.do(ctx, time.Now())
	}
	if w.ok != int64(b.N)+1 {
		b.Fatalf("%d ok of %d: %v %s", w.ok, b.N, w.errs, w.firstErr)
	}
}

// rawServer answers HTTP/1.1 requests on one keep-alive connection at a
// time with a fixed 200 response, reading each request's header and
// Content-Length body into reused buffers.
func rawServer(b *testing.B, body string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReaderSize(c, 64<<10)
				skip := make([]byte, 64<<10)
				for {
					n := 0
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						if k := len("content-length:"); len(line) > k && bytes.EqualFold(line[:k], []byte("content-length:")) {
							n = 0
							for _, d := range bytes.TrimSpace(line[k:]) {
								n = n*10 + int(d-'0')
							}
						}
					}
					if _, err := io.ReadFull(r, skip[:n]); err != nil {
						return
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func BenchmarkServerLatency(b *testing.B) {
	body := []byte(`{"label":"ham","confidence":0.9,"latency_ms":0.123,"model_version":"spam-v1","request_id":"1","cached":false}`)
	b.ReportAllocs()
	for b.Loop() {
		serverLatency(body)
	}
}
