package server_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/server"
)

func gzipped(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func zlibbed(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestOIPCompressedRequests: tritonclient.http's request_compression_algorithm
// (gzip or deflate, Content-Encoding) answers what the uncompressed request
// does, the binary extension's header length counting the decompressed JSON;
// an unknown encoding is a 415, a corrupt body a 400 and one that expands
// past the body limit a 413, each as the protocol's {"error": "..."}.
func TestOIPCompressedRequests(t *testing.T) {
	const limit = 4096
	s := newServer(t, newFakeRegistry(), server.Options{MaxBodyBytes: limit})
	jsonBody := []byte(`{"id":"z1","inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["good ☀","bad"]}]}`)
	binBody, hl := binaryRequest(t, []string{"good ☀", "bad"}, `,"id":"z1"`)
	binHeader := map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hl), "Content-Type": "application/octet-stream"}
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	plainJSON := do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: string(jsonBody)})
	plainBin := do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: string(binBody), header: binHeader})
	if plainJSON.Code != 200 || plainBin.Code != 200 {
		t.Fatalf("uncompressed: %d %s / %d %s", plainJSON.Code, plainJSON.Body, plainBin.Code, plainBin.Body)
	}
	bomb := gzipped(t, bytes.Repeat([]byte(" "), 64*limit)) // a few hundred bytes that expand to 256 KiB
	if len(bomb) >= limit {
		t.Fatalf("the bomb is %d bytes, not under the limit", len(bomb))
	}
	tests := []struct {
		name   string
		body   string
		header map[string]string
		want   int
		same   string // the uncompressed answer it must equal; "" for an error
		msg    string // a part of the error message
	}{
		{name: "gzip json", body: gzipped(t, jsonBody), header: map[string]string{"Content-Encoding": "gzip"}, want: 200, same: plainJSON.Body.String()},
		{name: "deflate json", body: zlibbed(t, jsonBody), header: map[string]string{"Content-Encoding": "deflate"}, want: 200, same: plainJSON.Body.String()},
		{name: "x-gzip json", body: gzipped(t, jsonBody), header: map[string]string{"Content-Encoding": "x-gzip"}, want: 200, same: plainJSON.Body.String()},
		{name: "identity", body: string(jsonBody), header: map[string]string{"Content-Encoding": "identity"}, want: 200, same: plainJSON.Body.String()},
		{name: "gzip binary", body: gzipped(t, binBody), header: with(binHeader, "Content-Encoding", "gzip"), want: 200, same: plainBin.Body.String()},
		{name: "deflate binary", body: zlibbed(t, binBody), header: with(binHeader, "Content-Encoding", "deflate"), want: 200, same: plainBin.Body.String()},
		{name: "brotli", body: "xx", header: map[string]string{"Content-Encoding": "br"}, want: 415, msg: `Content-Encoding "br" is not supported`},
		{name: "corrupt gzip", body: "not gzip at all", header: map[string]string{"Content-Encoding": "gzip"}, want: 400, msg: "gzip request body does not decompress"},
		{name: "truncated gzip", body: gzipped(t, jsonBody)[:30], header: map[string]string{"Content-Encoding": "gzip"}, want: 400, msg: "does not decompress"},
		{name: "corrupt deflate", body: "not zlib", header: map[string]string{"Content-Encoding": "deflate"}, want: 400, msg: "deflate request body does not decompress"},
		{name: "expands past the limit", body: bomb, header: map[string]string{"Content-Encoding": "gzip"}, want: 413, msg: "larger than the limit of 4096 bytes (decompressed"},
		{name: "compressed past the limit", body: strings.Repeat("x", limit+1), header: map[string]string{"Content-Encoding": "gzip"}, want: 413, msg: "larger than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: tt.body, header: tt.header})
			if tt.want != 200 {
				if msg := oipErr(t, w, tt.want); !strings.Contains(msg, tt.msg) {
					t.Fatalf("error %q, want one containing %q", msg, tt.msg)
				}
				return
			}
			if w.Code != 200 || w.Body.String() != tt.same {
				t.Fatalf("%d %q\nwant the uncompressed answer %q", w.Code, w.Body, tt.same)
			}
		})
	}
	t.Run("v1 predict gzip", func(t *testing.T) {
		body := []byte(`{"instances":["good ☀","bad"]}`)
		hdr := map[string]string{"X-Request-ID": "v1z"}
		plain := do(t, s, call{method: "POST", path: "/v1/models/spam:predict", body: string(body), header: hdr})
		z := do(t, s, call{method: "POST", path: "/v1/models/spam:predict", body: gzipped(t, body), header: with(hdr, "Content-Encoding", "gzip")})
		if plain.Code != 200 || z.Code != 200 || z.Body.String() != plain.Body.String() {
			t.Fatalf("plain %d %s, gzip %d %s", plain.Code, plain.Body, z.Code, z.Body)
		}
	})
}
