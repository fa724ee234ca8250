package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/mirror"
	s3store "github.com/mlserve/mlserve/internal/mirror/s3"
	"github.com/mlserve/mlserve/internal/mirror/s3/s3test"
)

// Modes of stallProxy, fixed per connection when it is accepted.
const (
	pass   = iota // forward both ways
	silent        // accept, read the request, never answer
	cut           // forward the answer's headers and a few body bytes, then nothing
)

// stallProxy is a TCP proxy in front of the real S3 server (moto) that
// can turn into a store that accepts and never answers, or one that
// answers the headers and stalls the body.
type stallProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	mode     int
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, upstream: strings.TrimPrefix(upstream, "http://")}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) endpoint() string { return "http://" + p.ln.Addr().String() }

func (p *stallProxy) setMode(m int) { p.mu.Lock(); p.mode = m; p.mu.Unlock() }

func (p *stallProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		p.track(c)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if mode == silent {
				_, _ = io.Copy(io.Discard, c) // until the client or the test closes it
				return
			}
			up, err := net.Dial("tcp", p.upstream)
			if err != nil {
				_ = c.Close()
				return
			}
			p.track(up)
			p.wg.Add(1)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); _ = up.Close() }()
			if mode == pass {
				_, _ = io.Copy(c, up)
				_ = c.Close()
				return
			}
			// cut: the status line and headers, 16 bytes of body, then
			// silence with the connection open.
			var buf []byte
			chunk := make([]byte, 32<<10)
			sent := false
			for {
				n, err := up.Read(chunk)
				buf = append(buf, chunk[:n]...)
				if h := bytes.Index(buf, []byte("\r\n\r\n")); h >= 0 && !sent && len(buf) >= h+4+16 {
					_, _ = c.Write(buf[:h+4+16])
					sent = true
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestStoreStalls: the store behind an s3:// repository stops answering
// (accepts the connection and says nothing) or stalls mid-answer (headers,
// then a body that stops). A sync, and a download, fail with
// ErrUnavailable naming the stall within the store's timeout, the local
// copy of the version already mirrored is untouched, and when the store
// answers again the next sync brings what is new.
func TestStoreStalls(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "models")
	e := &env{srv: srv, dir: t.TempDir(), logs: &bytes.Buffer{}}
	proxy := newStallProxy(t, srv.Endpoint)
	const timeout = 300 * time.Millisecond
	bound := timeout + time.Second
	open := func(t *testing.T) (*s3store.Store, *mirror.Mirror) {
		t.Helper()
		st, err := s3store.New(context.Background(), s3store.Options{Bucket: "models", Prefix: "team/",
			Endpoint: proxy.endpoint(), Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		m, err := mirror.New(mirror.Options{Store: st, Dir: e.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return st, m
	}
	big := strings.Repeat("weights ", 64<<10) // 512 KiB: more than one read
	e.put(t, "sentiment/v1/model.joblib", big)
	e.put(t, "sentiment/v1/model.yaml", "description: one\n")
	_, m := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	e.put(t, "sentiment/v2/model.joblib", "artifact-2")
	e.put(t, "sentiment/v2/model.yaml", "description: two\n")

	for _, tc := range []struct {
		name string
		mode int
	}{{"accepts and never answers", silent}, {"headers then a stalled body", cut}} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.setMode(tc.mode)
			defer proxy.setMode(pass)
			st, m := open(t)
			start := time.Now()
			err := m.Sync(ctx)
			if el := time.Since(start); el > bound {
				t.Errorf("sync took %s, store timeout %s", el, timeout)
			}
			if !errors.Is(err, mirror.ErrUnavailable) || !strings.Contains(err.Error(), "stalled") {
				t.Errorf("sync error %v, want ErrUnavailable saying the store stalled", err)
			}
			start = time.Now()
			var got bytes.Buffer
			_, err = st.Get(ctx, "sentiment/v1/model.joblib", &got)
			if el := time.Since(start); el > bound {
				t.Errorf("download took %s, store timeout %s", el, timeout)
			}
			if !errors.Is(err, mirror.ErrUnavailable) || !strings.Contains(err.Error(), "stalled") {
				t.Errorf("download error %v, want ErrUnavailable saying the store stalled", err)
			}
			if got := readFile(t, filepath.Join(e.dir, "sentiment/v1/model.joblib")); got != big {
				t.Errorf("the mirrored v1 changed (%d bytes) after a stalled sync", len(got))
			}
		})
	}

	// The store answering again: a download and a sync go through, and the
	// sync brings the version added during the stall.
	st, m := open(t)
	var got bytes.Buffer
	if _, err := st.Get(ctx, "sentiment/v1/model.joblib", &got); err != nil || got.String() != big {
		t.Fatalf("download through the store answering again: %v (%d bytes)", err, got.Len())
	}
	if err := m.Sync(ctx); err != nil {
		t.Fatalf("sync with the store answering again: %v", err)
	}
	if got := readFile(t, filepath.Join(e.dir, "sentiment/v2/model.yaml")); got != "description: two\n" {
		t.Errorf("v2 after recovery: %q", got)
	}
}
