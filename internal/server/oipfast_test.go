package server_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/server"
)

// oipText is an OIP infer body with one "text" input of the given shape
// and data, and extra top-level members.
func oipText(shape, data, extra string) string {
	return `{` + extra + `"inputs":[{"name":"text","datatype":"BYTES","shape":` + shape + `,"data":` + data + `}]}`
}

// TestOIPFastPathMatchesGeneral: the OIP infer and V1 predict requests the
// fast path serves get the general path's status, headers and bytes, and
// the ones it must not serve go to the general path.
func TestOIPFastPathMatchesGeneral(t *testing.T) {
	hundred := `[` + strings.Repeat(`"x",`, 99) + `"good"]`
	bin, hl := binaryRequest(t, []string{"good", "bad"}, "")
	const (
		infer   = "/v2/models/spam/infer"
		v1      = "/v1/models/spam:predict"
		unknown = `"outputs":[{"name":"logits"}],`
	)
	tests := []struct {
		name, path, body string
		header           map[string]string
		opts             server.Options
		fast             bool // the fast path must serve it
	}{
		{name: "plain", path: infer, body: oipText(`[1]`, `["good day"]`, ""), fast: true},
		{name: "by version", path: "/v2/models/sentiment/versions/1/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "by v-version", path: "/v2/models/sentiment/versions/v2/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "by id", path: "/v2/models/spam-v1/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "every field", path: infer, fast: true,
			body: ` { "id" : "r-1", "parameters": {"timeout_ms": 5000, "return_probabilities": false, "binary_data_output": false},
				"inputs": [ { "data": ["good", "bad"], "shape": [2, 1], "datatype": "BYTES", "name": "text" } ],
				"outputs": [{"name": "probabilities"}, {"parameters": {"binary_data": false}, "name": "label"}] }` + "\n"},
		{name: "no probabilities", path: infer, body: oipText(`[2]`, `["good","bad"]`, `"parameters":{"return_probabilities":false},`), fast: true},
		{name: "empty id", path: infer, body: oipText(`[1]`, `["good"]`, `"id":"",`), fast: true},
		{name: "html id", path: infer, body: oipText(`[1]`, `["good"]`, `"id":"<a>&b",`), fast: true},
		{name: "escapes", path: infer, body: oipText(`[2]`, `["q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00 good","\ud800 x"]`, `"i\u0064":"\u2028",`), fast: true},
		{name: "empty text", path: infer, body: oipText(`[1]`, `[""]`, ""), fast: true},
		{name: "100 texts", path: infer, body: oipText(`[100]`, hundred, ""), fast: true},
		{name: "repeated output", path: infer, body: oipText(`[1]`, `["good"]`, `"outputs":[{"name":"label"},{"name":"label"}],`), fast: true},
		{name: "unknown output", path: infer, body: oipText(`[1]`, `["good"]`, unknown), fast: true},
		{name: "unknown model", path: "/v2/models/nope/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "unknown version", path: "/v2/models/spam/versions/9/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "id and version disagree", path: "/v2/models/spam-v1/versions/2/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "version as name", path: "/v2/models/v1/infer", body: oipText(`[1]`, `["good"]`, ""), fast: true},
		{name: "timeout", path: infer, body: oipText(`[1]`, `["slow"]`, `"parameters":{"timeout_ms":20},`), fast: true},
		{name: "model error", path: infer, body: oipText(`[1]`, `["boom"]`, ""), fast: true},
		{name: "text too long", path: infer, body: oipText(`[1]`, `["0123456789ab"]`, ""), opts: server.Options{MaxTextChars: 10}, fast: true},
		{name: "text content type", path: infer, body: oipText(`[1]`, `["good"]`, ""), header: map[string]string{"Content-Type": "text/plain"}, fast: true},
		{name: "accept other", path: infer, body: oipText(`[1]`, `["good"]`, ""), header: map[string]string{"Accept": "application/cbor"}, fast: true},
		{name: "not ready", path: infer, body: oipText(`[1]`, `["good"]`, ""), fast: true},

		{name: "binary tensors", path: infer, body: string(bin), header: map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hl)}},
		{name: "binary outputs", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"binary_data_output":true},`)},
		{name: "binary output", path: infer, body: oipText(`[1]`, `["good"]`, `"outputs":[{"name":"label","parameters":{"binary_data":true}}],`)},
		{name: "nested data", path: infer, body: oipText(`[2,1]`, `[["good"],["bad"]]`, "")},
		{name: "fewer data than shape", path: infer, body: oipText(`[2]`, `["good"]`, "")},
		{name: "more data than shape", path: infer, body: oipText(`[1]`, `["good","bad"]`, "")},
		{name: "101 texts", path: infer, body: oipText(`[101]`, `[`+strings.Repeat(`"x",`, 100)+`"x"]`, "")},
		{name: "shape [1,2]", path: infer, body: oipText(`[1,2]`, `["a","b"]`, "")},
		{name: "shape [0]", path: infer, body: oipText(`[0]`, `[]`, "")},
		{name: "shape 1.0", path: infer, body: oipText(`[1.0]`, `["a"]`, "")},
		{name: "shape string", path: infer, body: oipText(`["1"]`, `["a"]`, "")},
		{name: "three dimensions", path: infer, body: oipText(`[1,1,1]`, `["a"]`, "")},
		{name: "number data", path: infer, body: oipText(`[1]`, `[1]`, "")},
		{name: "null data", path: infer, body: oipText(`[1]`, `null`, "")},
		{name: "wrong datatype", path: infer, body: `{"inputs":[{"name":"text","datatype":"FP32","shape":[1],"data":["a"]}]}`},
		{name: "wrong input name", path: infer, body: `{"inputs":[{"name":"input","datatype":"BYTES","shape":[1],"data":["a"]}]}`},
		{name: "two inputs", path: infer, body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a"]},{"name":"text","datatype":"BYTES","shape":[1],"data":["b"]}]}`},
		{name: "no inputs", path: infer, body: `{"inputs":[]}`},
		{name: "input parameters", path: infer, body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a"],"parameters":{}}]}`},
		{name: "unknown key", path: infer, body: oipText(`[1]`, `["good"]`, `"extra":1,`)},
		{name: "case-folded key", path: infer, body: `{"Inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a"]}]}`},
		{name: "repeated key", path: infer, body: oipText(`[1]`, `["good"]`, `"id":"a","id":"b",`)},
		{name: "repeated parameter", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"timeout_ms":5,"timeout_ms":9},`)},
		{name: "unknown parameter", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"priority":1},`)},
		{name: "fractional timeout", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"timeout_ms":1.5},`)},
		{name: "whole fractional timeout", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"timeout_ms":5000.0},`)},
		{name: "negative timeout", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"timeout_ms":-1},`)},
		{name: "string timeout", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"timeout_ms":"soon"},`)},
		{name: "string bool", path: infer, body: oipText(`[1]`, `["good"]`, `"parameters":{"return_probabilities":"no"},`)},
		{name: "no outputs", path: infer, body: oipText(`[1]`, `["good"]`, `"outputs":[],`)},
		{name: "output without name", path: infer, body: oipText(`[1]`, `["good"]`, `"outputs":[{}],`)},
		{name: "not JSON", path: infer, body: `{"inputs":`},
		{name: "trailing data", path: infer, body: oipText(`[1]`, `["good"]`, "") + ` {}`},
		{name: "null body", path: infer, body: `null`},
		{name: "empty body", path: infer, body: ``},
		{name: "invalid UTF-8", path: infer, body: oipText(`[1]`, "[\"a\xffgood\"]", "")},
		{name: "bad name", path: "/v2/models/Spam/infer", body: oipText(`[1]`, `["good"]`, "")},
		{name: "escaped name", path: "/v2/models/sp%61m/infer", body: oipText(`[1]`, `["good"]`, "")},
		{name: "bad version", path: "/v2/models/spam/versions/x1/infer", body: oipText(`[1]`, `["good"]`, "")},
		{name: "body over limit", path: infer, body: oipText(`[1]`, `["`+strings.Repeat("a", 100)+`"]`, ""), opts: server.Options{MaxBodyBytes: 64}},

		{name: "v1 plain", path: v1, body: `{"instances":["good day"]}`, fast: true},
		{name: "v1 batch with probabilities", path: v1, body: ` {"parameters": {"return_probabilities": true, "timeout_ms": 5000}, "instances": ["good", "bad", "<b>&</b>"]}`, fast: true},
		{name: "v1 by id", path: "/v1/models/sentiment-v1:predict", body: `{"instances":["good"]}`, fast: true},
		{name: "v1 no content type", path: v1, body: `{"instances":["good"]}`, header: map[string]string{"Content-Type": ""}, fast: true},
		{name: "v1 unknown model", path: "/v1/models/nope:predict", body: `{"instances":["good"]}`, fast: true},
		{name: "v1 timeout", path: v1, body: `{"instances":["slow"],"parameters":{"timeout_ms":20}}`, fast: true},
		{name: "v1 model error", path: v1, body: `{"instances":["boom"]}`, fast: true},
		{name: "v1 100", path: v1, body: `{"instances":` + hundred + `}`, fast: true},
		{name: "v1 objects", path: v1, body: `{"instances":[{"text":"good"}]}`},
		{name: "v1 empty", path: v1, body: `{"instances":[]}`},
		{name: "v1 101", path: v1, body: `{"instances":[` + strings.Repeat(`"x",`, 100) + `"x"]}`},
		{name: "v1 unknown key", path: v1, body: `{"instances":["good"],"signature_name":"x"}`},
		{name: "v1 unknown parameter", path: v1, body: `{"instances":["good"],"parameters":{"priority":1}}`},
		{name: "v1 fractional timeout", path: v1, body: `{"instances":["good"],"parameters":{"timeout_ms":2.5}}`},
		{name: "v1 repeated parameter", path: v1, body: `{"instances":["good"],"parameters":{"timeout_ms":5,"timeout_ms":9}}`},
		{name: "v1 null", path: v1, body: `{"instances":null}`},
		{name: "v1 cbor", path: v1, body: `{"instances":["good"]}`, header: map[string]string{"Content-Type": "application/cbor"}},
		{name: "v1 bad name", path: "/v1/models/Spam:predict", body: `{"instances":["good"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPathPair(t, tc.opts)
			if tc.name == "not ready" {
				for _, s := range []*server.Server{p.fast, p.huma} {
					s.Drain()
				}
			}
			endpoint := server.EndpointV2Infer
			if strings.HasPrefix(tc.path, "/v1/") {
				endpoint = server.EndpointV1Predict
			}
			w := p.compare(t, tc.path, tc.body, tc.header)
			if got := p.served[endpoint] == 1; got != tc.fast {
				t.Errorf("served by the fast path: %v, want %v (status %d: %s)", got, tc.fast, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); w.Code >= 400 && ct != "application/json" {
				t.Errorf("error answer as %q, want the protocol's application/json: %s", ct, w.Body)
			}
		})
	}
}

// FuzzOIPFastPath sends arbitrary bodies to the OIP infer and V1 predict
// routes of a server with the fast path and one without: status, headers
// and body must match.
func FuzzOIPFastPath(f *testing.F) {
	for _, seed := range []string{
		oipText(`[1]`, `["good"]`, ""), oipText(`[2,1]`, `["a","b"]`, `"id":"x","parameters":{"timeout_ms":50,"return_probabilities":true},`),
		oipText(`[1]`, `["a"]`, `"outputs":[{"name":"confidence","parameters":{"binary_data":false}}],`),
		oipText(`[2]`, `[["a"],["b"]]`, ""), oipText(`[1]`, `["\u00e9\n"]`, `"parameters":{"binary_data_output":false},`),
		`{"instances":["good","bad"]}`, `{"instances":["x"],"parameters":{"return_probabilities":true}}`, `{"instances":[{"text":"a"}]}`,
	} {
		for path := range uint8(3) {
			f.Add([]byte(seed), path)
		}
	}
	p := newPathPair(f, server.Options{MaxBodyBytes: 4096})
	paths := []string{"/v2/models/spam/infer", "/v2/models/sentiment/versions/1/infer", "/v1/models/spam:predict"}
	f.Fuzz(func(t *testing.T, body []byte, path uint8) {
		if bytes.Contains(body, []byte("slow")) || bytes.Contains(body, []byte("boom")) {
			return // the fake model's triggers for 504 and 500
		}
		p.compare(t, paths[int(path)%len(paths)], string(body), map[string]string{"Content-Type": "application/json"})
	})
}
