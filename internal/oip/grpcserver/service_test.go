package grpcserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/server"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sklearnLoader loads the repository's real scikit-learn artifacts.
type sklearnLoader struct{}

func (sklearnLoader) Load(ctx context.Context, dir string, m *model.Manifest) (model.Model, error) {
	return sklearn.LoadContext(ctx, filepath.Join(dir, m.Artifact), sklearn.Options{})
}

// fixture is a real server (registry, engine, the spam model's two
// versions) behind the gRPC door on an in-memory listener.
type fixture struct {
	srv    *server.Server
	client pb.GRPCInferenceServiceClient
	conn   *grpc.ClientConn
	door   *Server
}

// copyDir copies the repository's models/<name> into root.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T, eng server.Engine) *fixture {
	t.Helper()
	return serveDoor(t, newCore(t, eng, nil), nil)
}

// newBenchFixture is the fixture's server, for benchmarks.
func newBenchFixture(b *testing.B) *fixture {
	return &fixture{srv: newCore(b, nil, nil)}
}

// newCore is a real server over the spam model's two versions. A nil eng
// is a real engine made here; tr, when not nil, traces the engine (when made
// here) and the server.
func newCore(t testing.TB, eng server.Engine, tr trace.Tracer) *server.Server {
	t.Helper()
	root := t.TempDir()
	// Two scikit-learn versions of the real spam model (the repository's
	// spam/v2 is ONNX, which these tests do not need).
	copyDir(t, "../../../models/spam/v1", filepath.Join(root, "spam", "v1"))
	copyDir(t, "../../../models/spam/v1", filepath.Join(root, "spam", "v2"))
	repo, err := model.OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	if eng == nil {
		e, err := inference.New(inference.Config{Logger: quiet(), Tracer: tr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close(context.Background()) })
		eng = e
	}
	reg := model.NewRegistry(repo, map[string]model.Loader{"sklearn": sklearnLoader{}},
		model.Options{DefaultModel: "spam-v1", KeepLoaded: 2}, quiet())
	if err := reg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })
	srv, err := server.New(reg, server.Options{Logger: quiet(), Engine: eng, Version: "test", Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// serveDoor serves srv's gRPC door over an in-memory listener, traced by tr
// when it is not nil, and returns a client connected to it.
func serveDoor(t *testing.T, srv *server.Server, tr trace.Tracer) *fixture {
	t.Helper()
	door := New(srv, Options{Logger: quiet(), Tracer: tr})
	ln := bufconn.Listen(1 << 20)
	go door.GRPC().Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		door.Stop(ctx)
	})
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fixture{srv: srv, client: pb.NewGRPCInferenceServiceClient(conn), conn: conn, door: door}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawBytes is a raw BYTES tensor: each element length-prefixed.
func rawBytes(elems ...string) []byte {
	var b []byte
	for _, e := range elems {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

func textInput(n int64, elems ...string) *pb.ModelInferRequest_InferInputTensor {
	in := &pb.ModelInferRequest_InferInputTensor{Name: "text", Datatype: "BYTES", Shape: []int64{n}}
	if elems != nil {
		in.Contents = &pb.InferTensorContents{}
		for _, e := range elems {
			in.Contents.BytesContents = append(in.Contents.BytesContents, []byte(e))
		}
	}
	return in
}

// decoded is a ModelInferResponse's outputs read back.
type decoded struct {
	labels []string
	conf   []float64
	probs  []float64
	shapes map[string][]int64
}

func decodeResp(t *testing.T, r *pb.ModelInferResponse) decoded {
	t.Helper()
	if len(r.RawOutputContents) != len(r.Outputs) {
		t.Fatalf("%d raw outputs for %d outputs", len(r.RawOutputContents), len(r.Outputs))
	}
	d := decoded{shapes: map[string][]int64{}}
	for i, o := range r.Outputs {
		raw := r.RawOutputContents[i]
		d.shapes[o.Name] = o.Shape
		switch o.Name {
		case "label":
			s, err := decodeRawBytes(raw, int(o.Shape[0]))
			if err != nil {
				t.Fatal(err)
			}
			d.labels = s
		case "confidence", "probabilities":
			fs := make([]float64, len(raw)/8)
			for j := range fs {
				fs[j] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
			}
			if o.Name == "confidence" {
				d.conf = fs
			} else {
				d.probs = fs
			}
		}
	}
	return d
}

// batchPredict asks /batch-predict over HTTP for the reference answer.
func batchPredict(t *testing.T, srv *server.Server, ref string, texts []string) api.BatchPredictResponse {
	t.Helper()
	b, _ := json.Marshal(api.BatchPredictRequest{Texts: texts, ModelVersion: ref, ReturnProbabilities: true})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/batch-predict", bytes.NewReader(b)))
	if rec.Code != 200 {
		t.Fatalf("/batch-predict: %d %s", rec.Code, rec.Body)
	}
	var out api.BatchPredictResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var texts = []string{"WIN a FREE prize now, click here", "see you at lunch tomorrow?", "URGENT: your account needs verification"}

// TestModelInferMatchesBatchPredict: by name, by name and version (label
// and bare number), by full id, with bytes_contents and with
// raw_input_contents, shape [N] and [N,1], the answers are
// /batch-predict's for the same texts, probabilities in label order.
func TestModelInferMatchesBatchPredict(t *testing.T) {
	f := newFixture(t, nil)
	md, err := f.client.ModelMetadata(ctxT(t), &pb.ModelMetadataRequest{Name: "spam"})
	if err != nil {
		t.Fatal(err)
	}
	coreMD, err := f.srv.ModelMetadata("spam", "")
	if err != nil {
		t.Fatal(err)
	}
	labels := coreMD.Labels
	tests := []struct {
		name, model, version, ref string
		raw                       bool
		shape                     []int64
	}{
		{name: "bare name", model: "spam", ref: "spam"},
		{name: "name and version", model: "spam", version: "v1", ref: "spam-v1"},
		{name: "bare version number", model: "spam", version: "1", ref: "spam-v1"},
		{name: "full id", model: "spam-v1", ref: "spam-v1"},
		{name: "raw contents", model: "spam", version: "v2", ref: "spam-v2", raw: true},
		{name: "shape N,1", model: "spam", ref: "spam", shape: []int64{3, 1}},
		{name: "raw shape N,1", model: "spam", ref: "spam", raw: true, shape: []int64{3, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &pb.ModelInferRequest{ModelName: tc.model, ModelVersion: tc.version, Id: "req-" + tc.name}
			if tc.raw {
				req.Inputs = []*pb.ModelInferRequest_InferInputTensor{textInput(3)}
				req.RawInputContents = [][]byte{rawBytes(texts...)}
			} else {
				req.Inputs = []*pb.ModelInferRequest_InferInputTensor{textInput(3, texts...)}
			}
			if tc.shape != nil {
				req.Inputs[0].Shape = tc.shape
			}
			resp, err := f.client.ModelInfer(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Id != req.Id || resp.ModelName != tc.model {
				t.Errorf("id %q model %q", resp.Id, resp.ModelName)
			}
			want := batchPredict(t, f.srv, tc.ref, texts)
			if resp.ModelVersion != strings.TrimPrefix(want.ModelVersion, "spam-") {
				t.Errorf("model_version %q, /batch-predict answered %q", resp.ModelVersion, want.ModelVersion)
			}
			d := decodeResp(t, resp)
			if len(d.labels) != 3 || len(d.conf) != 3 || len(d.probs) != 3*len(labels) {
				t.Fatalf("outputs %+v", d)
			}
			if got := d.shapes["probabilities"]; len(got) != 2 || got[0] != 3 || got[1] != int64(len(labels)) {
				t.Errorf("probabilities shape %v", got)
			}
			for i, p := range want.Predictions {
				if d.labels[i] != p.Label || d.conf[i] != p.Confidence {
					t.Errorf("text %d: %s %v, /batch-predict %s %v", i, d.labels[i], d.conf[i], p.Label, p.Confidence)
				}
				for j, l := range labels {
					if d.probs[i*len(labels)+j] != p.Probabilities[l] {
						t.Errorf("text %d label %s: %v, /batch-predict %v", i, l, d.probs[i*len(labels)+j], p.Probabilities[l])
					}
				}
			}
		})
	}
	if md.Name != "spam" || len(md.Inputs) != 1 || md.Inputs[0].Name != "text" || md.Inputs[0].Datatype != "BYTES" ||
		len(md.Outputs) != 3 || md.Platform != "mlserve-sklearn" || len(md.Versions) != 2 {
		t.Errorf("metadata %v", md)
	}
}

// TestModelInferOutputs: only the requested outputs come back, in the
// order asked; return_probabilities false leaves them out by default.
func TestModelInferOutputs(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		outs   []string
		params map[string]*pb.InferParameter
		want   []string
	}{
		{name: "all by default", want: []string{"label", "confidence", "probabilities"}},
		{name: "one", outs: []string{"confidence"}, want: []string{"confidence"}},
		{name: "two", outs: []string{"probabilities", "label"}, want: []string{"label", "probabilities"}},
		{name: "no probabilities", params: map[string]*pb.InferParameter{
			"return_probabilities": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: false}},
			"timeout_ms":           {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 5000}}},
			want: []string{"label", "confidence"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &pb.ModelInferRequest{ModelName: "spam", Parameters: tc.params,
				Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1, texts[0])}}
			for _, o := range tc.outs {
				req.Outputs = append(req.Outputs, &pb.ModelInferRequest_InferRequestedOutputTensor{Name: o})
			}
			resp, err := f.client.ModelInfer(ctxT(t), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range resp.Outputs {
				got = append(got, o.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("outputs %v, want %v", got, tc.want)
			}
			if resp.Id == "" {
				t.Error("no generated request id")
			}
		})
	}
}

// TestModelInferErrors: bad requests, unknown models and versions come
// back with the code of their kind and the server's message.
func TestModelInferErrors(t *testing.T) {
	f := newFixture(t, nil)
	many := make([]string, 101)
	for i := range many {
		many[i] = "x"
	}
	in := func(mut func(*pb.ModelInferRequest_InferInputTensor)) []*pb.ModelInferRequest_InferInputTensor {
		t := textInput(1, "hello")
		mut(t)
		return []*pb.ModelInferRequest_InferInputTensor{t}
	}
	tests := []struct {
		name    string
		req     *pb.ModelInferRequest
		code    codes.Code
		message string
	}{
		{name: "unknown model", req: &pb.ModelInferRequest{ModelName: "nope", Inputs: in(func(*pb.ModelInferRequest_InferInputTensor) {})},
			code: codes.NotFound, message: "nope"},
		{name: "unknown version", req: &pb.ModelInferRequest{ModelName: "spam", ModelVersion: "9", Inputs: in(func(*pb.ModelInferRequest_InferInputTensor) {})},
			code: codes.NotFound, message: "spam"},
		{name: "bad version", req: &pb.ModelInferRequest{ModelName: "spam", ModelVersion: "latest", Inputs: in(func(*pb.ModelInferRequest_InferInputTensor) {})},
			code: codes.NotFound, message: "latest"},
		{name: "no inputs", req: &pb.ModelInferRequest{ModelName: "spam"}, code: codes.InvalidArgument, message: "one input"},
		{name: "wrong input name", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: in(func(t *pb.ModelInferRequest_InferInputTensor) { t.Name = "input" })},
			code: codes.InvalidArgument, message: `"input"`},
		{name: "wrong datatype", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: in(func(t *pb.ModelInferRequest_InferInputTensor) { t.Datatype = "FP32" })},
			code: codes.InvalidArgument, message: "BYTES"},
		{name: "wrong shape", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: in(func(t *pb.ModelInferRequest_InferInputTensor) { t.Shape = []int64{1, 2} })},
			code: codes.InvalidArgument, message: "shape"},
		{name: "shape disagrees", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: in(func(t *pb.ModelInferRequest_InferInputTensor) { t.Shape = []int64{2} })},
			code: codes.InvalidArgument, message: "bytes_contents has 1"},
		{name: "no texts", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(0)}},
			code: codes.InvalidArgument, message: "no texts"},
		{name: "too many texts", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(101, many...)}},
			code: codes.InvalidArgument, message: "100"},
		{name: "raw length past end", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1)},
			RawInputContents: [][]byte{{200, 0, 0, 0, 'a'}}}, code: codes.InvalidArgument, message: "runs past"},
		{name: "raw trailing bytes", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1)},
			RawInputContents: [][]byte{append(rawBytes("a"), 'b')}}, code: codes.InvalidArgument, message: "after the last"},
		{name: "raw huge count", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1 << 40)},
			RawInputContents: [][]byte{rawBytes("a")}}, code: codes.InvalidArgument, message: "shape"},
		{name: "not utf-8", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1, "\xff\xfe")}},
			code: codes.InvalidArgument, message: "UTF-8"},
		{name: "unknown output", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: in(func(*pb.ModelInferRequest_InferInputTensor) {}),
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}}}, code: codes.InvalidArgument, message: "logits"},
		{name: "bad timeout", req: &pb.ModelInferRequest{ModelName: "spam", Inputs: in(func(*pb.ModelInferRequest_InferInputTensor) {}),
			Parameters: map[string]*pb.InferParameter{"timeout_ms": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "soon"}}}},
			code: codes.InvalidArgument, message: "timeout_ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.client.ModelInfer(ctxT(t), tc.req)
			st, _ := status.FromError(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.message) {
				t.Errorf("got %v %q, want %v with %q", st.Code(), st.Message(), tc.code, tc.message)
			}
		})
	}
}

