package grpcserver

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/inference"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/server"
)

// Core is what the gRPC door needs from the server's shared protocol core;
// *server.Server satisfies it.
type Core interface {
	// Infer classifies texts as /batch-predict does.
	Infer(ctx context.Context, req server.InferRequest) (*server.InferResult, error)
	// ModelMetadata describes the version a name and version resolve to.
	ModelMetadata(name, version string) (*server.ModelMetadata, error)
	// ModelReady says whether that version serves now.
	ModelReady(name, version string) (bool, error)
	// ServerMetadata names the server and its protocol extensions.
	ServerMetadata() server.ServerMetadata
	// ServerLive and ServerReady are /health/live and /health/ready.
	ServerLive() bool
	ServerReady() bool
	// ObserveCall books a call that is not an inference in the metrics.
	ObserveCall(endpoint string, code int, d time.Duration)
}

var _ Core = (*server.Server)(nil)

// ServiceName is the protocol's fully qualified service name, as health
// checks and reflection list it.
const ServiceName = "inference.GRPCInferenceService"

// maxMessageBytes bounds one received message: 100 texts of the server's
// largest text limit fit, and a client cannot make the door buffer more.
const maxMessageBytes = 64 << 20

// Options configure the gRPC server.
type Options struct {
	// Logger receives the door's warnings; nil is slog.Default.
	Logger *slog.Logger
	// MaxRecvBytes bounds one request message; 0 is 64 MiB.
	MaxRecvBytes int
	// Tracer, when not nil, traces every call (trace.go); nil is off.
	Tracer trace.Tracer
	// MaxConcurrentStreams bounds the calls one connection has open at
	// once; 0 is 256. grpc-go's own default is unlimited, which lets one
	// client that never reads its responses hold a handler and its buffered
	// response per call without end.
	MaxConcurrentStreams uint32
	// HandshakeTimeout bounds how long a new connection has to send the
	// HTTP/2 preface and its first SETTINGS; 0 is 10 s (grpc-go's default
	// is 120 s).
	HandshakeTimeout time.Duration
	// IdleTimeout closes (GOAWAY) a connection with no call open for that
	// long; 0 is 5 minutes (grpc-go's default is never). A client silent
	// for that long is also sent a keepalive PING, and cut when nothing
	// comes back within min(IdleTimeout, 20 s).
	IdleTimeout time.Duration
}

// Defaults of Options' limits on hostile or idle clients.
const (
	defaultMaxConcurrentStreams = 256
	defaultHandshakeTimeout     = 10 * time.Second
	defaultIdleTimeout          = 5 * time.Minute
	// pingTimeout is how long a keepalive PING waits for any frame from the
	// client (at most; IdleTimeout when shorter): grpc-go's default.
	pingTimeout = 20 * time.Second
)

// Server is the gRPC door: the inference service, health checking and
// reflection on one *grpc.Server.
type Server struct {
	grpc   *grpc.Server
	health *health.Server
}

