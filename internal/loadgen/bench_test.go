package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// BenchmarkAppendBody is the per-request body building: it should not
// allocate.
func BenchmarkAppendBody(b *testing.B) {
	for _, batch := range []int{0, 100} {
		b.Run(map[int]string{0: "predict", 100: "batch100"}[batch], func(b *testing.B) {
			g, err := newGen(Config{URL: "http://x", Model: "spam-v1", Batch: batch, RepeatRatio: 0.3, Concurrency: 1, Requests: 1})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, 0, 1<<18)
			b.ReportAllocs()
			for b.Loop() {
				buf = g.appendBody(buf[:0], rng)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkWorkerDo is one request through the generator's HTTP path. The
// server is a bare TCP loop that answers every request with the same bytes
// and allocates nothing per request, so the allocations reported are the
// generator's own (with net/http's client).
func BenchmarkWorkerDo(b *testing.B) {
	url := rawServer(b, rawAnswer)
	for _, kind := range []ClientKind{ClientLean, ClientStd} {
		b.Run(string(kind), func(b *testing.B) {
			g, err := newGen(Config{URL: url, Model: "spam-v1", Concurrency: 1, Requests: 1, Client: NewHTTPClient(1), HTTPClient: kind})
			if err != nil {
				b.Fatal(err)
			}
			defer g.conns.Close()
			w := newWorker(g, 1)
			defer w.release()
			do := w.do
			if kind == ClientLean {
				do = w.doLean
			}
			ctx := context.Background()
			do(ctx, time.Now()) // connect
			b.ReportAllocs()
			for b.Loop() {
				do(ctx, time.Now())
			}
			if w.ok != int64(b.N)+1 {
				b.Fatalf("%d ok of %d: %v %s", w.ok, b.N, w.errs, w.firstErr)
			}
		})
	}
}

const rawAnswer = `{"label":"ham","confidence":0.9,"latency_ms":0.123,"model_version":"spam-v1","request_id":"1","cached":false}`

// BenchmarkGenerator is the generator's CPU per request, the figure that
// matters on a machine it shares with the server under test: Run with 8
// clients against a fixed-answer server in another process, so this
// process's CPU time (getrusage) is the generator's alone. It reports
// cpu-µs/req (user+system) and req/s, for /predict and for /batch-predict
// with 100 texts (the answer is the same small body), and for the gRPC
// door's ModelInfer (the answer the door gives one text) with the lean
// gRPC client (grpc-lean) and grpc-go's (grpc-std).
func BenchmarkGenerator(b *testing.B) {
	url := rawServerProcess(b, "http")
	addr := rawServerProcess(b, "grpc")
	for _, batch := range []int{0, 100} {
		for _, kind := range []ClientKind{ClientLean, ClientStd, "grpc-lean", "grpc-std"} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, kind), func(b *testing.B) {
				cfg := Config{URL: url, Model: "spam-v1", Concurrency: 8, Requests: b.N, HTTPClient: kind, Batch: batch}
				if grpcKind, ok := strings.CutPrefix(string(kind), "grpc-"); ok {
					cfg.HTTPClient, cfg.Protocol, cfg.GRPCAddr, cfg.GRPCClient = "", ProtocolGRPC, addr, ClientKind(grpcKind)
				}
				before := cpuTime(b)
				res, err := Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				cpu := cpuTime(b) - before
				if res.Requests != int64(b.N) {
					b.Fatalf("%d ok of %d: %v %s", res.Requests, b.N, res.Errors, res.FirstError)
				}
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
				b.ReportMetric(res.Throughput(), "req/s")
			})
		}
	}
}

// cpuTime is this process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawServerProcess starts this test binary again as a fixed-answer server
// of kind "http" (rawServer) or "grpc" (grpcServer), see
// TestRawServerProcess, and returns its URL or gRPC address.
func rawServerProcess(b *testing.B, kind string) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRawServerProcess$")
	cmd.Env = append(os.Environ(), "LOADGEN_RAW_SERVER="+kind)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// TestRawServerProcess is rawServerProcess's child: it serves until
// killed. Without LOADGEN_RAW_SERVER it does nothing.
func TestRawServerProcess(t *testing.T) {
	switch os.Getenv("LOADGEN_RAW_SERVER") {
	case "http":
		fmt.Println(rawServer(t, rawAnswer))
	case "grpc":
		fmt.Println(grpcServer(t))
	default:
		t.Skip("the child of BenchmarkGenerator")
	}
	select {}
}

// grpcServer answers every ModelInfer with the answer the gRPC door gives
// one text of spam-v1, with the door's flow-control windows, and returns
// its address.
func grpcServer(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.InitialWindowSize(1<<20), grpc.InitialConnWindowSize(1<<20))
	pb.RegisterGRPCInferenceServiceServer(s, fixedInfer{})
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// fixedInfer is a ModelInfer that answers without looking at the request.
type fixedInfer struct {
	pb.UnimplementedGRPCInferenceServiceServer
}

var fixedAnswer = &pb.ModelInferResponse{ModelName: "spam-v1", ModelVersion: "1", Id: "1",
	Parameters: map[string]*pb.InferParameter{"model_id": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "spam-v1"}}},
	Outputs: []*pb.ModelInferResponse_InferOutputTensor{
		{Name: "label", Datatype: "BYTES", Shape: []int64{1}},
		{Name: "confidence", Datatype: "FP64", Shape: []int64{1}},
		{Name: "probabilities", Datatype: "FP64", Shape: []int64{1, 2}}},
	RawOutputContents: [][]byte{{3, 0, 0, 0, 'h', 'a', 'm'}, make([]byte, 8), make([]byte, 16)}}

func (fixedInfer) ModelInfer(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	return fixedAnswer, nil
}

// rawServer answers HTTP/1.1 requests on one keep-alive connection at a
// time with a fixed 200 response, reading each request's header and
// Content-Length body into reused buffers.
func rawServer(b testing.TB, body string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReaderSize(c, 64<<10)
				skip := make([]byte, 64<<10)
				for {
					n := 0
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						if k := len("content-length:"); len(line) > k && bytes.EqualFold(line[:k], []byte("content-length:")) {
							n = 0
							for _, d := range bytes.TrimSpace(line[k:]) {
								n = n*10 + int(d-'0')
							}
						}
					}
					for n > 0 {
						k := min(n, len(skip))
						if _, err := io.ReadFull(r, skip[:k]); err != nil {
							return
						}
						n -= k
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func BenchmarkServerLatency(b *testing.B) {
	body := []byte(`{"label":"ham","confidence":0.9,"latency_ms":0.123,"model_version":"spam-v1","request_id":"1","cached":false}`)
	b.ReportAllocs()
	for b.Loop() {
		serverLatency(body)
	}
}
