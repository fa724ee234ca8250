package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
)

// The lean gRPC client (ClientLean for ProtocolGRPC) speaks unary
// ModelInfer over cleartext HTTP/2 itself, as ClientLean speaks HTTP/1.1:
// one connection per worker, one call at a time, the request's header
// block encoded by HPACK once per connection and reused, its message
// marshalled into a reused buffer, and the answer's frames read into a
// reused buffer and checked by countOutputs. grpc-go's client costs about
// three times its CPU per call, CPU the generator would take from the
// server it measures on a shared machine.
//
// What it accepts from the server is bounded: frames of at most 16 KiB
// (our SETTINGS_MAX_FRAME_SIZE, the default), header lists of at most
// h2MaxHeaderList, answers of at most maxGRPCAnswer (the stream's receive
// window, never replenished), DATA within the windows it advertised, and
// every call within the generator's timeout (a deadline on the
// connection). Anything else fails the call and the worker reconnects.

const (
	// h2Window is the receive window the client advertises, per stream
	// and for the connection (the door's own windows are 1 MiB).
	h2Window = 1 << 20
	// h2MaxHeaderList bounds a response's (or trailers') header list.
	h2MaxHeaderList = 64 << 10
	// maxGRPCAnswer bounds a ModelInfer answer: its message with the
	// 5-byte prefix fills at most one stream window.
	maxGRPCAnswer = h2Window - grpcPrefix
	// grpcPrefix is a gRPC message's prefix: compressed flag, length.
	grpcPrefix = 5
	// h2DefaultWindow and h2DefaultFrame are HTTP/2's initial values.
	h2DefaultWindow = 65535
	h2DefaultFrame  = 16384
	maxWindow       = 1<<31 - 1
)

// grpcError is a failed call with the gRPC code it is counted under.
type grpcError struct {
	code codes.Code
	msg  string
	// trailer: the server sent this status in trailers that closed the
	// stream normally, so the connection goes on.
	trailer bool
}

func (e *grpcError) Error() string { return e.code.String() + ": " + e.msg }

func callErr(c codes.Code, format string, args ...any) *grpcError {
	return &grpcError{code: c, msg: fmt.Sprintf(format, args...)}
}

// h2conn is one connection of the lean gRPC client.
type h2conn struct {
	nc  net.Conn
	bw  *bufio.Writer
	fr  *http2.Framer
	enc *hpack.Encoder
	// encBuf receives enc's output; block is the last header block and
	// stable says encoding it again gives the same bytes (all its fields
	// are indexed), so it is sent as is.
	encBuf bytes.Buffer
	block  []byte
	stable bool
	nextID uint32
	// sendConn is what the server lets us send on the connection,
	// sendInit what it lets a new stream send; maxFrame is its
	// SETTINGS_MAX_FRAME_SIZE.
	sendConn int64
	sendInit int64
	maxFrame uint32
	// recvConn is what the server may still send on the connection;
	// unacked is what was consumed since the last WINDOW_UPDATE.
	recvConn int64
	unacked  int64
	// goaway: the server said no more streams; the connection is closed
	// after the current call.
	goaway bool
	// dec decodes every header block of the connection (HPACK state is
	// the connection's) into hdr, the fields the client reads; block is
	// the block being assembled from HEADERS and CONTINUATION frames, of
	// stream blockID, ending the stream when blockEnd.
	dec      *hpack.Decoder
	hdr      headerInfo
	hblock   []byte
	blockID  uint32
	blockEnd bool
	// stop undoes the tie between the connection and its run's context.
	stop func() bool
}

// dialH2 connects to addr and writes the client preface, SETTINGS and
// the connection's WINDOW_UPDATE (sent with the first call).
func dialH2(ctx context.Context, addr string, timeout time.Duration) (*h2conn, error) {
	d := net.Dialer{Timeout: min(5*time.Second, timeout), KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &h2conn{nc: nc, bw: bufio.NewWriterSize(nc, 16<<10), nextID: 1,
		sendConn: h2DefaultWindow, sendInit: h2DefaultWindow, maxFrame: h2DefaultFrame, recvConn: h2Window}
	c.fr = http2.NewFramer(c.bw, bufio.NewReaderSize(nc, 16<<10))
	c.fr.SetMaxReadFrameSize(h2DefaultFrame)
	c.fr.SetReuseFrames()
	c.dec = hpack.NewDecoder(4096, c.onField)
	c.dec.SetMaxStringLength(h2MaxHeaderList)
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.bw.WriteString(http2.ClientPreface)
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2Window},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList})
	c.fr.WriteWindowUpdate(0, h2Window-h2DefaultWindow)
	return c, nil
}