// New builds the gRPC door over core.
func New(core Core, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxRecvBytes <= 0 {
		opts.MaxRecvBytes = maxMessageBytes
	}
	if opts.MaxConcurrentStreams == 0 {
		opts.MaxConcurrentStreams = defaultMaxConcurrentStreams
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = defaultHandshakeTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = defaultIdleTimeout
	}
	so := []grpc.ServerOption{grpc.MaxRecvMsgSize(opts.MaxRecvBytes),
		// ModelInfer's answers written without reflection (codec.go).
		grpc.ForceServerCodecV2(newCodec()),
		// Calls run on a fixed pool of goroutines whose stacks have already
		// grown, not on a fresh goroutine per call that grows its stack
		// again each time (runtime.copystack was 7% of a single-text
		// profile); a call waits for no worker, grpc-go falls back to a new
		// goroutine when all are busy.
		grpc.NumStreamWorkers(uint32(max(4, runtime.GOMAXPROCS(0)))),
		// Fixed 1 MiB flow-control windows turn off grpc-go's bandwidth
		// estimator, whose PING round trip after received data costs every
		// small call a frame each way (about 3% of the server's CPU per
		// single-text call, A/B in 8 rounds); 1 MiB is ample for 100 texts.
		grpc.InitialWindowSize(1 << 20), grpc.InitialConnWindowSize(1 << 20),
		// Hostile clients (grpc_hostile_test.go): one that opens calls and
		// never reads the answers holds at most MaxConcurrentStreams
		// handlers (the rest are refused); one that connects and sends
		// nothing, or half a preface, is cut at HandshakeTimeout; one that
		// stays connected with nothing open is sent away at IdleTimeout (and
		// closed 6 s later if it does not ack the PING that comes with the
		// GOAWAY: grpc-go's fixed drain wait, then its writer's 1 s). One that stops reading while
		// answers are on their way fills its window: grpc-go's writer then
		// blocks on the socket with the calls' trailers unsent, so the calls
		// never end, the idle timeout never starts, and a GOAWAY could not be
		// written anyway. The keepalive PING is what frees it: once nothing
		// was read from the client for IdleTimeout a PING is queued, and
		// when no frame arrives for pingTimeout more grpc-go closes the
		// socket itself, which unblocks the writer (its default waits 2 h).
		// The PING costs a live client one frame per IdleTimeout of silence.
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		grpc.ConnectionTimeout(opts.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: opts.IdleTimeout,
			Time: opts.IdleTimeout, Timeout: min(opts.IdleTimeout, pingTimeout)})}
	if opts.Tracer != nil {
		so = append(so, grpc.ChainUnaryInterceptor(unaryTrace(opts.Tracer)), grpc.ChainStreamInterceptor(streamTrace(opts.Tracer)))
	}
	g := grpc.NewServer(so...)
	pb.RegisterGRPCInferenceServiceServer(g, &service{core: core, log: opts.Logger.With("component", "grpc")})
	h := health.NewServer()
	healthpb.RegisterHealthServer(g, readyHealth{Server: h, core: core})
	reflection.Register(g)
	h.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	return &Server{grpc: g, health: h}
}

// GRPC is the underlying server, to Serve on a listener.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Stop turns the health checks NOT_SERVING, stops accepting and waits for
// the calls in flight until ctx ends; then it cuts what is left.
func (s *Server) Stop(ctx context.Context) {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
		<-done
	}
}

// readyHealth answers Check from the server's readiness at the time of the
// call (the default model loaded, not draining), for the whole server ("")
// and the inference service; Watch and other services are the static
// health server's, which turns NOT_SERVING on Stop.
type readyHealth struct {
	*health.Server
	core Core
}

// Check reports SERVING while the server is ready.
func (h readyHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if svc := req.GetService(); svc != "" && svc != ServiceName {
		return h.Server.Check(ctx, req)
	}
	if resp, err := h.Server.Check(ctx, req); err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return resp, nil // stopping
	}
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if h.core.ServerReady() {
		st = healthpb.HealthCheckResponse_SERVING
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// service implements inference.GRPCInferenceService on a Core.
type service struct {
	pb.UnimplementedGRPCInferenceServiceServer
	core Core
	log  *slog.Logger
}

// Endpoint labels of the non-inference calls in the request metrics.
const (
	endpointLive     = "/inference.GRPCInferenceService/ServerLive"
	endpointReady    = "/inference.GRPCInferenceService/ServerReady"
	endpointMReady   = "/inference.GRPCInferenceService/ModelReady"
	endpointMeta     = "/inference.GRPCInferenceService/ServerMetadata"
	endpointModelMet = "/inference.GRPCInferenceService/ModelMetadata"
)

// observe books a non-inference call and returns its error as a status.
func (s *service) observe(endpoint string, start time.Time, err error) error {
	code := http.StatusOK
	if err != nil {
		code = server.StatusOf(err)
	}
	s.core.ObserveCall(endpoint, code, time.Since(start))
	return toStatus(err)
}

// ServerLive answers whether the server answers.
func (s *service) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	start := time.Now()
	return &pb.ServerLiveResponse{Live: s.core.ServerLive()}, s.observe(endpointLive, start, nil)
}

