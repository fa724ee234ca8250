package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ClientKind picks the HTTP client that sends the load.
type ClientKind string

const (
	// ClientAuto uses the lean client for http:// targets and net/http for
	// https://.
	ClientAuto ClientKind = ""
	// ClientLean is a minimal HTTP/1.1 keep-alive client: one connection
	// per client, the request written in one piece, the response parsed by
	// hand into reused buffers. It costs a fraction of net/http's CPU per
	// request, CPU a benchmark on one machine would take from the server.
	// It speaks http:// only.
	ClientLean ClientKind = "lean"
	// ClientStd is net/http's client (Config.Client).
	ClientStd ClientKind = "std"
)

// ParseClientKind reads "auto", "lean" or "std".
func ParseClientKind(s string) (ClientKind, error) {
	switch s {
	case "", "auto":
		return ClientAuto, nil
	case "lean", "std":
		return ClientKind(s), nil
	}
	return "", fmt.Errorf("%w: HTTP client %q, want auto, lean or std", ErrConfig, s)
}

// ParseGRPCClientKind reads the gRPC client: "auto" or "lean" (the
// generator's own HTTP/2 client) or "std" (grpc-go's).
func ParseGRPCClientKind(s string) (ClientKind, error) {
	switch s {
	case "", "auto":
		return ClientAuto, nil
	case "lean", "std":
		return ClientKind(s), nil
	}
	return "", fmt.Errorf("%w: gRPC client %q, want auto, lean or std", ErrConfig, s)
}

// staleAfter is how long a connection may sit idle before a request that
// fails on it without any answer is sent again on a new connection: the
// server may have closed it as idle meanwhile (uvicorn does after 5 s).
// A variable for tests.
var staleAfter = time.Second

// target is where the lean client sends requests and the request header
// up to the Content-Length value.
type target struct {
	addr string
	head []byte
}

// newTarget parses base (an http:// URL) and the request path.
func newTarget(base, path string) (*target, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: the lean HTTP client needs an http:// URL, not %q", ErrConfig, base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	p := u.EscapedPath()
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	h := "POST " + p + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nContent-Length: "
	return &target{addr: addr, head: []byte(h)}, nil
}

// appendRequest appends the whole request with body to b.
func (t *target) appendRequest(b, body []byte) []byte {
	b = append(b, t.head...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// conn is one keep-alive connection of the lean client.
type conn struct {
	addr string
	nc   net.Conn
	br   *bufio.Reader
	last time.Time // end of the last exchange; zero before the first
}

// Conns keeps the lean client's idle connections between runs, so a
// measured run goes on with its warm-up's connections, as it does with a
// shared net/http Client. The zero value is ready to use; Close it when
// done.
type Conns struct {
	mu   sync.Mutex
	idle []*conn
}

// get takes an idle connection to addr, nil when there is none.
func (p *Conns) get(addr string) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.idle) - 1; i >= 0; i-- {
		if c := p.idle[i]; c.addr == addr {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return c
		}
	}
	return nil
}

func (p *Conns) put(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, c)
}

// Close closes the idle connections.
func (p *Conns) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		c.nc.Close()
	}
	p.idle = nil
	return nil
}

// acquire gives w a connection for ctx's run: an idle one or a new one.
// Ending ctx interrupts its I/O.
func (w *worker) acquire(ctx context.Context) error {
	c := w.g.conns.get(w.g.target.addr)
	if c == nil {
		d := net.Dialer{Timeout: min(5*time.Second, w.g.timeout), KeepAlive: 30 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", w.g.target.addr)
		if err != nil {
			return err
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		c = &conn{addr: w.g.target.addr, nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	}
	w.conn = c
	w.stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	return nil
}

// drop closes w's connection.
func (w *worker) drop() {
	w.stop()
	w.conn.nc.Close()
	w.conn = nil
}

// release returns w's connection to the pool, unless its run's end
// interrupted it, and ends its gRPC call's context.
func (w *worker) release() {
	if w.call != nil {
		w.call.close()
		w.call = nil
	}
	if w.conn == nil {
		return
	}
	if w.stop() {
		w.g.conns.put(w.conn)
	} else {
		w.conn.nc.Close()
	}
	w.conn = nil
}

// doLean sends one request that was due at t0 over the lean client and
// tallies its outcome.
func (w *worker) doLean(ctx context.Context, t0 time.Time) {
	w.body = w.g.appendBody(w.body[:0], w.rng)
	w.req = w.g.target.appendRequest(w.req[:0], w.body)
	resp, err := w.roundTrip(ctx)
	lat := time.Since(t0)
	if resp.body != nil {
		w.respBuf = resp.body[:0]
	}
	if err != nil {
		if ctx.Err() == nil {
			w.fail("transport", err.Error())
		}
		return
	}
	w.tally(resp.status, resp.retryAfter, resp.body, lat)
}

// roundTrip writes w.req and reads the answer, connecting first if need
// be. A request that fails without any answer on a connection idle for
// staleAfter is sent once more on a new one.
func (w *worker) roundTrip(ctx context.Context) (response, error) {
	for retried := false; ; retried = true {
		if w.conn == nil {
			if err := w.acquire(ctx); err != nil {
				return response{}, err
			}
		}
		c := w.conn
		now := time.Now()
		c.nc.SetDeadline(now.Add(w.g.timeout))
		// After the deadline is set: ctx's end either is seen here or
		// overrides it.
		if err := ctx.Err(); err != nil {
			w.drop()
			return response{}, err
		}
		stale := !c.last.IsZero() && now.Sub(c.last) > staleAfter
		resp, err := exchange(c, w.req, w.respBuf)
		if err != nil {
			w.drop()
			if stale && !retried && ctx.Err() == nil && unanswered(err) {
				continue
			}
			return resp, err
		}
		c.last = time.Now()
		if resp.close {
			w.drop()
		}
		return resp, nil
	}
}

// exchange writes req on c and reads the response into buf. An answer
// that arrives although the request could not be written in full (a
// server may answer and close before reading a body) is returned, with
// the connection to be closed.
func exchange(c *conn, req, buf []byte) (response, error) {
	_, werr := c.nc.Write(req)
	if werr != nil && c.br.Buffered() == 0 {
		// Only what the kernel already holds can be read now.
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	}
	resp, err := readResponse(c.br, buf)
	if werr != nil {
		if err != nil {
			return resp, werr
		}
		resp.close = true
	}
	return resp, err
}

// unanswered says err ended an exchange before any response byte, the
// way a connection the server closed while idle does.
func unanswered(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
