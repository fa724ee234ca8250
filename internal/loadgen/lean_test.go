package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scriptServer answers each HTTP/1.1 request it reads with answer(i), i
// counting requests from 0 over all connections, and closes the
// connection after it when hangUp. It counts requests and connections.
type scriptServer struct {
	url      string
	requests atomic.Int64
	conns    atomic.Int64
}

func newScriptServer(t *testing.T, answer func(i int64) (out string, hangUp bool)) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{url: "http://" + ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					n := 0
					for {
						line, err := r.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
						if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length:"); ok {
							n, _ = strconv.Atoi(strings.TrimSpace(v))
						}
					}
					if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
						return
					}
					out, hangUp := answer(s.requests.Add(1) - 1)
					if _, err := io.WriteString(c, out); err != nil || hangUp {
						return
					}
				}
			}()
		}
	}()
	return s
}

const okBody = `{"label":"ham","confidence":0.9,"latency_ms":1.5,"cached":true}`

func okLength(extra string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra + "Content-Length: " + strconv.Itoa(len(okBody)) + "\r\n\r\n" + okBody
}

// chunk writes body in chunked encoding, pieces of at most size bytes.
func chunk(body string, size int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// TestLeanWire drives the lean client against servers that answer in each
// way HTTP/1.x allows, and in malformed ways: the well-formed ones count
// as answers with their status, the malformed ones as transport errors,
// none hangs past the request timeout.
func TestLeanWire(t *testing.T) {
	const n = 20
	tests := []struct {
		name   string
		answer func(i int64) (string, bool)
		wantOK int64
		// wantErrs are the errors by key; wantConns bounds the connections.
		wantErrs  map[string]int64
		wantConns int64
		firstErr  string
	}{
		{"content-length, keep-alive", func(int64) (string, bool) { return okLength(""), false }, n, nil, 1, ""},
		{"chunked, with extension and trailer", func(int64) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Replace(chunk(okBody, 7), "\r\n", ";ext=1\r\n", 1) + "", false
		}, n, nil, 1, ""},
		{"chunked, trailer lines", func(int64) (string, bool) {
			return "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n" + strings.TrimSuffix(chunk(okBody, 100), "\r\n") + "X-Trailer: 1\r\n\r\n", false
		}, n, nil, 1, ""},
		{"connection close every response", func(int64) (string, bool) { return okLength("Connection: close\r\n"), true }, n, nil, n, ""},
		{"HTTP/1.0, body to the end of the connection", func(int64) (string, bool) { return "HTTP/1.0 200 OK\r\n\r\n" + okBody, true }, n, nil, n, ""},
		{"HTTP/1.0 keep-alive", func(int64) (string, bool) {
			return "HTTP/1.0 200 OK\r\n" + "Connection: keep-alive\r\nContent-Length: " + strconv.Itoa(len(okBody)) + "\r\n\r\n" + okBody, false
		}, n, nil, 1, ""},
		{"interim 100 Continue", func(int64) (string, bool) { return "HTTP/1.1 100 Continue\r\n\r\n" + okLength(""), false }, n, nil, 1, ""},
		{"503 with Retry-After keeps the connection", func(i int64) (string, bool) {
			if i%4 == 3 {
				return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 10\r\n\r\nqueue full", false
			}
			return okLength(""), false
		}, 15, map[string]int64{"503": 5}, 1, "503: queue full (Retry-After 2s)"},
		{"204 without a body", func(int64) (string, bool) { return "HTTP/1.1 204 No Content\r\n\r\n", false }, 0, map[string]int64{"204": n}, 1, "204: "},
		{"bad status line", func(int64) (string, bool) { return "HTTP/1.1 2x0 OK\r\n\r\n", false }, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"not HTTP", func(int64) (string, bool) { return "SSH-2.0-OpenSSH\r\n\r\n", false }, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"header without colon", func(int64) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length 3\r\n\r\nabc", false }, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"bad content-length", func(int64) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabc", false }, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"conflicting content-lengths", func(int64) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", false
		}, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"bad chunk size", func(int64) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", false
		}, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"gzip transfer coding", func(int64) (string, bool) { return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false }, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"truncated body, then close", func(int64) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", true }, 0, map[string]int64{"transport": n}, n, "unexpected EOF"},
		{"header line longer than the buffer", func(int64) (string, bool) {
			return "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", false
		}, 0, map[string]int64{"transport": n}, n, "malformed"},
		{"no answer, then close", func(int64) (string, bool) { return "", true }, 0, map[string]int64{"transport": n}, n, "EOF"},
		{"an answer without end", func(int64) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", false }, 0, map[string]int64{"transport": n}, n, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScriptServer(t, tt.answer)
			start := time.Now()
			// A generous timeout for a loaded machine; short where the
			// case is the timeout.
			timeout := 2 * time.Second
			if tt.firstErr == "timeout" {
				timeout = 50 * time.Millisecond
			}
			res, err := Run(context.Background(), Config{URL: s.url, Concurrency: 1, Requests: n, HTTPClient: ClientLean, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			if res.Requests != tt.wantOK {
				t.Errorf("%d answered, want %d (errors %v, %s)", res.Requests, tt.wantOK, res.Errors, res.FirstError)
			}
			if tt.wantErrs == nil {
				tt.wantErrs = map[string]int64{}
			}
			if fmt.Sprint(res.Errors) != fmt.Sprint(tt.wantErrs) {
				t.Errorf("errors %v, want %v (%s)", res.Errors, tt.wantErrs, res.FirstError)
			}
			if !strings.Contains(res.FirstError, tt.firstErr) {
				t.Errorf("first error %q, want it to mention %q", res.FirstError, tt.firstErr)
			}
			if got := s.conns.Load(); got != tt.wantConns {
				t.Errorf("%d connections, want %d", got, tt.wantConns)
			}
			if tt.wantOK > 0 && (res.Cached != tt.wantOK || res.MeanServerLatency() != 1500*time.Microsecond) {
				t.Errorf("cached %d, server latency %v", res.Cached, res.MeanServerLatency())
			}
		})
	}
}

