package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
)

// fakeConn is a hand-driven HTTP/2 server connection for the lean gRPC
// client's tests: it writes what a test tells it to.
type fakeConn struct {
	nc  net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

// headers writes a HEADERS frame of name, value pairs on stream id.
func (c *fakeConn) headers(id uint32, end bool, kv ...string) {
	c.buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.buf.Bytes(), EndHeaders: true, EndStream: end})
}

// answer writes a whole successful ModelInfer answer on stream id.
func (c *fakeConn) answer(id uint32) {
	c.headers(id, false, ":status", "200", "content-type", "application/grpc")
	c.fr.WriteData(id, false, framed(fixedAnswerBytes))
	c.headers(id, true, "grpc-status", "0")
}

var fixedAnswerBytes, _ = proto.Marshal(fixedAnswer)

// framed prefixes msg as a gRPC message.
func framed(msg []byte) []byte {
	b := []byte{0, byte(len(msg) >> 24), byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}
	return append(b, msg...)
}

// fakeServer serves HTTP/2 connections on a loopback port the kernel
// chose: it sends settings, acks the client's SETTINGS and calls
// onRequest once each request has arrived whole; onRequest returns false
// to close the connection. With credit, each DATA frame received is given
// back at once with WINDOW_UPDATEs. It returns the address and the count
// of connections accepted.
func fakeServer(t *testing.T, settings []http2.Setting, credit bool, onRequest func(c *fakeConn, id uint32) bool) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			t.Cleanup(func() { nc.Close() })
			go func() {
				defer nc.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(nc, preface); err != nil || string(preface) != http2.ClientPreface {
					return
				}
				c := &fakeConn{nc: nc, fr: http2.NewFramer(nc, nc)}
				c.enc = hpack.NewEncoder(&c.buf)
				c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
				c.fr.WriteSettings(settings...)
				for {
					f, err := c.fr.ReadFrame()
					if err != nil {
						return
					}
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							c.fr.WriteSettingsAck()
						}
					case *http2.DataFrame:
						if credit && len(f.Data()) > 0 {
							c.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
							c.fr.WriteWindowUpdate(f.StreamID, uint32(len(f.Data())))
						}
						if f.StreamEnded() && !onRequest(c, f.StreamID) {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &conns
}

// runLean sends calls ModelInfers with the lean gRPC client to addr, one
// at a time.
func runLean(t *testing.T, addr string, calls, batch int) *Result {
	t.Helper()
	res, err := Run(context.Background(), Config{URL: "http://unused", Protocol: ProtocolGRPC, GRPCAddr: addr, Model: "spam-v1",
		Concurrency: 1, Requests: calls, Batch: batch, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Client != "lean gRPC" {
		t.Fatalf("client %q ran, want the lean gRPC client", res.Client)
	}
	return res
}

// TestLeanGRPCServers: the lean gRPC client against servers that answer,
// refuse, reset, go away, close, stall or misbehave. Each failed call is
// counted under its gRPC code, in bounded time, and the next call goes on
// (on a new connection where the old one is unusable).
func TestLeanGRPCServers(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name     string
		settings []http2.Setting
		credit   bool
		batch    int
		serve    func(c *fakeConn, id uint32) bool
		errs     map[string]int64 // of 3 calls
		msg      string           // in the first error
		conns    int32            // connections used for the 3 calls
	}{
		{name: "answers", serve: func(c *fakeConn, id uint32) bool { c.answer(id); return true }, conns: 1},
		{name: "pings and settings mid-call", serve: func(c *fakeConn, id uint32) bool {
			c.fr.WritePing(false, [8]byte{1})
			c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 15})
			c.answer(id)
			return true
		}, conns: 1},
		{name: "trailers-only NOT_FOUND", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, true, ":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "model %22nope%22 not found")
			return true
		}, errs: map[string]int64{"grpc NotFound": 3}, msg: `model "nope" not found`, conns: 1},
		{name: "RST_STREAM", serve: func(c *fakeConn, id uint32) bool {
			c.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			return true
		}, errs: map[string]int64{"grpc Unavailable": 3}, msg: "REFUSED_STREAM", conns: 3},
		{name: "GOAWAY mid-call", serve: func(c *fakeConn, id uint32) bool {
			c.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
			return true
		}, errs: map[string]int64{"grpc Unavailable": 3}, msg: "GOAWAY", conns: 3},
		{name: "GOAWAY after the call's stream", serve: func(c *fakeConn, id uint32) bool {
			c.fr.WriteGoAway(id, http2.ErrCodeNo, nil)
			c.answer(id)
			return true
		}, conns: 3},
		{name: "closes mid-call", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, false, ":status", "200", "content-type", "application/grpc")
			return false
		}, errs: map[string]int64{"grpc Unavailable": 3}, conns: 3},
		{name: "never answers", serve: func(c *fakeConn, id uint32) bool { return true },
			errs: map[string]int64{"grpc DeadlineExceeded": 3}, msg: "no answer in 300ms", conns: 3},
		{name: "garbage", serve: func(c *fakeConn, id uint32) bool {
			c.nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			return true
		}, errs: map[string]int64{"grpc Internal": 3}, conns: 3},
		{name: "huge HEADERS", serve: func(c *fakeConn, id uint32) bool {
			c.buf.Reset()
			c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			c.enc.WriteField(hpack.HeaderField{Name: "x-big", Value: big})
			b := c.buf.Bytes()
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b[:16000]})
			for b = b[16000:]; len(b) > 0; {
				n := min(len(b), 16000)
				c.fr.WriteContinuation(id, n == len(b), b[:n])
				b = b[n:]
			}
			return true
		}, errs: map[string]int64{"grpc ResourceExhausted": 3}, msg: "header block larger", conns: 3},
		{name: "HPACK bomb", serve: func(c *fakeConn, id uint32) bool {
			// One 4000-byte field added to the table, then indexed 100
			// times: a small block, a 400 KB header list.
			kv := []string{":status", "200"}
			for range 100 {
				kv = append(kv, "x-bomb", big[:4000])
			}
			c.headers(id, true, kv...)
			return true
		}, errs: map[string]int64{"grpc ResourceExhausted": 3}, msg: "header list larger", conns: 3},
		{name: "answer past the stream window", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, false, ":status", "200", "content-type", "application/grpc")
			chunk := make([]byte, 16384)
			for range 2 * h2Window / len(chunk) {
				if c.fr.WriteData(id, false, chunk) != nil {
					return false
				}
			}
			return true
		}, errs: map[string]int64{"grpc Internal": 3}, msg: "beyond", conns: 3},
		{name: "frame larger than advertised", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, false, ":status", "200", "content-type", "application/grpc")
			c.fr.WriteData(id, false, make([]byte, 20000))
			return true
		}, errs: map[string]int64{"grpc Internal": 3}, conns: 3},
		{name: "HTTP 503", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, true, ":status", "503")
			return true
		}, errs: map[string]int64{"grpc Unavailable": 3}, conns: 3},
		{name: "no trailers", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, false, ":status", "200", "content-type", "application/grpc")
			c.fr.WriteData(id, true, framed(fixedAnswerBytes))
			return true
		}, errs: map[string]int64{"grpc Internal": 3}, msg: "without trailers", conns: 3},
		{name: "two messages", serve: func(c *fakeConn, id uint32) bool {
			c.headers(id, false, ":status", "200", "content-type", "application/grpc")
			c.fr.WriteData(id, false, append(framed(fixedAnswerBytes), framed(fixedAnswerBytes)...))
			c.headers(id, true, "grpc-status", "0")
			return true
		}, errs: map[string]int64{"grpc Internal": 3}, conns: 3},
		{name: "small send window, opened as read", settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 16}}, credit: true, batch: 50,
			serve: func(c *fakeConn, id uint32) bool { c.answer(id); return true }, conns: 1},
		// A connection's first call goes out within HTTP/2's default
		// window, before the server's SETTINGS are read; the second waits
		// for a WINDOW_UPDATE that never comes, and the third is the first
		// of a new connection.
		{name: "send window never opened", settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}, batch: 50,
			serve: func(c *fakeConn, id uint32) bool { c.answer(id); return true },
			errs:  map[string]int64{"grpc DeadlineExceeded": 1}, conns: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, conns := fakeServer(t, tc.settings, tc.credit, tc.serve)
			start := time.Now()
			res := runLean(t, addr, 3, tc.batch)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("3 calls took %v", d)
			}
			want := int64(3)
			for _, n := range tc.errs {
				want -= n
			}
			if res.Requests != want || !equalCounts(res.Errors, tc.errs) {
				t.Fatalf("%d ok, errors %v (%s); want %d ok, errors %v", res.Requests, res.Errors, res.FirstError, want, tc.errs)
			}
			if !strings.Contains(res.FirstError, tc.msg) {
				t.Errorf("first error %q lacks %q", res.FirstError, tc.msg)
			}
			t.Logf("%d ok, errors %v, first error %q", res.Requests, res.Errors, res.FirstError)
			if n := conns.Load(); n != tc.conns {
				t.Errorf("%d connections for 3 calls, want %d", n, tc.conns)
			}
		})
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// FuzzLeanGRPCAnswer: whatever bytes a server sends after its SETTINGS,
// the lean client's call ends within its deadline with an answer no
// larger than its bound, or an error, and does not panic.
func FuzzLeanGRPCAnswer(f *testing.F) {
	var ok bytes.Buffer
	fr := http2.NewFramer(&ok, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	fr.WriteData(1, false, framed(fixedAnswerBytes))
	hb.Reset()
	enc.WriteField(hpack.HeaderField{Name: "grpc-status", Value: "0"})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	f.Add(ok.Bytes())
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Add(ok.Bytes()[:20])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	f.Fuzz(func(t *testing.T, b []byte) {
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			var settings bytes.Buffer
			http2.NewFramer(&settings, nil).WriteSettings()
			nc.Write(append(settings.Bytes(), b...))
			nc.SetReadDeadline(time.Now().Add(time.Second))
			io.Copy(io.Discard, nc)
		}()
		c, err := dialH2(context.Background(), addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.nc.Close()
		c.nc.SetDeadline(time.Now().Add(50 * time.Millisecond))
		start := time.Now()
		msg := framed([]byte{0x0a, 0x01, 'm'})
		out, err := c.call(h2Fields(addr), msg, new([]byte))
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("call took %v", d)
		}
		if err == nil && len(out) > maxGRPCAnswer {
			t.Fatalf("answer of %d bytes", len(out))
		}
		if err != nil {
			if _, ok := err.(*grpcError); !ok {
				t.Fatalf("error %T %v, want a *grpcError", err, err)
			}
		}
	})
}