// reusable says another call may start on c.
func (c *h2conn) reusable() bool { return !c.goaway && c.nextID < maxWindow-2 }

// headerBlock returns the request's HPACK block for fields. The first
// encodings add the fields to the server's dynamic table (as grpc-go's
// client does, so the server's decoding costs what it costs with grpc-go);
// once a block repeats, it is all indexed and reused without encoding.
func (c *h2conn) headerBlock(fields []hpack.HeaderField) []byte {
	if c.stable {
		return c.block
	}
	c.encBuf.Reset()
	for _, f := range fields {
		c.enc.WriteField(f)
	}
	b := c.encBuf.Bytes()
	c.stable = bytes.Equal(b, c.block)
	c.block = append(c.block[:0], b...)
	return c.block
}

// h2stream is the state of the one call in flight.
type h2stream struct {
	id      uint32
	sendWin int64
	rest    []byte // request bytes not yet sent
	recv    int64  // DATA bytes received on the stream
	headers bool   // response headers seen
	done    bool   // trailers seen
	status  *grpcError
	answer  []byte
}

// call sends msg (a gRPC message with its prefix) as a ModelInfer with
// the header fields and returns the answer's message (without prefix),
// read into *buf's storage, which it keeps in *buf for the next call. An error is a *grpcError; after one, or when
// c.reusable() is false, the connection is closed, except after a status
// the server sent in trailers.
func (c *h2conn) call(fields []hpack.HeaderField, msg []byte, buf *[]byte) ([]byte, error) {
	if c.unacked >= h2Window/2 {
		c.fr.WriteWindowUpdate(0, uint32(c.unacked))
		c.recvConn += c.unacked
		c.unacked = 0
	}
	block := c.headerBlock(fields)
	if len(block) > int(c.maxFrame) {
		return nil, callErr(codes.Internal, "request header block of %d bytes exceeds the server's frame size %d", len(block), c.maxFrame)
	}
	st := h2stream{id: c.nextID, sendWin: c.sendInit, rest: msg, answer: (*buf)[:0]}
	defer func() { *buf = st.answer[:0] }()
	c.nextID += 2
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: block, EndHeaders: true}); err != nil {
		return nil, transportErr(err)
	}
	for {
		if err := c.sendSome(&st); err != nil {
			return st.answer, err
		}
		if c.bw.Buffered() > 0 {
			if err := c.bw.Flush(); err != nil {
				return st.answer, transportErr(err)
			}
		}
		if st.done {
			break
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			return st.answer, transportErr(err)
		}
		if err := c.handle(f, &st); err != nil {
			return st.answer, err
		}
	}
	if st.status != nil {
		return st.answer, st.status
	}
	return grpcMessage(st.answer)
}

// sendSome writes as much of the request's rest as the windows allow.
func (c *h2conn) sendSome(st *h2stream) error {
	for len(st.rest) > 0 && !st.done {
		n := int64(len(st.rest))
		n = min(n, c.sendConn, st.sendWin, int64(c.maxFrame))
		if n <= 0 {
			return nil // until a WINDOW_UPDATE
		}
		end := n == int64(len(st.rest))
		if err := c.fr.WriteData(st.id, end, st.rest[:n]); err != nil {
			return transportErr(err)
		}
		c.sendConn -= n
		st.sendWin -= n
		st.rest = st.rest[n:]
	}
	return nil
}