// TestClientsMidRun: a server that drops some connections without an
// answer, asks to close others, and answers some requests too late; both
// clients count the same outcomes.
func TestClientsMidRun(t *testing.T) {
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch i := n.Add(1); {
		case i%10 == 0: // drop the connection, no answer
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
			return
		case i%10 == 5: // answer, then close
			w.Header().Set("Connection", "close")
		case i%10 == 7: // too late for the deadline
			time.Sleep(2 * time.Second)
		}
		io.WriteString(w, okBody)
	}))
	defer ts.Close()
	for _, kind := range []ClientKind{ClientLean, ClientStd} {
		t.Run(string(kind), func(t *testing.T) {
			n.Store(0)
			start := time.Now()
			res, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: 1, Requests: 40, HTTPClient: kind, Timeout: 400 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %v", d)
			}
			if res.Requests != 32 || res.Errors["transport"] != 8 || len(res.Errors) != 1 {
				t.Errorf("ok %d, errors %v (%s), want 32 and 8 transport", res.Requests, res.Errors, res.FirstError)
			}
			if n.Load() != 40 {
				t.Errorf("server saw %d requests, want 40 (no retries)", n.Load())
			}
		})
	}
}

// A request on a connection the server closed while idle is sent again on
// a new one, once; on a busy connection it is not.
func TestLeanStaleConnection(t *testing.T) {
	defer func(d time.Duration) { staleAfter = d }(staleAfter)
	staleAfter = 50 * time.Millisecond
	s := newScriptServer(t, func(i int64) (string, bool) { return okLength(""), i == 0 }) // closes after the first, silently
	g, err := newGen(Config{URL: s.url, Concurrency: 1, Requests: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.conns.Close()
	w := newWorker(g, 1)
	ctx := context.Background()
	w.doLean(ctx, time.Now())
	time.Sleep(100 * time.Millisecond)
	w.doLean(ctx, time.Now())
	if w.ok != 2 || s.conns.Load() != 2 || s.requests.Load() != 2 {
		t.Errorf("ok %d (%s), %d connections, %d requests; want 2, 2, 2", w.ok, w.firstErr, s.conns.Load(), s.requests.Load())
	}
	w.release()
}

// Ending ctx interrupts a request the server never answers, whatever the
// request timeout.
func TestLeanCanceledMidRequest(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	s := newScriptServer(t, func(int64) (string, bool) { <-hold; return "", true })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Config{URL: s.url, Concurrency: 4, Duration: time.Hour, HTTPClient: ClientLean})
	if !errors.Is(err, context.DeadlineExceeded) || res == nil || res.ErrorCount() != 0 {
		t.Errorf("res %+v, err %v", res, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v after the cancel at 200ms", d)
	}
}

func TestClientKind(t *testing.T) {
	tests := []struct {
		url  string
		kind ClientKind
		lean bool
		err  error
	}{
		{"http://127.0.0.1:8000", ClientAuto, true, nil},
		{"HTTP://127.0.0.1:8000/", ClientAuto, true, nil},
		{"https://example.com", ClientAuto, false, nil},
		{"http://127.0.0.1:8000", ClientStd, false, nil},
		{"https://example.com", ClientLean, false, ErrConfig},
		{"http://127.0.0.1:8000", "h2", false, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+" "+tt.url, func(t *testing.T) {
			cfg := Config{URL: tt.url, Concurrency: 1, Requests: 1, HTTPClient: tt.kind}
			err := cfg.Validate()
			var g *gen
			if err == nil {
				g, err = newGen(cfg)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if g != nil && (g.target != nil) != tt.lean {
				t.Errorf("lean %v, want %v", g.target != nil, tt.lean)
			}
		})
	}
	for _, s := range []string{"", "auto", "lean", "std"} {
		if _, err := ParseClientKind(s); err != nil {
			t.Errorf("ParseClientKind(%q): %v", s, err)
		}
	}
	if _, err := ParseClientKind("fast"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseClientKind(fast): %v", err)
	}
}

func TestLeanRequestBytes(t *testing.T) {
	tg, err := newTarget("http://localhost/api/", "/predict")
	if err != nil {
		t.Fatal(err)
	}
	got := string(tg.appendRequest(nil, []byte(`{"text":"hi"}`)))
	want := "POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"text\":\"hi\"}"
	if got != want || tg.addr != "localhost:80" {
		t.Errorf("request %q to %s, want %q to localhost:80", got, tg.addr, want)
	}
	// net/http reads it as the same request.
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(got)))
	if err != nil || req.Method != "POST" || req.URL.Path != "/api/predict" || req.ContentLength != 13 || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("net/http reads %+v, %v", req, err)
	}
}

