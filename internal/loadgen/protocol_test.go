package loadgen_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mlserve/mlserve/internal/loadgen"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/oip/grpcserver"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
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

// TestLeanGRPCMatchesGRPCGo: through the real gRPC door, the lean gRPC
// client gets the answers grpc-go's client gets for the same requests,
// the same status for an unknown model, and a run of each counts the
// same requests, texts and errors.
func TestLeanGRPCMatchesGRPCGo(t *testing.T) {
	_, addr := realServer(t)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := pb.NewGRPCInferenceServiceClient(cc)
	texts := loadgen.Corpus()
	for _, tc := range []struct {
		name  string
		model string
		texts []string
	}{
		{"one text", "spam", texts[:1]},
		{"another", "spam-v1", texts[7:8]},
		{"batch", "spam", texts[2:5]},
		{"unknown model", "nope", texts[:1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &pb.ModelInferRequest{ModelName: tc.model, Inputs: []*pb.ModelInferRequest_InferInputTensor{{
				Name: "text", Datatype: "BYTES", Shape: []int64{int64(len(tc.texts))}, Contents: &pb.InferTensorContents{}}}}
			for _, s := range tc.texts {
				req.Inputs[0].Contents.BytesContents = append(req.Inputs[0].Contents.BytesContents, []byte(s))
			}
			want, werr := client.ModelInfer(context.Background(), req)
			b, err := loadgen.LeanModelInfer(addr, req)
			if status.Code(err) != status.Code(werr) || status.Convert(err).Message() != status.Convert(werr).Message() {
				t.Fatalf("lean: %v; grpc-go: %v", err, werr)
			}
			if werr != nil {
				return
			}
			var got pb.ModelInferResponse
			if err := proto.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			// The server numbers its answers: the id differs, nothing else.
			if got.Id == "" || want.Id == "" || got.Id == want.Id {
				t.Errorf("answer ids %q and %q, want two distinct ids", got.Id, want.Id)
			}
			got.Id, want.Id = "", ""
			if !proto.Equal(&got, want) {
				t.Fatalf("lean answer %v\ngrpc-go's %v", &got, want)
			}
		})
	}
	for _, tc := range []struct {
		model string
		batch int
	}{{"spam", 0}, {"spam", 3}, {"nope", 0}} {
		var runs [2]*loadgen.Result
		for i, kind := range []loadgen.ClientKind{loadgen.ClientLean, loadgen.ClientStd} {
			res, err := loadgen.Run(context.Background(), loadgen.Config{URL: "http://unused", GRPCAddr: addr, Model: tc.model,
				Protocol: loadgen.ProtocolGRPC, GRPCClient: kind, Batch: tc.batch, Concurrency: 2, Requests: 20, RepeatRatio: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			runs[i] = res
		}
		l, s := runs[0], runs[1]
		if l.Client != "lean gRPC" || s.Client != "grpc-go" {
			t.Errorf("clients %q, %q", l.Client, s.Client)
		}
		if l.Requests != s.Requests || l.Texts != s.Texts || !maps.Equal(l.Errors, s.Errors) || l.FirstError != s.FirstError {
			t.Errorf("%s batch %d: lean %d requests, %d texts, errors %v %q; grpc-go %d, %d, %v %q", tc.model, tc.batch,
				l.Requests, l.Texts, l.Errors, l.FirstError, s.Requests, s.Texts, s.Errors, s.FirstError)
		}
		if tc.model == "nope" && l.Errors["grpc NotFound"] != 20 {
			t.Errorf("unknown model: errors %v, want 20 NotFound", l.Errors)
		}
	}
}