// TestHealthMetadataReflection: live, ready, model ready, server metadata,
// gRPC health checking and reflection listing the inference service.
func TestHealthMetadataReflection(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	if r, err := f.client.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("live %v %v", r, err)
	}
	if r, err := f.client.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ready %v %v", r, err)
	}
	for _, v := range []string{"", "v1", "2"} {
		if r, err := f.client.ModelReady(ctx, &pb.ModelReadyRequest{Name: "spam", Version: v}); err != nil || !r.Ready {
			t.Errorf("model ready %q: %v %v", v, r, err)
		}
	}
	if _, err := f.client.ModelReady(ctx, &pb.ModelReadyRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown model ready: %v", err)
	}
	if _, err := f.client.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "spam", Version: "7"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown version metadata: %v", err)
	}
	md, err := f.client.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	if err != nil || md.Name != "mlserve" || md.Version != "test" {
		t.Errorf("server metadata %v %v", md, err)
	}
	hc := healthpb.NewHealthClient(f.conn)
	for _, svc := range []string{"", ServiceName} {
		if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v", svc, r, err)
		}
	}
	rc, err := reflectpb.NewServerReflectionClient(f.conn).ServerReflectionInfo(ctx)
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
	if !strings.Contains(strings.Join(names, ","), ServiceName) || !strings.Contains(strings.Join(names, ","), "grpc.health.v1.Health") {
		t.Errorf("reflection lists %v", names)
	}
	// Draining: ServerReady false, health NOT_SERVING.
	f.srv.Drain()
	if r, err := f.client.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || r.Ready {
		t.Errorf("ready while draining %v %v", r, err)
	}
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while draining: %v %v", r, err)
	}
}

