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
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

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
		cc, err := grpc.NewClient(cfg.GRPCAddr, grpcDialOptions...)
		if err != nil {
			for _, c := range g.grpcConns {
				c.Close()
			}
			g.grpcConns = nil
			return fmt.Errorf("%w: gRPC address %q: %v", ErrConfig, cfg.GRPCAddr, err)
		}
		g.grpcConns = append(g.grpcConns, cc)
	}
	g.model = cfg.Model
	return nil
}

// grpcDialOptions are the generator's gRPC client settings. Fixed 1 MiB
// flow-control windows (as the door's) turn off the client's bandwidth
// estimator, which sends the server a PING after received data that the
// server must answer. (Buffer sizes and retries off measured no different;
// grpc-go already shares write buffers.)
var grpcDialOptions = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
	grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(1 << 20),
	grpc.WithDefaultCallOptions(grpc.ForceCodecV2(inferCodec{encoding.GetCodecV2(grpcproto.Name)}))}

// grpcCall is one worker's ModelInfer: its request, built once and refilled
// for each call, and the bound on each call.
//
// The bound is the generator's own timer, not a deadline on the call's
// context: grpc-go sends a context's deadline to the server as
// grpc-timeout, and the server then arms a timer per call; the HTTP doors'
// clients send no deadline, so the gRPC door would pay a cost theirs do
// not. The calls run on a context without deadline that the timer (reset
// per call) or the run's end cancels.
type grpcCall struct {
	inferRequest
	ans    inferAnswer
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer // cancels ctx when a call runs out of time
	unlink func() bool // undoes the tie to the run's context
}

// newGRPCCall makes a worker's call for n texts per request, its context
// tied to run's.
func newGRPCCall(run context.Context, model string, n int) *grpcCall {
	c := &grpcCall{inferRequest: newInferRequest(model, n)}
	c.renew(run)
	return c
}

// inferRequest is a worker's ModelInfer request for n texts, built once and
// refilled for each call (both gRPC clients send it).
type inferRequest struct {
	req   *pb.ModelInferRequest
	texts [][]byte // the request's bytes_contents, their buffers reused
}

func newInferRequest(model string, n int) inferRequest {
	return inferRequest{texts: make([][]byte, n), req: &pb.ModelInferRequest{ModelName: model,
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "text", Datatype: "BYTES", Shape: []int64{int64(n)},
			Contents: &pb.InferTensorContents{BytesContents: make([][]byte, n)}}}}}
}

// fill puts w's next texts into the request.
func (r *inferRequest) fill(w *worker) {
	for i := range r.texts {
		r.texts[i] = w.g.pickText(r.texts[i][:0], w.rng)
	}
	copy(r.req.Inputs[0].Contents.BytesContents, r.texts)
}

// renew gives c a fresh context once its timer has ended the last one.
func (c *grpcCall) renew(run context.Context) {
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(run))
	c.unlink = context.AfterFunc(run, c.cancel)
	c.timer = time.AfterFunc(time.Hour, c.cancel)
	c.timer.Stop()
}

// close releases the context and timer.
func (c *grpcCall) close() {
	c.timer.Stop()
	c.unlink()
	c.cancel()
}

// doGRPC sends one ModelInfer that was due at t0 and tallies its outcome.
func (w *worker) doGRPC(ctx context.Context, cc *grpc.ClientConn, t0 time.Time) {
	n := max(w.g.batch, 1)
	if w.call == nil {
		w.call = newGRPCCall(ctx, w.g.model, n)
	}
	c := w.call
	c.fill(w)
	c.ans = inferAnswer{}
	c.timer.Reset(w.g.timeout)
	err := cc.Invoke(c.ctx, pb.GRPCInferenceService_ModelInfer_FullMethodName, c.req, &c.ans)
	lat := time.Since(t0)
	if !c.timer.Stop() {
		// The call ran out of time (its context is ended, or about to be):
		// the next call gets a new one.
		c.close()
		c.renew(ctx)
		if err != nil && ctx.Err() == nil {
			w.fail("grpc "+codes.DeadlineExceeded.String(), "no answer in "+w.g.timeout.String())
			return
		}
	}
	if err == nil && c.ans.outputs == 0 {
		err = status.Error(codes.Unknown, "answer with no outputs")
	}
	if err != nil {
		if status.Code(err) != codes.Canceled || ctx.Err() == nil { // not the run's end
			w.fail("grpc "+status.Code(err).String(), status.Convert(err).Message())
		}
		return
	}
	w.ok++
	w.texts += int64(n)
	w.lat = append(w.lat, lat)
}

// inferAnswer receives a ModelInferResponse as the generator reads it: the
// number of its outputs, after inferCodec checked its wire format.
type inferAnswer struct{ outputs int }

// inferCodec is the generator's gRPC codec: protobuf (the codec it wraps)
// for everything, except that a ModelInfer answer (*inferAnswer) is
// checked, not built. Building it (three tensors, a parameters map) was
// about a tenth of the generator's CPU per call, for fields it never reads.
type inferCodec struct{ encoding.CodecV2 }

// Unmarshal checks an *inferAnswer with countOutputs; anything else goes to
// the wrapped codec.
func (c inferCodec) Unmarshal(data mem.BufferSlice, v any) error {
	a, ok := v.(*inferAnswer)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	n, err := countOutputs(buf.ReadOnlyData())
	a.outputs = n
	return err
}

// modelInferOutputs is ModelInferResponse's field number of outputs.
const modelInferOutputs = 5

// countOutputs walks a ModelInferResponse's top-level fields in protobuf
// wire format and counts its outputs, without decoding them. It fails on
// bytes that are not a protobuf message at the top level (what the
// protobuf library would refuse there); it does not look inside fields, so
// it accepts some messages the library refuses (a string field that is not
// UTF-8, a malformed output). Where the library accepts, it counts as many
// outputs (fuzzed in FuzzCountOutputs).
func countOutputs(b []byte) (int, error) {
	outputs := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("malformed ModelInferResponse: %w", protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, fmt.Errorf("malformed ModelInferResponse field %d: %w", num, protowire.ParseError(m))
		}
		if num == modelInferOutputs && typ == protowire.BytesType {
			outputs++
		}
		b = b[m:]
	}
	return outputs, nil
}
