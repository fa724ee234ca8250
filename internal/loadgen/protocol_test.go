package loadgen_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/loadgen"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/oip/grpcserver"
	"github.com/mlserve/mlserve/internal/server"
)

type sklearnLoader struct{}

func (sklearnLoader) Load(ctx context.Context, dir string, m *model.Manifest) (model.Model, error) {
	return sklearn.LoadContext(ctx, filepath.Join(dir, m.Artifact), sklearn.Options{})
}

// realServer is mlserve's HTTP API and gRPC door over the repository's
// spam model (scikit-learn v1), on loopback ports the kernel chose.
func realServer(t *testing.T) (httpURL, grpcAddr string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	root := t.TempDir()
	dir := filepath.Join(root, "spam", "v1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.joblib", "model.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "models", "spam", "v1", f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	repo, err := model.OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	reg := model.NewRegistry(repo, map[string]model.Loader{"sklearn": sklearnLoader{}},
		model.Options{DefaultModel: "spam-v1", KeepLoaded: 1}, quiet)
	if err := reg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })
	srv, err := server.New(reg, server.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	door := grpcserver.New(srv, grpcserver.Options{Logger: quiet})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go door.GRPC().Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		door.Stop(ctx)
	})
	return hs.URL, ln.Addr().String()
}

// TestRunProtocols: each protocol's requests are ones the real server
// answers with 200, single texts and batches, over the lean client and
// net/http; a protocol without what it needs is refused.
func TestRunProtocols(t *testing.T) {
	url, addr := realServer(t)
	for _, tc := range []struct {
		protocol loadgen.Protocol
		batch    int
		client   loadgen.ClientKind
	}{
		{loadgen.ProtocolPredict, 0, loadgen.ClientLean},
		{loadgen.ProtocolV2, 0, loadgen.ClientLean},
		{loadgen.ProtocolV2, 3, loadgen.ClientStd},
		{loadgen.ProtocolV1, 0, loadgen.ClientLean},
		{loadgen.ProtocolV1, 2, loadgen.ClientStd},
		{loadgen.ProtocolGRPC, 0, ""},
		{loadgen.ProtocolGRPC, 4, ""},
	} {
		t.Run(string(tc.protocol)+"/"+string(rune('0'+tc.batch)), func(t *testing.T) {
			res, err := loadgen.Run(context.Background(), loadgen.Config{URL: url, GRPCAddr: addr, Model: "spam",
				Protocol: tc.protocol, Batch: tc.batch, HTTPClient: tc.client, Concurrency: 2, Requests: 20, RepeatRatio: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 20 || res.ErrorCount() != 0 || res.Texts != int64(20*max(tc.batch, 1)) {
				t.Fatalf("%d requests, %d texts, %d errors (%s)", res.Requests, res.Texts, res.ErrorCount(), res.FirstError)
			}
		})
	}
	// The server's refusal is counted as an error with its message.
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: url, GRPCAddr: addr, Model: "nope",
		Protocol: loadgen.ProtocolGRPC, Concurrency: 1, Requests: 3})
	if err != nil || res.ErrorCount() != 3 || res.FirstError == "" {
		t.Fatalf("unknown model over gRPC: %v, %+v", err, res)
	}
	for _, cfg := range []loadgen.Config{
		{URL: url, Protocol: "v3", Model: "spam", Concurrency: 1, Requests: 1},
		{URL: url, Protocol: loadgen.ProtocolV2, Concurrency: 1, Requests: 1},
		{URL: url, Protocol: loadgen.ProtocolGRPC, Model: "spam", Concurrency: 1, Requests: 1},
	} {
		if _, err := loadgen.Run(context.Background(), cfg); !errors.Is(err, loadgen.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
}