// ServerReady answers whether the server can run inferences.
func (s *service) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	start := time.Now()
	return &pb.ServerReadyResponse{Ready: s.core.ServerReady()}, s.observe(endpointReady, start, nil)
}

// ModelReady answers whether one model version serves; NOT_FOUND for one
// the repository does not have.
func (s *service) ModelReady(_ context.Context, req *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	start := time.Now()
	ok, err := s.core.ModelReady(req.GetName(), req.GetVersion())
	if err != nil {
		return nil, s.observe(endpointMReady, start, err)
	}
	return &pb.ModelReadyResponse{Ready: ok}, s.observe(endpointMReady, start, nil)
}

// ServerMetadata names the server, its version and extensions.
func (s *service) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	start := time.Now()
	md := s.core.ServerMetadata()
	return &pb.ServerMetadataResponse{Name: md.Name, Version: md.Version, Extensions: md.Extensions},
		s.observe(endpointMeta, start, nil)
}

// ModelMetadata describes one model version's platform and tensors.
func (s *service) ModelMetadata(_ context.Context, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	start := time.Now()
	md, err := s.core.ModelMetadata(req.GetName(), req.GetVersion())
	if err != nil {
		return nil, s.observe(endpointModelMet, start, err)
	}
	resp := &pb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform,
		Inputs: tensors(md.Inputs), Outputs: tensors(md.Outputs)}
	return resp, s.observe(endpointModelMet, start, nil)
}

func tensors(ts []server.TensorMetadata) []*pb.ModelMetadataResponse_TensorMetadata {
	out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(ts))
	for i, t := range ts {
		out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
	}
	return out
}

// ModelInfer runs one inference: the "text" tensor through server.Infer,
// the answer as label, confidence and probabilities tensors.
func (s *service) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	ir, outs, err := decodeInfer(req)
	if err != nil {
		// Infer never saw this request; book it as Infer books its own.
		s.core.ObserveCall(server.EndpointGRPCInfer, server.StatusOf(err), 0)
		return nil, toStatus(err)
	}
	res, err := s.core.Infer(ctx, ir)
	if err != nil {
		return nil, toStatus(err)
	}
	resp, err := encodeInfer(req, res, outs)
	if err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

// outputSet says which outputs a call asked for.
type outputSet struct {
	label, confidence, probabilities, explicitProbs, labels, explicitLabels, explanation bool
}