// handle applies one frame from the server to the connection and call.
func (c *h2conn) handle(f http2.Frame, st *h2stream) error {
	switch f := f.(type) {
	case *http2.DataFrame:
		n := int64(f.Header().Length)
		c.recvConn -= n
		c.unacked += n
		if c.recvConn < 0 {
			return callErr(codes.Internal, "the server sent DATA beyond the connection's window")
		}
		if f.StreamID != st.id {
			return nil // a stream already given up
		}
		st.recv += n
		switch {
		case !st.headers:
			return callErr(codes.Internal, "DATA before the response headers")
		case st.recv > h2Window:
			return callErr(codes.Internal, "the server sent DATA beyond the stream's window")
		case len(st.answer)+len(f.Data()) > maxGRPCAnswer+grpcPrefix:
			return callErr(codes.ResourceExhausted, "answer larger than %d bytes", maxGRPCAnswer)
		}
		st.answer = append(st.answer, f.Data()...)
		if f.StreamEnded() {
			return callErr(codes.Internal, "the server ended the stream without trailers")
		}
	case *http2.HeadersFrame:
		c.hblock = append(c.hblock[:0], f.HeaderBlockFragment()...)
		c.blockID, c.blockEnd = f.StreamID, f.StreamEnded()
		if f.HeadersEnded() {
			return c.headersDone(st)
		}
	case *http2.ContinuationFrame:
		// The framer checked it continues the last HEADERS.
		if len(c.hblock)+len(f.HeaderBlockFragment()) > h2MaxHeaderList {
			return callErr(codes.ResourceExhausted, "response header block larger than %d bytes", h2MaxHeaderList)
		}
		c.hblock = append(c.hblock, f.HeaderBlockFragment()...)
		if f.HeadersEnded() {
			return c.headersDone(st)
		}
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		err := f.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingInitialWindowSize:
				st.sendWin += int64(s.Val) - c.sendInit
				c.sendInit = int64(s.Val)
			case http2.SettingMaxFrameSize:
				c.maxFrame = s.Val
			case http2.SettingHeaderTableSize:
				c.enc.SetMaxDynamicTableSizeLimit(s.Val)
				c.stable, c.block = false, c.block[:0]
			}
			return nil
		})
		if err != nil {
			return callErr(codes.Internal, "SETTINGS: %v", err)
		}
		return c.fr.WriteSettingsAck()
	case *http2.PingFrame:
		if !f.IsAck() {
			return c.fr.WritePing(true, f.Data)
		}
	case *http2.WindowUpdateFrame:
		inc := int64(f.Increment)
		switch f.StreamID {
		case 0:
			c.sendConn += inc
			if c.sendConn > maxWindow {
				return callErr(codes.Internal, "the server's WINDOW_UPDATE overflows the connection window")
			}
		case st.id:
			st.sendWin += inc
			if st.sendWin > maxWindow {
				return callErr(codes.Internal, "the server's WINDOW_UPDATE overflows the stream window")
			}
		}
	case *http2.RSTStreamFrame:
		if f.StreamID == st.id {
			return callErr(rstCode(f.ErrCode), "the server reset the stream: %v", f.ErrCode)
		}
	case *http2.GoAwayFrame:
		c.goaway = true
		if st.id > f.LastStreamID {
			return callErr(codes.Unavailable, "the server sent GOAWAY (%v) before the call", f.ErrCode)
		}
	case *http2.PushPromiseFrame:
		return callErr(codes.Internal, "PUSH_PROMISE although push is off")
	}
	return nil
}

// headersDone decodes a whole header block into c.hdr and applies it to
// the call when it is the call's.
func (c *h2conn) headersDone(st *h2stream) error {
	c.hdr = headerInfo{}
	_, err := c.dec.Write(c.hblock)
	if err == nil {
		err = c.dec.Close()
	}
	if err != nil {
		return callErr(codes.Internal, "response headers: %v", err)
	}
	if c.hdr.size > h2MaxHeaderList {
		return callErr(codes.ResourceExhausted, "response header list larger than %d bytes", h2MaxHeaderList)
	}
	if c.blockID != st.id {
		return nil // a stream already given up
	}
	if !st.headers {
		st.headers = true
		if err := responseHeaders(&c.hdr); err != nil {
			return err
		}
		if !c.blockEnd {
			return nil
		}
	} else if !c.blockEnd {
		return callErr(codes.Internal, "a second HEADERS without END_STREAM")
	}
	st.done = true
	st.status = trailerStatus(&c.hdr)
	if len(st.rest) > 0 {
		// The server answered before reading the whole request: the
		// stream is closed for it, not for us.
		c.fr.WriteRSTStream(st.id, http2.ErrCodeNo)
		st.rest = nil
	}
	return nil
}

