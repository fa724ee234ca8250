package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/server"
)

// TestServeGRPC: with a gRPC address, Serve opens the OIP gRPC door on a
// real loopback port beside the API, answers live/ready and health checks,
// and closes it on shutdown.
func TestServeGRPC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	grpcAddr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- Serve(ctx, Listeners{Addr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Shutdown: 5 * time.Second,
			GRPCReady: func(a net.Addr) { grpcAddr <- a }},
			emptyRegistry{}, server.Options{Logger: log, Version: "t"}, nil)
	}()
	var addr net.Addr
	select {
	case addr = <-grpcAddr:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no gRPC listener")
	}
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	c := pb.NewGRPCInferenceServiceClient(conn)
	if r, err := c.ServerLive(cctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("live: %v %v", r, err)
	}
	if r, err := c.ServerReady(cctx, &pb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("ready with no model: %v %v", r, err)
	}
	if r, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health with no model: %v %v", r, err)
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
	if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		c.Close()
		t.Error("gRPC still listening after shutdown")
	}
}