// decodeInfer checks a ModelInferRequest and turns it into an InferRequest
// and the outputs it asks for. Errors wrap server.ErrBadRequest.
func decodeInfer(req *pb.ModelInferRequest) (server.InferRequest, outputSet, error) {
	ir := server.InferRequest{Name: req.GetModelName(), Version: req.GetModelVersion(),
		RequestID: req.GetId(), Protocol: server.ProtocolV2GRPC}
	outs := outputSet{label: true, confidence: true, probabilities: true, labels: true}
	for k, p := range req.GetParameters() {
		switch k {
		case "timeout_ms":
			n, err := intParam(p)
			if err != nil || n < 0 || n > math.MaxInt32 {
				return ir, outs, fmt.Errorf("%w: parameter timeout_ms must be a non-negative integer", server.ErrBadRequest)
			}
			ir.TimeoutMS = int(n)
		case "return_probabilities":
			b, ok := p.GetParameterChoice().(*pb.InferParameter_BoolParam)
			if !ok {
				return ir, outs, fmt.Errorf("%w: parameter return_probabilities must be a boolean", server.ErrBadRequest)
			}
			outs.probabilities = b.BoolParam
		}
	}
	if rs := req.GetOutputs(); len(rs) > 0 {
		outs = outputSet{}
		for _, o := range rs {
			switch o.GetName() {
			case server.TensorLabel:
				outs.label = true
			case server.TensorConfidence:
				outs.confidence = true
			case server.TensorProbabilities:
				outs.probabilities, outs.explicitProbs = true, true
			case server.TensorLabels:
				outs.labels, outs.explicitLabels = true, true
			case server.TensorExplanation:
				ex, err := explainParams(o.GetParameters())
				if err != nil {
					return ir, outs, err
				}
				outs.explanation, ir.Explain = true, ex
			default:
				return ir, outs, fmt.Errorf("%w: unknown output %q; the outputs are label, confidence, probabilities and explanation, and labels for a multi-label model", server.ErrBadRequest, o.GetName())
			}
		}
	}
	in := req.GetInputs()
	if len(in) != 1 {
		return ir, outs, fmt.Errorf("%w: expected one input tensor %q, got %d", server.ErrBadRequest, server.TensorText, len(in))
	}
	t := in[0]
	if t.GetName() != server.TensorText {
		return ir, outs, fmt.Errorf("%w: unknown input %q; the input is %q", server.ErrBadRequest, t.GetName(), server.TensorText)
	}
	if t.GetDatatype() != server.DatatypeBytes {
		return ir, outs, fmt.Errorf("%w: input %q has datatype %q; it must be BYTES", server.ErrBadRequest, t.GetName(), t.GetDatatype())
	}
	sh := t.GetShape()
	if len(sh) < 1 || len(sh) > 2 || (len(sh) == 2 && sh[1] != 1) || sh[0] < 0 {
		return ir, outs, fmt.Errorf("%w: input %q has shape %v; it must be [N] or [N,1]", server.ErrBadRequest, t.GetName(), sh)
	}
	n := sh[0]
	raw := req.GetRawInputContents()
	var texts []string
	var err error
	switch {
	case len(raw) > 0:
		if len(raw) != len(in) {
			return ir, outs, fmt.Errorf("%w: %d raw_input_contents for %d inputs", server.ErrBadRequest, len(raw), len(in))
		}
		if t.GetContents() != nil && len(t.GetContents().GetBytesContents()) > 0 {
			return ir, outs, fmt.Errorf("%w: input %q has both contents and raw_input_contents", server.ErrBadRequest, t.GetName())
		}
		if n > int64(len(raw[0])/4) {
			return ir, outs, fmt.Errorf("%w: input %q: shape %v does not match its raw contents", server.ErrBadRequest, t.GetName(), sh)
		}
		texts, err = decodeRawBytes(raw[0], int(n))
	default:
		bc := t.GetContents().GetBytesContents()
		if int64(len(bc)) != n {
			return ir, outs, fmt.Errorf("%w: input %q: shape %v holds %d elements, bytes_contents has %d", server.ErrBadRequest, t.GetName(), sh, n, len(bc))
		}
		texts = make([]string, len(bc))
		for i, b := range bc {
			texts[i] = string(b)
		}
	}
	if err != nil {
		return ir, outs, fmt.Errorf("%w: input %q: %v", server.ErrBadRequest, t.GetName(), err)
	}
	for i, s := range texts {
		if !utf8.ValidString(s) {
			return ir, outs, fmt.Errorf("%w: input %q element %d is not UTF-8 text", server.ErrBadRequest, t.GetName(), i)
		}
	}
	ir.Texts = texts
	return ir, outs, nil
}