// headerInfo is what the client reads of a header block: the fields a
// gRPC answer's headers and trailers carry, and the list's size as
// HTTP/2 counts it.
type headerInfo struct {
	status, contentType, grpcStatus, grpcMessage string
	hasContentType, hasGRPCStatus                bool
	size                                         int
}

// onField is the HPACK decoder's: it keeps the fields the client reads.
// Fields the decoder takes from its table cost no allocation.
func (c *h2conn) onField(f hpack.HeaderField) {
	h := &c.hdr
	h.size += int(f.Size())
	switch f.Name {
	case ":status":
		h.status = f.Value
	case "content-type":
		h.contentType, h.hasContentType = f.Value, true
	case "grpc-status":
		h.grpcStatus, h.hasGRPCStatus = f.Value, true
	case "grpc-message":
		h.grpcMessage = f.Value
	}
}

// responseHeaders checks a response's first HEADERS: :status 200 and a
// gRPC content type. Another status maps to a code as gRPC's HTTP
// mapping says.
func responseHeaders(h *headerInfo) error {
	switch {
	case h.status != "200":
		return callErr(httpStatusCode(h.status), "HTTP status %q", h.status)
	case !h.hasContentType:
		return callErr(codes.Internal, "response without content-type")
	case !strings.HasPrefix(h.contentType, "application/grpc"):
		return callErr(codes.Internal, "content-type %q", h.contentType)
	}
	return nil
}

// trailerStatus reads grpc-status and grpc-message: nil for OK.
func trailerStatus(h *headerInfo) *grpcError {
	status := h.grpcStatus
	if !h.hasGRPCStatus {
		return callErr(codes.Internal, "trailers without grpc-status")
	}
	n, err := strconv.ParseUint(status, 10, 32)
	if err != nil {
		return callErr(codes.Internal, "grpc-status %q", status)
	}
	if n == 0 {
		return nil
	}
	return &grpcError{code: codes.Code(n), msg: decodeGRPCMessage(h.grpcMessage), trailer: true}
}

// grpcMessage returns the one message of a unary answer's DATA.
func grpcMessage(b []byte) ([]byte, error) {
	if len(b) < grpcPrefix {
		return b, callErr(codes.Internal, "no answer message (%d bytes of DATA)", len(b))
	}
	if b[0] != 0 {
		return b, callErr(codes.Internal, "compressed answer (flag %d), no compression was offered", b[0])
	}
	n := int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4])
	if n != len(b)-grpcPrefix {
		return b, callErr(codes.Internal, "answer message of %d bytes in %d bytes of DATA", n, len(b)-grpcPrefix)
	}
	return b[grpcPrefix:], nil
}

// decodeGRPCMessage undoes grpc-message's percent-encoding; a malformed
// escape is kept as is.
func decodeGRPCMessage(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// httpStatusCode is gRPC's code for an HTTP status without grpc-status.
func httpStatusCode(s string) codes.Code {
	switch s {
	case "400":
		return codes.Internal
	case "401":
		return codes.Unauthenticated
	case "403":
		return codes.PermissionDenied
	case "404":
		return codes.Unimplemented
	case "429", "502", "503", "504":
		return codes.Unavailable
	}
	return codes.Unknown
}

// rstCode is the gRPC code of a stream reset, as gRPC clients map them.
func rstCode(e http2.ErrCode) codes.Code {
	switch e {
	case http2.ErrCodeRefusedStream:
		return codes.Unavailable
	case http2.ErrCodeCancel:
		return codes.Canceled
	case http2.ErrCodeEnhanceYourCalm:
		return codes.ResourceExhausted
	case http2.ErrCodeInadequateSecurity:
		return codes.PermissionDenied
	}
	return codes.Internal
}

// transportErr is a failed read or write: a timeout, or the connection
// lost (Unavailable), or frames the framer refused (Internal).
func transportErr(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return errTimeout
	case errors.As(err, new(http2.ConnectionError)), errors.As(err, new(http2.StreamError)),
		errors.Is(err, http2.ErrFrameTooLarge):
		return callErr(codes.Internal, "bad frame from the server: %v", err)
	}
	return callErr(codes.Unavailable, "connection: %v", err)
}