// TestHeaderBlockReused: the request's header block is encoded until it
// repeats (all fields indexed), then sent as is.
func TestHeaderBlockReused(t *testing.T) {
	c := &h2conn{}
	c.enc = hpack.NewEncoder(&c.encBuf)
	fields := h2Fields("127.0.0.1:1")
	first := bytes.Clone(c.headerBlock(fields))
	second := bytes.Clone(c.headerBlock(fields))
	if bytes.Equal(first, second) || c.stable {
		t.Fatalf("first block %x, second %x: the first adds to the table, the second indexes it", first, second)
	}
	third := c.headerBlock(fields)
	if !bytes.Equal(second, third) || !c.stable {
		t.Fatalf("third block %x, second %x, stable %v", third, second, c.stable)
	}
	d := hpack.NewDecoder(4096, nil)
	for _, b := range [][]byte{first, second, third} {
		got, err := d.DecodeFull(b)
		if err != nil || len(got) != len(fields) {
			t.Fatalf("decoded %v, %v", got, err)
		}
		for i := range got {
			if got[i].Name != fields[i].Name || got[i].Value != fields[i].Value {
				t.Fatalf("field %d: %v, want %v", i, got[i], fields[i])
			}
		}
	}
	if len(second) != len(fields) {
		t.Errorf("stable block of %d bytes for %d fields, want one index byte each", len(second), len(fields))
	}
}
