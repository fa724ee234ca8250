package server

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Compressed protocol requests: tritonclient.http sends a gzip or deflate
// body (Content-Encoding) when a caller sets request_compression_algorithm,
// as Triton accepts. The body is decompressed before anything reads it, so
// Inference-Header-Content-Length counts the decompressed JSON, as the
// extension says, and the body limit holds for both the bytes received and
// the bytes they expand to (a small body cannot become a large one).

// decompressOIP replaces r's gzip or deflate body by its decompressed
// bytes. It answers and returns false for an encoding it does not read
// (415), a body over the limit before or after decompression (413), or one
// that does not decompress (400).
func (s *Server) decompressOIP(w http.ResponseWriter, r *http.Request) bool {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" {
		return true
	}
	limit := s.opts.MaxBodyBytes
	in := &io.LimitedReader{R: r.Body, N: limit + 1}
	var zr io.Reader
	var err error
	switch enc {
	case "gzip", "x-gzip":
		zr, err = gzip.NewReader(in)
	case "deflate": // HTTP's deflate is the zlib format (RFC 9110), as tritonclient sends it
		zr, err = zlib.NewReader(in)
	default:
		s.drain(w, r, r.Body, limit)
		writeProblem(w, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Encoding %q is not supported; send gzip, deflate or an uncompressed body", enc))
		return false
	}
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(zr, limit+1))
	}
	switch {
	case in.N == 0 || int64(len(body)) > limit:
		s.drain(w, r, r.Body, limit)
		writeProblem(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than the limit of %d bytes (decompressed, %s)", limit, enc))
		return false
	case err != nil:
		s.drain(w, r, r.Body, limit)
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("the %s request body does not decompress: %v", enc, err))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Del("Content-Encoding")
	r.Header.Del("Content-Length")
	return true
}
