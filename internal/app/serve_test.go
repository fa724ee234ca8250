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

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// emptyRegistry has no models: the server is live but never ready.
type emptyRegistry struct{}

func (emptyRegistry) Resolve(string) (*model.Handle, error) { return nil, model.ErrNotFound }
func (emptyRegistry) List() []model.Status                  { return nil }
func (emptyRegistry) Get(string) (model.Status, error)      { return model.Status{}, model.ErrNotFound }
func (emptyRegistry) Install(context.Context, model.InstallRequest) (model.Status, error) {
	return model.Status{}, model.ErrInvalid
}
func (emptyRegistry) Unload(context.Context, string) error             { return model.ErrNotFound }
func (emptyRegistry) SetDefault(context.Context, string, string) error { return model.ErrNotFound }
func (emptyRegistry) Ready() bool                                      { return false }

func TestRunServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	promReg, mon := newMonitor(t)
	go func() {
		done <- Serve(ctx, Listeners{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Shutdown: 5 * time.Second, Metrics: promReg},
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
