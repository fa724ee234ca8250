package grpcserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// inferFrames is the HEADERS block and the DATA payload of one ModelInfer
// call of texts texts to addr, for a raw HTTP/2 client.
func inferFrames(t *testing.T, addr string, texts int) (hdr, msg []byte) {
	t.Helper()
	elems := make([]string, texts)
	for i := range elems {
		elems[i] = "win a free prize now"
	}
	body, err := proto.Marshal(&pb.ModelInferRequest{ModelName: "spam",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{textInput(int64(texts), elems...)}})
	if err != nil {
		t.Fatal(err)
	}
	msg = binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
	msg = append(msg, body...)
	var h bytes.Buffer
	enc := hpack.NewEncoder(&h)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", addr},
		{":path", "/inference.GRPCInferenceService/ModelInfer"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}
	return h.Bytes(), msg
}

// TestClientNeverAcksPing: a raw HTTP/2 client completes the handshake,
// makes one call and reads its answer, then stays connected, reading every
// frame and sending nothing, so never acking a PING. The idle timeout's
// GOAWAY comes with a PING that grpc-go waits for (outgoingGoAwayHandler in
// internal/transport/http2_server.go) for a fixed 5 s before its second
// GOAWAY; with no call open that ends its writer, which closes the socket
// 1 s later still (or once the reader ends; newHTTP2Server, grpc-go issue
// 5358). So the client is cut at IdleTimeout + 6 s, and the door keeps
// answering others.
func TestClientNeverAcksPing(t *testing.T) {
	const idle = 500 * time.Millisecond
	const drainPing = 5 * time.Second // grpc-go's fixed wait for the drain PING's ack
	const closeDelay = time.Second    // and its writer's wait before it closes the socket
	addr, good := tcpDoor(t, Options{IdleTimeout: idle})
	inferWithin(t, good, 5*time.Second)
	before := runtime.NumGoroutine()

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(idle + drainPing + closeDelay + 10*time.Second))
	hdr, msg := inferFrames(t, addr, 1)
	fr := http2.NewFramer(c, c)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdr, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, true, msg); err != nil {
		t.Fatal(err)
	}
	answered := false
	for !answered {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the call's answer: %v", err)
		}
		if h, ok := f.(*http2.HeadersFrame); ok && h.StreamID == 1 && h.StreamEnded() {
			answered = true
		}
	}
	start := time.Now()
	var pings, goaways int
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("still open %s after the answer, idle timeout %s", time.Since(start), idle)
			}
			break
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if !f.IsAck() {
				pings++
			}
		case *http2.GoAwayFrame:
			goaways++
		}
	}
	el := time.Since(start)
	t.Logf("closed %s after the answer (idle %s): %d PINGs and %d GOAWAYs unanswered", el.Round(time.Millisecond), idle, pings, goaways)
	if want := idle + drainPing + closeDelay; el < want-time.Second || el > want+2*time.Second {
		t.Errorf("closed %s after the answer, want about idle + %s + %s = %s", el, drainPing, closeDelay, want)
	}
	if pings == 0 || goaways == 0 {
		t.Errorf("%d PINGs, %d GOAWAYs before the close: not the drain path", pings, goaways)
	}
	if got := goroutinesAtMost(before + 2); got > before+2 {
		t.Errorf("%d goroutines after the client was cut, %d before it came", got, before)
	}
	inferWithin(t, good, 2*time.Second)
}

// loopyBlockedOnWrite says whether a connection's writer (grpc-go's
// loopyWriter) is blocked writing to its socket.
func loopyBlockedOnWrite() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "loopyWriter") && strings.Contains(g, "poll.(*FD).Write") {
			return true
		}
	}
	return false
}

// watchedListener gives every connection it accepts a small send buffer
// (so a client's full window blocks the server's writes after a few KiB,
// as on a slow link, not after the few MiB loopback allows) and records
// when the server closes it, by the client's address.
type watchedListener struct {
	net.Listener
	mu     sync.Mutex
	closed map[string]chan struct{}
}

type watchedConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *watchedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	wc := &watchedConn{Conn: c, closed: make(chan struct{})}
	l.mu.Lock()
	l.closed[c.RemoteAddr().String()] = wc.closed
	l.mu.Unlock()
	return wc, nil
}

// closedChan is closed when the server closes the connection from addr.
func (l *watchedListener) closedChan(addr string) chan struct{} {
	for range 100 {
		l.mu.Lock()
		ch := l.closed[addr]
		l.mu.Unlock()
		if ch != nil {
			return ch
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// TestClientNeverReadsAfterCalls: a raw HTTP/2 client opens a wide flow
// control window, makes calls and then never reads again, so the answers
// fill its TCP receive window and the server's writer blocks on the
// socket with the calls' trailers unsent: the calls never end, so the
// idle timeout never starts (and grpc-go's own keepalive would wait 2 h).
// The keepalive PING (sent once nothing was read from the client for
// IdleTimeout; unanswered for min(IdleTimeout, 20 s)) closes the socket
// itself, which unblocks the writer: the connection and its goroutines
// are freed within IdleTimeout + that ping timeout.
func TestClientNeverReadsAfterCalls(t *testing.T) {
	const idle = 500 * time.Millisecond
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &watchedListener{Listener: inner, closed: map[string]chan struct{}{}}
	addr, good := tcpDoorOn(t, Options{IdleTimeout: idle}, ln)
	inferWithin(t, good, 5*time.Second)
	before := runtime.NumGoroutine()

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10) // the kernel's share of the window: small
	}
	serverClosed := ln.closedChan(c.LocalAddr().String())
	if serverClosed == nil {
		t.Fatal("the server did not accept the connection")
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	hdr, msg := inferFrames(t, addr, 100)
	fr := http2.NewFramer(c, nil)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteWindowUpdate(0, 1<<30); err != nil {
		t.Fatal(err)
	}
	const calls = 64
	for i := range calls {
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(id, true, msg); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	// The precondition: the answers filled the window and the server's
	// writer is stuck on the socket, for good (a second later still).
	for deadline := time.Now().Add(5 * time.Second); !loopyBlockedOnWrite(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server's writer never blocked: the answers did not fill the client's window")
		}
	}
	bound := idle + min(idle, 20*time.Second) + 3*time.Second
	select {
	case <-serverClosed:
		t.Logf("the server closed the connection %s after the calls (idle %s)", time.Since(sent).Round(time.Millisecond), idle)
	case <-time.After(bound - time.Since(sent)):
		t.Fatalf("the connection is still open %s after the calls (writer blocked: %v), bound %s",
			time.Since(sent), loopyBlockedOnWrite(), bound)
	}
	if got := goroutinesAtMost(before); got > before {
		t.Errorf("%d goroutines after the server closed the connection, %d before the client came", got, before)
	}
	// The stacks are the whole process's: another connection's writer may
	// be caught in a write that is about to return, so only one that stays
	// there fails the test.
	for deadline := time.Now().Add(3 * time.Second); loopyBlockedOnWrite(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("a writer is still blocked on a socket 3 s after the server closed the connection")
			break
		}
	}
	inferWithin(t, good, 2*time.Second)
}
