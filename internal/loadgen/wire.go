package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// errMalformed is wrapped by the errors the lean client returns for a
// response that is not well-formed HTTP/1.x.
var errMalformed = errors.New("malformed HTTP response")

const (
	// maxHeaderLines bounds the header lines of one response.
	maxHeaderLines = 128
	// maxBody bounds one response body.
	maxBody = 64 << 20
)

// response is one parsed HTTP/1.x response; body aliases the buffer given
// to readResponse.
type response struct {
	status int
	// close says the server closes the connection after this response
	// (Connection: close, HTTP/1.0 without keep-alive, or a body delimited
	// by the end of the connection).
	close bool
	// retryAfter is the Retry-After header's delay, 0 when absent.
	retryAfter time.Duration
	body       []byte
}

// head is what a response's status line and headers say about its body.
type head struct {
	status     int
	http10     bool
	keepAlive  bool
	close      bool
	length     int64 // -1: not given
	chunked    bool
	retryAfter time.Duration
}

// readResponse reads one response from br, its body appended to buf[:0].
// Interim 1xx responses are skipped. It returns io.EOF, unwrapped, only
// when the connection ended before the response's first byte.
func readResponse(br *bufio.Reader, buf []byte) (response, error) {
	first := true
	for {
		h, err := readHead(br, first)
		if err != nil {
			return response{}, err
		}
		first = false
		if h.status >= 100 && h.status < 200 && h.status != http.StatusSwitchingProtocols {
			continue
		}
		r := response{status: h.status, close: h.close || (h.http10 && !h.keepAlive), retryAfter: h.retryAfter, body: buf[:0]}
		switch {
		case h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
			// No body.
		case h.chunked:
			r.body, err = readChunked(br, r.body)
		case h.length >= 0:
			r.body, err = readN(br, r.body, h.length)
		default:
			// Delimited by the end of the connection.
			r.close = true
			r.body, err = readToEOF(br, r.body)
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return r, err
	}
}

// readLine returns the next line without its CR LF (or bare LF); the
// slice is valid until br's next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformed, br.Size())
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readHead reads a status line and headers. first says this is the
// response's first line, where a clean end of the connection is io.EOF.
func readHead(br *bufio.Reader, first bool) (head, error) {
	h := head{length: -1}
	line, err := readLine(br)
	if err != nil {
		if err == io.EOF && !first {
			err = io.ErrUnexpectedEOF
		}
		return h, err
	}
	// "HTTP/1.1 200 OK": version, space, three digits, then end or space.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return h, fmt.Errorf("%w: status line %q", errMalformed, clip(line))
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 100 {
		return h, fmt.Errorf("%w: status %d", errMalformed, h.status)
	}
	h.http10 = line[7] == '0'
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			return h, nil
		}
		if n == maxHeaderLines {
			return h, fmt.Errorf("%w: more than %d header lines", errMalformed, maxHeaderLines)
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || line[0] == ' ' || line[0] == '\t' {
			return h, fmt.Errorf("%w: header line %q", errMalformed, clip(line))
		}
		name, value := line[:i], bytes.Trim(line[i+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || (h.length >= 0 && n != h.length) {
				return h, fmt.Errorf("%w: Content-Length %q", errMalformed, clip(value))
			}
			if n > maxBody {
				return h, fmt.Errorf("%w: Content-Length %d over %d", errMalformed, n, maxBody)
			}
			h.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			// Chunked must be the last coding; no other is asked for.
			if !bytes.EqualFold(value, []byte("chunked")) {
				return h, fmt.Errorf("%w: Transfer-Encoding %q", errMalformed, clip(value))
			}
			h.chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				h.close = h.close || bytes.EqualFold(tok, []byte("close"))
				h.keepAlive = h.keepAlive || bytes.EqualFold(tok, []byte("keep-alive"))
			}
		case bytes.EqualFold(name, []byte("Retry-After")):
			h.retryAfter = parseRetryAfter(value)
		}
	}
}

// parseDecimal reads a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when neither.
func parseRetryAfter(b []byte) time.Duration {
	if n, ok := parseDecimal(b); ok {
		return time.Duration(min(n, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(string(b)); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// readChunked appends a chunked body to buf, then skips the trailers.
func readChunked(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return buf, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		line = bytes.Trim(line, " \t")
		if len(line) == 0 || len(line) > 15 {
			return buf, fmt.Errorf("%w: chunk size %q", errMalformed, clip(line))
		}
		var size int64
		for _, c := range line {
			switch {
			case c >= '0' && c <= '9':
				size = size<<4 | int64(c-'0')
			case c >= 'a' && c <= 'f':
				size = size<<4 | int64(c-'a'+10)
			case c >= 'A' && c <= 'F':
				size = size<<4 | int64(c-'A'+10)
			default:
				return buf, fmt.Errorf("%w: chunk size %q", errMalformed, clip(line))
			}
		}
		if size == 0 {
			break
		}
		if int64(len(buf))+size > maxBody {
			return buf, fmt.Errorf("%w: chunked body over %d bytes", errMalformed, maxBody)
		}
		if buf, err = readN(br, buf, size); err != nil {
			return buf, err
		}
		if line, err := readLine(br); err != nil {
			return buf, err
		} else if len(line) != 0 {
			return buf, fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return buf, err
		}
		if len(line) == 0 {
			return buf, nil
		}
		if n == maxHeaderLines {
			return buf, fmt.Errorf("%w: more than %d trailer lines", errMalformed, maxHeaderLines)
		}
	}
}

// readN appends n bytes from br to buf, growing buf no faster than the
// bytes arrive, so a false length costs no large allocation.
func readN(br *bufio.Reader, buf []byte, n int64) ([]byte, error) {
	for n > 0 {
		k := int(min(n, 1<<20))
		l := len(buf)
		buf = slices.Grow(buf, k)[:l+k]
		if _, err := io.ReadFull(br, buf[l:]); err != nil {
			return buf[:l], err
		}
		n -= int64(k)
	}
	return buf, nil
}

// readToEOF appends the rest of the connection to buf.
func readToEOF(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxBody {
				return buf, fmt.Errorf("%w: body over %d bytes", errMalformed, maxBody)
			}
			buf = slices.Grow(buf, max(4096, len(buf)))
		}
		n, err := br.Read(buf[len(buf):min(cap(buf), maxBody)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