// intParam reads an integer parameter given as int64, uint64 or a string
// of digits (tritonclient sends Python ints as int64).
func intParam(p *pb.InferParameter) (int64, error) {
	switch v := p.GetParameterChoice().(type) {
	case *pb.InferParameter_Int64Param:
		return v.Int64Param, nil
	case *pb.InferParameter_Uint64Param:
		if v.Uint64Param > math.MaxInt64 {
			return 0, errors.New("out of range")
		}
		return int64(v.Uint64Param), nil
	case *pb.InferParameter_DoubleParam:
		if v.DoubleParam != math.Trunc(v.DoubleParam) || math.Abs(v.DoubleParam) > 1<<53 {
			return 0, errors.New("not an integer")
		}
		return int64(v.DoubleParam), nil
	}
	return 0, errors.New("not an integer")
}

// decodeRawBytes splits a raw BYTES tensor of n elements: each a 4-byte
// little-endian length, then that many bytes; nothing may follow the last.
func decodeRawBytes(b []byte, n int) ([]string, error) {
	out := make([]string, 0, n)
	for i := range n {
		if len(b) < 4 {
			return nil, fmt.Errorf("raw contents end inside element %d's length", i)
		}
		l := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return nil, fmt.Errorf("element %d's length %d runs past the raw contents", i, l)
		}
		out = append(out, string(b[:l]))
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last of %d elements", len(b), n)
	}
	return out, nil
}

// encodeInfer builds the response: the asked-for outputs, each in
// raw_output_contents at its index. The outputs' tensors, shapes and the
// fixed-size contents (label, confidence, probabilities) share one
// allocation each, sized up front: a single-text answer is a handful of
// allocations, not one per field and per append (BenchmarkDoorCodec).
func encodeInfer(req *pb.ModelInferRequest, res *server.InferResult, outs outputSet) (*pb.ModelInferResponse, error) {
	n := int64(len(res.Predictions))
	resp := &pb.ModelInferResponse{ModelName: req.GetModelName(), ModelVersion: res.Version, Id: req.GetId()}
	if resp.Id == "" {
		resp.Id = res.RequestID
	}
	resp.Parameters = map[string]*pb.InferParameter{
		"model_id": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: res.ModelID}},
	}
	c := len(res.Labels)
	probs := outs.probabilities && c > 0
	for _, p := range res.Predictions {
		probs = probs && len(p.Probabilities) == c
	}
	if outs.probabilities && !probs && outs.explicitProbs {
		return nil, fmt.Errorf("%w: model %s gives no probabilities", server.ErrBadRequest, res.ModelID)
	}
	labels := outs.labels && res.MultiLabels != nil
	if outs.labels && !labels && outs.explicitLabels {
		return nil, fmt.Errorf("%w: output %s: model %s is not multi-label", server.ErrBadRequest, server.TensorLabels, res.ModelID)
	}
	k := 0 // outputs
	fixed := 0
	if outs.label {
		k++
		for _, p := range res.Predictions {
			fixed += 4 + len(p.Label)
		}
	}
	if outs.confidence {
		k++
		fixed += 8 * int(n)
	}
	if probs {
		k++
		fixed += 8 * int(n) * c
	}
	if labels {
		k++
	}
	if outs.explanation {
		k++
	}
	tensors := make([]pb.ModelInferResponse_InferOutputTensor, k)
	shapes := make([]int64, 0, 2*k)
	buf := make([]byte, 0, fixed)
	resp.Outputs = make([]*pb.ModelInferResponse_InferOutputTensor, 0, k)
	resp.RawOutputContents = make([][]byte, 0, k)
	// add appends an output whose contents are buf[from:] or, for from < 0,
	// raw.
	add := func(name, dt string, shape []int64, from int, raw []byte) {
		t := &tensors[len(resp.Outputs)]
		t.Name, t.Datatype = name, dt
		shapes = append(shapes, shape...)
		t.Shape = shapes[len(shapes)-len(shape) : len(shapes) : len(shapes)]
		if from >= 0 {
			raw = buf[from:len(buf):len(buf)]
		}
		resp.Outputs = append(resp.Outputs, t)
		resp.RawOutputContents = append(resp.RawOutputContents, raw)
	}
	if outs.label {
		from := len(buf)
		for _, p := range res.Predictions {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(p.Label)))
			buf = append(buf, p.Label...)
		}
		add(server.TensorLabel, server.DatatypeBytes, []int64{n}, from, nil)
	}
	if outs.confidence {
		from := len(buf)
		for _, p := range res.Predictions {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(p.Confidence))
		}
		add(server.TensorConfidence, server.DatatypeFP64, []int64{n}, from, nil)
	}
	if probs {
		from := len(buf)
		for _, p := range res.Predictions {
			for _, v := range p.Probabilities {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
		}
		add(server.TensorProbabilities, server.DatatypeFP64, []int64{n, int64(c)}, from, nil)
	}
	if labels {
		var b []byte
		for _, l := range res.MultiLabels {
			e := server.EncodeLabelSet(l)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		}
		add(server.TensorLabels, server.DatatypeBytes, []int64{n}, -1, b)
	}
	if outs.explanation {
		// One JSON document (an api.Explanation) per text, as BYTES.
		var b []byte
		for i := range res.Predictions {
			var ex *api.Explanation
			if i < len(res.Explanations) {
				ex = res.Explanations[i]
			}
			doc, err := json.Marshal(ex)
			if err != nil {
				return nil, err
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(len(doc)))
			b = append(b, doc...)
		}
		add(server.TensorExplanation, server.DatatypeBytes, []int64{n}, -1, b)
	}
	return resp, nil
}

