package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// Protocol is the door the load goes through, so the doors' throughput can
// be compared on one model in one run of the same generator.
type Protocol string

const (
	// ProtocolPredict is POST /predict (or /batch-predict with Batch).
	ProtocolPredict Protocol = "predict"
	// ProtocolV2 is the Open Inference Protocol over REST: POST
	// /v2/models/{Model}/infer, JSON tensors.
	ProtocolV2 Protocol = "v2"
	// ProtocolV1 is KServe V1: POST /v1/models/{Model}:predict.
	ProtocolV1 Protocol = "v1"
	// ProtocolGRPC is the Open Inference Protocol over gRPC: ModelInfer on
	// Config.GRPCAddr, contents.bytes_contents.
	ProtocolGRPC Protocol = "grpc"
)

// ParseProtocol reads "predict" (or ""), "v2", "v1" or "grpc".
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(s); p {
	case "":
		return ProtocolPredict, nil
	case ProtocolPredict, ProtocolV2, ProtocolV1, ProtocolGRPC:
		return p, nil
	}
	return "", fmt.Errorf("%w: protocol %q, want predict, v2, v1 or grpc", ErrConfig, s)
}

// validProtocol checks the protocol's own needs.
func (c *Config) validProtocol() error {
	if _, err := ParseProtocol(string(c.Protocol)); err != nil {
		return err
	}
	switch {
	case c.Protocol != "" && c.Protocol != ProtocolPredict && c.Model == "":
		return fmt.Errorf("%w: protocol %s needs a model name", ErrConfig, c.Protocol)
	case c.Protocol == ProtocolGRPC && c.GRPCAddr == "":
		return fmt.Errorf("%w: protocol grpc needs the gRPC address", ErrConfig)
	}
	return nil
}

// httpProtocol sets the path and the JSON around the texts of an HTTP
// protocol other than /predict.
func (g *gen) httpProtocol(base string, cfg Config) string {
	n := strconv.Itoa(max(cfg.Batch, 1))
	switch cfg.Protocol {
	case ProtocolV2:
		g.prefix = []byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[` + n + `],"data":[`)
		g.suffix = []byte(`]}]}`)
		return "/v2/models/" + url.PathEscape(cfg.Model) + "/infer"
	case ProtocolV1:
		g.prefix = []byte(`{"instances":[`)
		g.suffix = []byte(`]}`)
		return "/v1/models/" + url.PathEscape(cfg.Model) + ":predict"
	}
	return ""
}

// pickText returns one text as the JSON bodies draw them: a hot repeat or
// a unique one.
func (g *gen) pickText(b []byte, rng *rand.Rand) []byte {
	if g.repeat > 0 && rng.Float64() < g.repeat {
		return append(b, g.raw[rng.IntN(min(hotTexts, len(g.raw)))]...)
	}
	s := g.seq.Add(1)
	b = append(b, g.raw[s%uint64(len(g.raw))]...)
	b = append(b, g.nonce...)
	return strconv.AppendUint(b, s, 10)
}

// dialGRPC makes the generator's clients of the gRPC door: one connection
// per concurrent client, as the HTTP doors' clients each hold their own.
// One HTTP/2 connection for all would serialize every call through one
// reader and one writer goroutine on each side, and measure that instead
// of the door (a fleet of clients has many connections). Connections open
// on their first call.
func (g *gen) dialGRPC(cfg Config) error {
	n := max(cfg.Concurrency, 1)
	for range n {
		cc, err := grpc.NewClient(cfg.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			for _, c := range g.grpcConns {
				c.Close()
			}
			g.grpcConns = nil
			return fmt.Errorf("%w: gRPC address %q: %v", ErrConfig, cfg.GRPCAddr, err)
		}
		g.grpcConns = append(g.grpcConns, cc)
		g.grpc = append(g.grpc, pb.NewGRPCInferenceServiceClient(cc))
	}
	g.model = cfg.Model
	return nil
}

// doGRPC sends one ModelInfer that was due at t0 and tallies its outcome.
func (w *worker) doGRPC(ctx context.Context, client pb.GRPCInferenceServiceClient, t0 time.Time) {
	n := max(w.g.batch, 1)
	in := &pb.ModelInferRequest_InferInputTensor{Name: "text", Datatype: "BYTES", Shape: []int64{int64(n)},
		Contents: &pb.InferTensorContents{BytesContents: make([][]byte, n)}}
	for i := range n {
		in.Contents.BytesContents[i] = w.g.pickText(nil, w.rng)
	}
	req := &pb.ModelInferRequest{ModelName: w.g.model, Inputs: []*pb.ModelInferRequest_InferInputTensor{in}}
	ctx, cancel := context.WithTimeout(ctx, w.g.timeout)
	_, err := client.ModelInfer(ctx, req)
	cancel()
	lat := time.Since(t0)
	if err != nil {
		if status.Code(err) != codes.Canceled { // the run's end, not the server
			w.fail("grpc "+status.Code(err).String(), status.Convert(err).Message())
		}
		return
	}
	w.ok++
	w.texts += int64(n)
	w.lat = append(w.lat, lat)
}