// errTimeout is a call the connection's deadline ended.
var errTimeout = &grpcError{code: codes.DeadlineExceeded}

// leanGRPC is one worker's lean gRPC state: its request, built once and
// refilled per call, and its buffers.
type leanGRPC struct {
	inferRequest
	conn *h2conn
	msg  []byte // the request message with its prefix
	ans  []byte // the answer's DATA
}

// h2Fields are the request headers of ModelInfer to authority.
func h2Fields(authority string) []hpack.HeaderField {
	return []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: pb.GRPCInferenceService_ModelInfer_FullMethodName},
		{Name: ":authority", Value: authority},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}
}

// doLeanGRPC sends one ModelInfer that was due at t0 over worker slot's
// lean connection and tallies its outcome.
func (w *worker) doLeanGRPC(ctx context.Context, slot int, t0 time.Time) {
	n := max(w.g.batch, 1)
	lc := w.lean
	if lc == nil {
		lc = &leanGRPC{inferRequest: newInferRequest(w.g.model, n), msg: make([]byte, grpcPrefix, 512)}
		w.lean, w.slot = lc, slot
	}
	lc.fill(w)
	msg, err := proto.MarshalOptions{}.MarshalAppend(lc.msg[:grpcPrefix], lc.req)
	if err != nil {
		w.fail("grpc "+codes.Internal.String(), err.Error())
		return
	}
	size := len(msg) - grpcPrefix
	msg[0], msg[1], msg[2], msg[3], msg[4] = 0, byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	lc.msg = msg
	out, err := w.leanCall(ctx, slot, msg)
	lat := time.Since(t0)
	var outputs int
	if err == nil {
		outputs, err = countOutputs(out)
		if err != nil {
			err = callErr(codes.Internal, "%v", err)
		} else if outputs == 0 {
			err = callErr(codes.Unknown, "answer with no outputs")
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return // the run's end
		}
		ge, _ := err.(*grpcError)
		if ge == nil {
			ge = callErr(codes.Unavailable, "%v", err)
		}
		if ge == errTimeout {
			ge = callErr(codes.DeadlineExceeded, "no answer in %v", w.g.timeout)
		}
		w.fail("grpc "+ge.code.String(), ge.msg)
		return
	}
	w.ok++
	w.texts += int64(n)
	w.lat = append(w.lat, lat)
}

// leanCall makes one call on the worker's connection, connecting first if
// need be, and closes the connection when the call leaves it unusable.
func (w *worker) leanCall(ctx context.Context, slot int, msg []byte) ([]byte, error) {
	lc := w.lean
	if lc.conn == nil {
		c := w.g.h2[slot]
		w.g.h2[slot] = nil
		if c == nil {
			var err error
			if c, err = dialH2(ctx, w.g.grpcAddr, w.g.timeout); err != nil {
				return nil, callErr(codes.Unavailable, "%v", err)
			}
		}
		c.stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
		lc.conn = c
	}
	c := lc.conn
	c.nc.SetDeadline(time.Now().Add(w.g.timeout))
	if err := ctx.Err(); err != nil {
		w.dropLean()
		return nil, err
	}
	out, err := c.call(w.g.h2Fields, msg, &lc.ans)
	// After a status the server sent in trailers that closed the stream
	// normally, the connection goes on.
	if ge, _ := err.(*grpcError); (err != nil && (ge == nil || !ge.trailer)) || !c.reusable() {
		w.dropLean()
	}
	return out, err
}

// dropLean closes the worker's lean gRPC connection.
func (w *worker) dropLean() {
	c := w.lean.conn
	c.stop()
	c.nc.Close()
	w.lean.conn = nil
}

// releaseLean keeps the worker's connection for the next run of the same
// generator, unless the run's end interrupted it.
func (w *worker) releaseLean() {
	if w.lean == nil || w.lean.conn == nil {
		return
	}
	c := w.lean.conn
	if c.stop() {
		w.g.h2[w.slot] = c
	} else {
		c.nc.Close()
	}
	w.lean.conn = nil
}