// explainParams reads the explanation output's parameters top_k and
// max_tokens.
func explainParams(params map[string]*pb.InferParameter) (api.Explain, error) {
	ex := api.Explain{Enabled: true}
	for k, p := range params {
		n, err := intParam(p)
		switch k {
		case "top_k":
			if err != nil || n < 0 || n > api.MaxExplainTopK {
				return ex, fmt.Errorf("%w: output explanation: top_k must be an integer from 0 to %d", server.ErrBadRequest, api.MaxExplainTopK)
			}
			ex.TopK = int(n)
		case "max_tokens":
			if err != nil || n < 0 || n > api.MaxExplainTokens {
				return ex, fmt.Errorf("%w: output explanation: max_tokens must be an integer from 0 to %d", server.ErrBadRequest, api.MaxExplainTokens)
			}
			ex.MaxTokens = int(n)
		}
	}
	return ex, nil
}

// codeOfStatus maps the HTTP status server.StatusOf gives an error to the gRPC
// code of the same meaning: the one table of the gRPC door.
var codeOfStatus = map[int]codes.Code{
	http.StatusBadRequest:            codes.InvalidArgument,
	http.StatusUnauthorized:          codes.Unauthenticated,
	http.StatusForbidden:             codes.PermissionDenied,
	http.StatusNotFound:              codes.NotFound,
	http.StatusConflict:              codes.AlreadyExists,
	http.StatusRequestEntityTooLarge: codes.InvalidArgument,
	http.StatusUnprocessableEntity:   codes.InvalidArgument,
	http.StatusTooManyRequests:       codes.ResourceExhausted,
	499:                              codes.Canceled,
	http.StatusInternalServerError:   codes.Internal,
	http.StatusBadGateway:            codes.Unavailable,
	http.StatusServiceUnavailable:    codes.Unavailable,
	http.StatusGatewayTimeout:        codes.DeadlineExceeded,
}

// codeOf is err's gRPC code: its HTTP status through codeOfStatus, with a
// full queue (503 over HTTP) told apart from a version on its way by the
// error itself: the server's problem documents keep their cause.
func codeOf(err error) codes.Code {
	st := server.StatusOf(err)
	if st == http.StatusServiceUnavailable && errors.Is(err, inference.ErrQueueFull) {
		return codes.ResourceExhausted
	}
	if c, ok := codeOfStatus[st]; ok {
		return c
	}
	return codes.Unknown
}

// toStatus is err as a gRPC status, with the message the REST door sends.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(codeOf(err), server.ErrorMessage(err))
}
