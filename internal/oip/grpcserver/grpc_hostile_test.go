package grpcserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// tcpDoor serves the door with opts on a real loopback TCP port and
// returns its address and a client over its own connection.
func tcpDoor(t *testing.T, opts Options) (string, pb.GRPCInferenceServiceClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return tcpDoorOn(t, opts, ln)
}

// tcpDoorOn is tcpDoor serving on ln.
func tcpDoorOn(t *testing.T, opts Options, ln net.Listener) (string, pb.GRPCInferenceServiceClient) {
	t.Helper()
	opts.Logger = quiet()
	door := New(newCore(t, nil, nil), opts)
	served := make(chan struct{})
	go func() { defer close(served); _ = door.GRPC().Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		door.Stop(ctx)
		<-served
	})
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ln.Addr().String(), pb.NewGRPCInferenceServiceClient(conn)
}

// inferWithin makes one ModelInfer call and fails the test if it errs or
// takes longer than d.
func inferWithin(t *testing.T, c pb.GRPCInferenceServiceClient, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	resp, err := c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "spam",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1, "win a free prize now")}})
	if err != nil {
		t.Fatalf("a well-behaved client's call failed after %s: %v", time.Since(start), err)
	}
	if got := decodeResp(t, resp); len(got.labels) != 1 {
		t.Fatalf("answer with %d labels, want 1", len(got.labels))
	}
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// goroutinesAtMost waits up to 3 s for the goroutine count to fall to n;
// it returns the last count.
func goroutinesAtMost(n int) int {
	g := runtime.NumGoroutine()
	for deadline := time.Now().Add(3 * time.Second); g > n && time.Now().Before(deadline); g = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return g
}

// TestClientNeverReads: a raw HTTP/2 client that announces a zero flow
// control window (the server may send no DATA at all), opens thousands of
// ModelInfer calls and never reads a byte. The server holds at most
// MaxConcurrentStreams calls of it, refuses the rest, keeps answering
// another client within a bound, and lets everything go when the client
// leaves.
func TestClientNeverReads(t *testing.T) {
	const streams = 32
	addr, good := tcpDoor(t, Options{MaxConcurrentStreams: streams})
	inferWithin(t, good, 5*time.Second) // warm: model loaded, connection up
	before := runtime.NumGoroutine()
	heapBefore := heapInUse()

	body, err := proto.Marshal(&pb.ModelInferRequest{ModelName: "spam",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(1, "win a free prize now")}})
	if err != nil {
		t.Fatal(err)
	}
	msg := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
	msg = append(msg, body...)
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", addr},
		{":path", "/inference.GRPCInferenceService/ModelInfer"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10) // never read: let the kernel's buffer fill soon
	}
	// Writes must not hang the test if the server stops reading us.
	_ = raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(raw, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(raw, nil)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	const calls = 2000
	sent := 0
	for i := range calls {
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
			break
		}
		if err := fr.WriteData(id, true, msg); err != nil {
			break
		}
		sent++
	}
	if sent < 4*streams {
		t.Fatalf("only %d calls written before the server stopped reading: the test did not open more than the limit", sent)
	}

	// The hostile client's calls are held, but boundedly: its handlers
	// have run (the window is zero, so their answers sit queued).
	time.Sleep(300 * time.Millisecond)
	held := runtime.NumGoroutine() - before
	if held > streams+16 {
		t.Errorf("%d goroutines more while a client holds %d calls unread, limit %d streams", held, sent, streams)
	}
	grown := int64(heapInUse()) - int64(heapBefore)
	t.Logf("%d calls written, %d goroutines held, heap in use grew %d KiB", sent, held, grown>>10)
	// Unbounded, each unread call keeps about 3 KiB (its handler's answer
	// queued behind the zero window): 6 MiB for 2,000 calls.
	if grown > 2<<20 {
		t.Errorf("heap in use grew %d KiB while a client holds %d calls unread, limit %d streams", grown>>10, sent, streams)
	}

	// Another client is still answered, promptly, many times over.
	for range 20 {
		inferWithin(t, good, 2*time.Second)
	}

	raw.Close()
	if got := goroutinesAtMost(before + 2); got > before+2 {
		t.Errorf("%d goroutines after the hostile client left, %d before it came", got, before)
	}
	inferWithin(t, good, 2*time.Second)
}

// ackPingsUntilClosed reads frames from c, answering PINGs, until the
// server closes c; it returns the error that ended the reading.
func ackPingsUntilClosed(c net.Conn) error {
	fr := http2.NewFramer(c, c)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
			if err := fr.WritePing(true, p.Data); err != nil {
				return err
			}
		}
	}
}

// TestSilentAndPartialPreface: connections that send nothing, or only part
// of the HTTP/2 preface, are cut at the handshake timeout; a connection
// that completes the handshake and then opens nothing is sent away at the
// idle timeout.
func TestSilentAndPartialPreface(t *testing.T) {
	const handshake, idle = 300 * time.Millisecond, 600 * time.Millisecond
	addr, good := tcpDoor(t, Options{HandshakeTimeout: handshake, IdleTimeout: idle})
	tests := []struct {
		name  string
		send  string
		bound time.Duration
	}{
		{name: "silent", bound: handshake},
		{name: "half a preface", send: http2.ClientPreface[:10], bound: handshake},
		{name: "preface without settings", send: http2.ClientPreface, bound: handshake},
		{name: "handshake then idle", send: http2.ClientPreface + "settings", bound: idle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			switch {
			case tc.send == http2.ClientPreface+"settings":
				_, err = io.WriteString(c, http2.ClientPreface)
				if err == nil {
					err = http2.NewFramer(c, nil).WriteSettings()
				}
			case tc.send != "":
				_, err = io.WriteString(c, tc.send)
			}
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(tc.bound + 5*time.Second))
			if tc.bound == idle {
				// The idle client is a live peer: it acks the server's PING
				// that follows its first GOAWAY (one that does not is cut
				// 5 s later, grpc-go's fixed grace).
				err = ackPingsUntilClosed(c)
			} else {
				// Read (and drop) whatever the server sends until it closes.
				_, err = io.Copy(io.Discard, c)
			}
			el := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still open after %s, bound %s", el, tc.bound)
			}
			if el < tc.bound/2 || el > tc.bound+2*time.Second {
				t.Errorf("closed after %s, want about %s", el, tc.bound)
			}
		})
	}
	inferWithin(t, good, 2*time.Second)
}
