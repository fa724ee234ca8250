package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/server"
)

// emptyRegistry has no models: the server is live but never ready.
type emptyRegistry struct{}

func (emptyRegistry) Resolve(context.Context, string) (*server.Lease, error) {
	return nil, server.ErrNotFound
}
func (emptyRegistry) List(context.Context) (*api.ModelList, error) { return &api.ModelList{}, nil }
func (emptyRegistry) Get(context.Context, string) (*api.ModelInfo, error) {
	return nil, server.ErrNotFound
}
func (emptyRegistry) Install(context.Context, *server.Upload) (*api.ModelInfo, error) {
	return nil, server.ErrBadRequest
}
func (emptyRegistry) Unload(context.Context, string) error { return server.ErrNotFound }
func (emptyRegistry) SetDefault(context.Context, string, string) (*api.ModelInfo, error) {
	return nil, server.ErrNotFound
}
func (emptyRegistry) Ready(context.Context) error { return errors.New("no default model") }

func TestRunServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	promReg, mon, err := newMonitoring(config.Default().Monitoring, log)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- runServer(ctx, listeners{addr: "127.0.0.1:0", metricsAddr: "127.0.0.1:0", shutdown: 5 * time.Second, metrics: promReg},
			emptyRegistry{}, server.Options{Logger: log, Monitor: mon},
			func(a, m net.Addr) { addrs <- [2]net.Addr{a, m} })
	}()
	var a [2]net.Addr
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatal(err)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("http://" + a[0].String() + "/health/live"); code != 200 {
		t.Errorf("live: %d", code)
	}
	if code, body := get("http://" + a[0].String() + "/health/ready"); code != 503 || !strings.Contains(body, "no default model") {
		t.Errorf("ready: %d %s", code, body)
	}
	if code, body := get("http://" + a[1].String() + "/metrics"); code != 200 || !strings.Contains(body, "mlserve_http_request_duration_seconds") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := net.DialTimeout("tcp", a[0].String(), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}
