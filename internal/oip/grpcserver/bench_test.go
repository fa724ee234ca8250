package grpcserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/mlserve/mlserve/internal/model"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/server"
)

// BenchmarkGRPCInfer: single-text throughput of the gRPC door against
// /predict on the same server, model and run, both over real loopback
// sockets with 8 concurrent clients, interleaved in rounds so that neither
// gets the warmer machine. It reports both rates and their ratio (the
// README's figure; the target is ≥ 0.9).
func BenchmarkGRPCInfer(b *testing.B) {
	f := newBenchFixture(b)
	httpSrv := httptest.NewServer(f.srv)
	defer httpSrv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	door := New(f.srv, Options{Logger: quiet()})
	go door.GRPC().Serve(ln)
	defer door.Stop(context.Background())
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewGRPCInferenceServiceClient(conn)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const text = "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now."
	predict := func(i int) error {
		body := []byte(`{"text": "` + text + ` ` + strconv.Itoa(i) + `", "model_version": "spam-v1"}`)
		resp, err := httpClient.Post(httpSrv.URL+"/predict", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return &httpError{resp.StatusCode}
		}
		return nil
	}
	infer := func(i int) error {
		_, err := client.ModelInfer(context.Background(), &pb.ModelInferRequest{ModelName: "spam", ModelVersion: "1",
			Inputs:           []*pb.ModelInferRequest_InferInputTensor{textInput(1)},
			RawInputContents: [][]byte{rawBytes(text + " " + strconv.Itoa(i))}})
		return err
	}
	run := func(call func(int) error, n int) time.Duration {
		const workers = 8
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		start := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					if err := call(i); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errc:
			b.Fatal(err)
		default:
		}
		return time.Since(start)
	}
	run(predict, 200)
	run(infer, 200)
	n := max(b.N, 2000)
	const rounds = 10
	var pEl, gEl time.Duration
	b.ResetTimer()
	for range rounds {
		pEl += run(predict, n/rounds)
		gEl += run(infer, n/rounds)
	}
	b.StopTimer()
	pRate := float64(n/rounds*rounds) / pEl.Seconds()
	gRate := float64(n/rounds*rounds) / gEl.Seconds()
	b.ReportMetric(pRate, "predict_req/s")
	b.ReportMetric(gRate, "grpc_req/s")
	b.ReportMetric(gRate/pRate, "grpc/predict")
}

type httpError struct{ code int }

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.code) }

// BenchmarkDoorCodec is the gRPC door's own work per call around the core:
// a single-text ModelInferRequest from its wire bytes (as the codec
// unmarshals it) through decodeInfer, and the core's answer through
// encodeInfer to wire bytes, by the door's codec (codec=door) or by the
// protobuf codec grpc-go would use without it (codec=proto). Its
// allocations are exact: the figure to cut.
func BenchmarkDoorCodec(b *testing.B) {
	codecs := []struct {
		name string
		c    encoding.CodecV2
	}{{"door", newCodec()}, {"proto", encoding.GetCodecV2(grpcproto.Name)}}
	for _, tc := range []struct {
		name string
		in   *pb.ModelInferRequest_InferInputTensor
		raw  [][]byte
	}{
		{"bytes_contents", textInput(1, "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now."), nil},
		{"raw_input_contents", textInput(1), [][]byte{rawBytes("Subject: You WON $1,000,000!!! Click here to claim your FREE prize now.")}},
	} {
		for _, c := range codecs {
			b.Run(tc.name+"/codec="+c.name, func(b *testing.B) {
				wire, err := proto.Marshal(&pb.ModelInferRequest{ModelName: "spam", ModelVersion: "1",
					Inputs: []*pb.ModelInferRequest_InferInputTensor{tc.in}, RawInputContents: tc.raw})
				if err != nil {
					b.Fatal(err)
				}
				res := &server.InferResult{ModelID: "spam-v1", Name: "spam", Version: "1", Labels: []string{"ham", "spam"},
					Predictions: []model.Prediction{{Label: "spam", Confidence: 0.93, Probabilities: []float64{0.07, 0.93}}},
					Cached:      []bool{false}, RequestID: "0af7651916cd43dd8448eb211c80319c"}
				in := mem.BufferSlice{mem.SliceBuffer(wire)}
				b.ReportAllocs()
				for b.Loop() {
					var req pb.ModelInferRequest
					if err := c.c.Unmarshal(in, &req); err != nil {
						b.Fatal(err)
					}
					ir, outs, err := decodeInfer(&req)
					if err != nil || len(ir.Texts) != 1 {
						b.Fatal(err)
					}
					resp, err := encodeInfer(&req, res, outs)
					if err != nil {
						b.Fatal(err)
					}
					out, err := c.c.Marshal(resp)
					if err != nil {
						b.Fatal(err)
					}
					out.Free()
				}
			})
		}
	}
}
