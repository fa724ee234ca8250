package loadgen

import (
	"context"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// LeanModelInfer makes one ModelInfer with req over a new connection of
// the lean gRPC client to addr and returns the answer's message; a failed
// call's error is a gRPC status, as grpc-go's client returns.
func LeanModelInfer(addr string, req *pb.ModelInferRequest) ([]byte, error) {
	c, err := dialH2(context.Background(), addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.nc.Close()
	c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	msg, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, err := c.call(h2Fields(addr), framed(msg), new([]byte))
	if ge, ok := err.(*grpcError); ok {
		return out, status.Error(ge.code, ge.msg)
	}
	return out, err
}
