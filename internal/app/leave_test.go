package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/server"
)

// readyRegistry has no models but says it is ready, so readiness turns on
// the server's own state only.
type readyRegistry struct{ emptyRegistry }

func (readyRegistry) Ready() bool { return true }

// TestShutdownDelay: once ctx ends, /health/ready answers 503 at once while
// requests (on a keep-alive connection opened before, and on new ones) are
// still served without Connection: close for the whole shutdown_delay; only
// then does the listener close.
func TestShutdownDelay(t *testing.T) {
	const delay = 1500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- Serve(ctx, Listeners{Addr: "127.0.0.1:0", Shutdown: 5 * time.Second, ShutdownDelay: delay},
			readyRegistry{}, server.Options{Logger: log}, func(a, _ net.Addr) { addrs <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatal(err)
	}
	base := "http://" + addr.String()
	kept := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	get := func(c *http.Client, path string) (int, string, bool) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Close
	}
	if code, _, _ := get(kept, "/health/ready"); code != 200 {
		t.Fatalf("ready before shutdown: %d", code)
	}
	cancel()
	t0 := time.Now()
	// Wait until the server has turned not ready (the signal is async).
	for {
		code, body, _ := get(kept, "/health/ready")
		if code == 503 {
			if !strings.Contains(body, "shutting down") {
				t.Errorf("ready body %s", body)
			}
			break
		}
		if time.Since(t0) > time.Second {
			t.Fatal("still ready 1s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for time.Since(t0) < delay-300*time.Millisecond {
		code, _, closing := get(kept, "/health/live")
		if code != 200 || closing {
			t.Fatalf("during the shutdown delay: live %d, Connection: close %v", code, closing)
		}
		if code, _, _ := get(&http.Client{Transport: &http.Transport{}}, "/health/live"); code != 200 {
			t.Fatalf("new connection during the shutdown delay: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(t0); took < delay {
			t.Errorf("stopped after %s, before the %s shutdown delay", took, delay)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}