// FuzzReadResponse: any bytes give a response or an error, never a panic
// or a body longer than the input; a body sent chunked in any piece size
// reads back whole, and so does the same with Content-Length.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte(okLength("")), []byte(okBody), uint8(3))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk(okBody, 5)), []byte(""), uint8(1))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 503 x\r\nRetry-After: 3\r\n\r\nbusy"), []byte("x\r\ny"), uint8(0))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffff\r\n"), []byte{0}, uint8(200))
	f.Fuzz(func(t *testing.T, data, body []byte, size uint8) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		r, err := readResponse(br, nil)
		if err == nil && len(r.body) > len(data) {
			t.Fatalf("body of %d bytes from %d", len(r.body), len(data))
		}
		for _, msg := range []string{
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(string(body), int(size)+1),
			"HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body),
		} {
			r, err := readResponse(bufio.NewReaderSize(strings.NewReader(msg+msg), 64), nil)
			if err != nil || r.status != 200 || !bytes.Equal(r.body, body) || r.close {
				t.Fatalf("%q: %d %q close %v, %v", msg, r.status, r.body, r.close, err)
			}
		}
	})
}

// Runs sharing a Conns go on with the same connections (a warm-up's, say);
// runs without one open their own and close them.
func TestLeanConnsAcrossRuns(t *testing.T) {
	tests := []struct {
		name      string
		conns     *Conns
		wantConns int64
	}{
		{"shared Conns", new(Conns), 1},
		{"a run's own", nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScriptServer(t, func(int64) (string, bool) { return okLength(""), false })
			for range 3 {
				res, err := Run(context.Background(), Config{URL: s.url, Concurrency: 1, Requests: 10, Conns: tt.conns})
				if err != nil || res.Requests != 10 {
					t.Fatalf("%+v, %v", res, err)
				}
			}
			if tt.conns != nil {
				tt.conns.Close()
			}
			if got := s.conns.Load(); got != tt.wantConns {
				t.Errorf("%d connections, want %d", got, tt.wantConns)
			}
		})
	}
}
