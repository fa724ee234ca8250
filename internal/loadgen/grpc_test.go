package loadgen

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// slowInfer answers ModelInfer after delay, with fixedAnswer, and records
// whether each call came with a deadline and the texts it carried.
type slowInfer struct {
	pb.UnimplementedGRPCInferenceServiceServer
	delay time.Duration
	mu    sync.Mutex
	calls int
	dated int // calls whose context had a deadline (grpc-timeout sent)
	texts map[string]int
}

func (s *slowInfer) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	s.mu.Lock()
	s.calls++
	if _, ok := ctx.Deadline(); ok {
		s.dated++
	}
	for _, t := range req.GetInputs()[0].GetContents().GetBytesContents() {
		s.texts[string(t)]++
	}
	s.mu.Unlock()
	select {
	case <-time.After(s.delay):
		return fixedAnswer, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func serveSlow(t *testing.T, s *slowInfer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pb.RegisterGRPCInferenceServiceServer(g, s)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	return ln.Addr().String()
}

// TestGRPCCallBound: the generator's gRPC calls carry no deadline to the
// server (the HTTP doors' clients send none either), yet a call that gets
// no answer within the timeout is counted as a timeout; every request
// carries fresh texts although the request message is reused.
func TestGRPCCallBound(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		s := &slowInfer{texts: map[string]int{}}
		addr := serveSlow(t, s)
		res, err := Run(context.Background(), Config{URL: "http://unused", Protocol: ProtocolGRPC, GRPCAddr: addr, Model: "spam-v1", Batch: 3,
			Concurrency: 2, Requests: 40, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 40 || res.ErrorCount() != 0 || res.Texts != 120 {
			t.Fatalf("%d requests, %d texts, errors %v %s", res.Requests, res.Texts, res.Errors, res.FirstError)
		}
		if s.calls != 40 || s.dated != 0 {
			t.Errorf("%d calls, %d with a deadline; want 40, 0", s.calls, s.dated)
		}
		if len(s.texts) != 120 {
			t.Errorf("%d distinct texts in 120 sent", len(s.texts))
		}
	})
	t.Run("timed out", func(t *testing.T) {
		s := &slowInfer{delay: time.Minute, texts: map[string]int{}}
		addr := serveSlow(t, s)
		start := time.Now()
		res, err := Run(context.Background(), Config{URL: "http://unused", Protocol: ProtocolGRPC, GRPCAddr: addr, Model: "spam-v1",
			Concurrency: 1, Requests: 3, Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 0 || res.Errors["grpc DeadlineExceeded"] != 3 || !strings.Contains(res.FirstError, "100ms") {
			t.Fatalf("%d ok, errors %v %q; want 3 timeouts", res.Requests, res.Errors, res.FirstError)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("3 timed-out calls took %v", d)
		}
	})
	t.Run("run's end", func(t *testing.T) {
		s := &slowInfer{delay: time.Minute, texts: map[string]int{}}
		addr := serveSlow(t, s)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		res, err := Run(ctx, Config{URL: "http://unused", Protocol: ProtocolGRPC, GRPCAddr: addr, Model: "spam-v1", Concurrency: 2, Requests: 10})
		if err == nil || res == nil || res.ErrorCount() != 0 {
			t.Fatalf("%v, %+v: want ctx's error and no call counted as failed", err, res)
		}
	})
}

// TestCountOutputs: the outputs of answers the protobuf library builds,
// and errors for what is not protobuf.
func TestCountOutputs(t *testing.T) {
	ok, err := proto.Marshal(fixedAnswer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want int
		err  bool
	}{
		{"door's answer", ok, 3, false},
		{"empty", nil, 0, false},
		{"truncated", ok[:len(ok)-1], 0, true},
		{"field 0", []byte{0x00, 0x01}, 0, true},
		{"length past the end", []byte{0x2a, 0x10, 0x01}, 0, true},
		{"outputs as varint is no output", protowire.AppendVarint([]byte{0x28}, 1), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := countOutputs(tc.b)
			if n != tc.want || (err != nil) != tc.err {
				t.Fatalf("countOutputs = %d, %v; want %d, error %v", n, err, tc.want, tc.err)
			}
		})
	}
}

// FuzzCountOutputs: countOutputs against the protobuf library. Where the
// library accepts the bytes as a ModelInferResponse, countOutputs accepts
// them and counts its outputs; where countOutputs refuses them, so does
// the library.
func FuzzCountOutputs(f *testing.F) {
	b, _ := proto.Marshal(fixedAnswer)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x2a, 0x00, 0x2a, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x0b, 0x0c})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.ModelInferResponse
		perr := proto.Unmarshal(b, &m)
		n, err := countOutputs(b)
		if perr == nil && (err != nil || n != len(m.Outputs)) {
			t.Fatalf("library: %d outputs; countOutputs: %d, %v", len(m.Outputs), n, err)
		}
		if err != nil && perr == nil {
			t.Fatalf("countOutputs refused what the library accepts: %v", err)
		}
	})
}
