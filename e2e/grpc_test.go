package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/mlserve/mlserve/api"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// TestGRPCReflectionAndInfer is grpcurl's check against the real binary:
// server reflection lists inference.GRPCInferenceService (and health), and
// a ModelInfer on the default model answers what /batch-predict does.
func TestGRPCReflectionAndInfer(t *testing.T) {
	p := startServer(t, copyModels(t))
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	if list := strings.Join(names, ","); !strings.Contains(list, "inference.GRPCInferenceService") || !strings.Contains(list, "grpc.health.v1.Health") {
		t.Fatalf("reflection lists %s", list)
	}
	text := "what a wonderful, delightful film"
	resp, err := pb.NewGRPCInferenceServiceClient(conn).ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "sentiment", ModelVersion: "2",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "text", Datatype: "BYTES", Shape: []int64{1},
			Contents: &pb.InferTensorContents{BytesContents: [][]byte{[]byte(text)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.client.BatchPredict(ctx, &api.BatchPredictRequest{Texts: []string{text}, ModelVersion: "sentiment-v2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.RawOutputContents) == 0 || !strings.HasSuffix(string(resp.RawOutputContents[0]), want.Predictions[0].Label) {
		t.Errorf("gRPC label output %q, /batch-predict %q", resp.RawOutputContents, want.Predictions[0].Label)
	}
}