// blockingEngine holds every batch until released, and reports a full
// queue once one is held: the door's view of a busy server.
type blockingEngine struct {
	release chan struct{}
	busy    chan struct{}
}

func (e *blockingEngine) Predict(ctx context.Context, id string, m model.Model, texts []string) ([]model.Prediction, error) {
	select {
	case e.busy <- struct{}{}:
	default:
		return nil, inference.ErrQueueFull
	}
	select {
	case <-e.release:
	case <-ctx.Done():
		<-e.busy
		return nil, ctx.Err()
	}
	<-e.busy
	return m.Predict(ctx, texts)
}

// TestCodesFromTheEngine: a full queue is RESOURCE_EXHAUSTED, a request past
// its deadline DEADLINE_EXCEEDED; the graceful stop lets a call in flight
// finish.
func TestCodesFromTheEngine(t *testing.T) {
	eng := &blockingEngine{release: make(chan struct{}), busy: make(chan struct{}, 1)}
	f := newFixture(t, eng)
	req := func(text string, timeout int64) *pb.ModelInferRequest {
		r := &pb.ModelInferRequest{ModelName: "spam", Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1, text)}}
		if timeout > 0 {
			r.Parameters = map[string]*pb.InferParameter{"timeout_ms": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: timeout}}}
		}
		return r
	}
	if _, err := f.client.ModelInfer(ctxT(t), req("deadline", 50)); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("past its timeout: %v", err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := f.client.ModelInfer(context.Background(), req("held", 0))
		held <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(eng.busy) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.client.ModelInfer(ctxT(t), req("second", 0)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("queue full: %v", err)
	}
	stopped := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.door.Stop(ctx)
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stopped with a call in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(eng.release)
	if err := <-held; err != nil {
		t.Errorf("call in flight during the stop: %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("no stop after the last call")
	}
}

// TestCodeOf: the table maps each error kind to its gRPC code.
func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{inference.ErrQueueFull, codes.ResourceExhausted},
		{model.ErrNotReady, codes.Unavailable},
		{inference.ErrClosed, codes.Unavailable},
		{model.ErrNotFound, codes.NotFound},
		{server.ErrBadRequest, codes.InvalidArgument},
		{model.ErrInvalid, codes.InvalidArgument},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},
		{errors.New("boom"), codes.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if got := codeOf(tc.err); got != tc.want {
				t.Errorf("codeOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if st, _ := status.FromError(toStatus(tc.err)); st.Code() != tc.want {
				t.Errorf("toStatus code %v", st.Code())
			}
		})
	}
}

// FuzzDecodeRawBytes: any raw contents decode or fail, never panic, and
// what decodes re-encodes to the same bytes.
func FuzzDecodeRawBytes(f *testing.F) {
	f.Add(rawBytes("a", "bc"), 2)
	f.Add([]byte{255, 255, 255, 255}, 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > len(b)/4 {
			return
		}
		s, err := decodeRawBytes(b, n)
		if err != nil {
			return
		}
		if !bytes.Equal(rawBytes(s...), b) {
			t.Fatalf("%q decodes to %q, which encodes differently", b, s)
		}
	})
}

// fullEngine answers every batch with a full queue.
type fullEngine struct{}

func (fullEngine) Predict(context.Context, string, model.Model, []string) ([]model.Prediction, error) {
	return nil, inference.ErrQueueFull
}

// TestCodeOfServerErrors: the server's errors, as Infer returns them
// (problem documents), map to their gRPC code from the error itself: a full
// queue is RESOURCE_EXHAUSTED even while the server drains (the version
// then no longer counts as ready, so asking ModelReady would have said
// UNAVAILABLE), and an unknown model NOT_FOUND.
func TestCodeOfServerErrors(t *testing.T) {
	srv := newCore(t, fullEngine{}, nil)
	for _, drain := range []bool{false, true} {
		if drain {
			srv.Drain()
		}
		_, err := srv.Infer(ctxT(t), server.InferRequest{Name: "spam", Texts: []string{"hello"}, Protocol: server.ProtocolV2GRPC})
		if !errors.Is(err, inference.ErrQueueFull) {
			t.Fatalf("draining %v: Infer's error %v does not keep its cause", drain, err)
		}
		if got := codeOf(err); got != codes.ResourceExhausted {
			t.Errorf("draining %v: codeOf(%v) = %v, want ResourceExhausted", drain, err, got)
		}
		if got := status.Convert(toStatus(err)).Message(); !strings.Contains(got, "queue") {
			t.Errorf("draining %v: message %q does not say the queue is full", drain, got)
		}
	}
	_, err := srv.Infer(ctxT(t), server.InferRequest{Name: "nope", Texts: []string{"hello"}, Protocol: server.ProtocolV2GRPC})
	if got := codeOf(err); got != codes.NotFound {
		t.Errorf("unknown model: codeOf(%v) = %v, want NotFound", err, got)
	}
}

// TestModelInferExplanation: the explanation output over gRPC, one JSON
// document per text, its top_k from the output's parameters.
func TestModelInferExplanation(t *testing.T) {
	f := newFixture(t, nil)
	req := &pb.ModelInferRequest{ModelName: "spam",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(2, texts[0], texts[1])},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "label"}, {Name: "explanation",
			Parameters: map[string]*pb.InferParameter{"top_k": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 2}}}}}}
	resp, err := f.client.ModelInfer(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Outputs) != 2 || resp.Outputs[1].Name != "explanation" || resp.Outputs[1].Datatype != "BYTES" {
		t.Fatalf("outputs %v", resp.Outputs)
	}
	raw := resp.RawOutputContents[1]
	for i := range 2 {
		n := binary.LittleEndian.Uint32(raw)
		var ex api.Explanation
		if err := json.Unmarshal(raw[4:4+n], &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Method != "exact" || len(ex.Contributions) > 2 || ex.Features > 2 && len(ex.Contributions) != 2 {
			t.Errorf("text %d: %+v", i, ex)
		}
		raw = raw[4+n:]
	}
	req.Outputs[1].Parameters["top_k"] = &pb.InferParameter{ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 5000}}
	if _, err := f.client.ModelInfer(ctxT(t), req); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("top_k 5000: %v", err)
	}
}
