package server_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/server"
)

// oipErr asserts w is a protocol error: {"error": "..."} as JSON with
// status want, and returns the message.
func oipErr(t *testing.T, w *httptest.ResponseRecorder, want int) string {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json: %s", ct, w.Body)
	}
	var e map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, w.Body)
	}
	msg, ok := e["error"].(string)
	if !ok || msg == "" || len(e) != 1 {
		t.Fatalf(`error body %s, want {"error": "..."} alone`, w.Body)
	}
	return msg
}

// TestOIPRoutes: every OIP REST route and its statuses.
func TestOIPRoutes(t *testing.T) {
	reg := newFakeRegistry()
	s := newServer(t, reg, server.Options{Version: "9.9.9"})
	tests := []struct {
		name, method, path, body string
		want                     int
		check                    func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{name: "server metadata", method: "GET", path: "/v2", want: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var m struct {
				Name, Version string
				Extensions    []string
			}
			_ = json.Unmarshal(w.Body.Bytes(), &m)
			if m.Name != "mlserve" || m.Version != "9.9.9" || len(m.Extensions) != 2 {
				t.Fatalf("server metadata %s", w.Body)
			}
		}},
		{name: "live", method: "GET", path: "/v2/health/live", want: 200},
		{name: "ready", method: "GET", path: "/v2/health/ready", want: 200},
		{name: "model metadata", method: "GET", path: "/v2/models/sentiment", want: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			var m struct {
				Name, Platform string
				Versions       []string
				Inputs         []struct{ Name, Datatype string }
				Outputs        []struct {
					Name, Datatype string
					Shape          []int64
				}
				Parameters struct {
					ModelID string   `json:"model_id"`
					Labels  []string `json:"labels"`
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m.Name != "sentiment" || m.Platform != "mlserve-fake" || m.Parameters.ModelID != "sentiment-v2" ||
				strings.Join(m.Parameters.Labels, ",") != "negative,positive" || len(m.Inputs) != 1 || len(m.Outputs) != 3 {
				t.Fatalf("model metadata %s", w.Body)
			}
		}},
		{name: "model version metadata", method: "GET", path: "/v2/models/sentiment/versions/1", want: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
			if !strings.Contains(w.Body.String(), `"model_id":"sentiment-v1"`) {
				t.Fatalf("metadata %s", w.Body)
			}
		}},
		{name: "metadata by id", method: "GET", path: "/v2/models/spam-v1", want: 200},
		{name: "unknown model metadata", method: "GET", path: "/v2/models/nope", want: 404},
		{name: "unknown version metadata", method: "GET", path: "/v2/models/sentiment/versions/7", want: 404},
		{name: "model ready", method: "GET", path: "/v2/models/spam/ready", want: 200},
		{name: "model version ready", method: "GET", path: "/v2/models/sentiment/versions/v1/ready", want: 200},
		{name: "unknown model ready", method: "GET", path: "/v2/models/nope/ready", want: 404},
		{name: "infer", method: "POST", path: "/v2/models/spam/infer", want: 200,
			body: `{"id":"r1","inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["good day","bad day"]}]}`,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				var r struct {
					ModelName    string `json:"model_name"`
					ModelVersion string `json:"model_version"`
					ID           string
					Outputs      []struct {
						Name, Datatype string
						Shape          []int64
						Data           []any
					}
				}
				if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
					t.Fatal(err)
				}
				if r.ModelName != "spam" || r.ModelVersion != "v1" || r.ID != "r1" || len(r.Outputs) != 3 {
					t.Fatalf("response %s", w.Body)
				}
				if r.Outputs[0].Name != "label" || r.Outputs[0].Data[0] != "positive" || r.Outputs[0].Data[1] != "negative" {
					t.Fatalf("labels %s", w.Body)
				}
				if o := r.Outputs[2]; o.Name != "probabilities" || len(o.Shape) != 2 || o.Shape[0] != 2 || o.Shape[1] != 2 || len(o.Data) != 4 || o.Data[1] != 0.9 {
					t.Fatalf("probabilities %+v", o)
				}
			}},
		{name: "infer [N,1] nested", method: "POST", path: "/v2/models/sentiment/versions/1/infer", want: 200,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[2,1],"data":[["good"],["bad"]]}],"outputs":[{"name":"label"}]}`,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if !strings.Contains(w.Body.String(), `"model_version":"v1"`) || strings.Contains(w.Body.String(), "confidence") {
					t.Fatalf("response %s", w.Body)
				}
			}},
		{name: "infer without probabilities", method: "POST", path: "/v2/models/spam/infer", want: 200,
			body: `{"parameters":{"return_probabilities":false,"timeout_ms":5000},"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["good"]}]}`,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if strings.Contains(w.Body.String(), "probabilities") || !strings.Contains(w.Body.String(), "confidence") {
					t.Fatalf("response %s", w.Body)
				}
			}},
		{name: "infer unknown model", method: "POST", path: "/v2/models/nope/infer", want: 404,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["good"]}]}`},
		{name: "infer wrong input name", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"inputs":[{"name":"input","datatype":"BYTES","shape":[1],"data":["good"]}]}`},
		{name: "infer wrong datatype", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"inputs":[{"name":"text","datatype":"FP32","shape":[1],"data":[1.0]}]}`},
		{name: "infer shape mismatch", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[3],"data":["a","b"]}]}`},
		{name: "infer bad shape", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1,2],"data":["a","b"]}]}`},
		{name: "infer 101 texts", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[101],"data":[]}]}`},
		{name: "infer unknown output", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a"]}],"outputs":[{"name":"logits"}]}`},
		{name: "infer not JSON", method: "POST", path: "/v2/models/spam/infer", want: 400, body: `{"inputs":`},
		{name: "infer bad timeout", method: "POST", path: "/v2/models/spam/infer", want: 400,
			body: `{"parameters":{"timeout_ms":"soon"},"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a"]}]}`},
		{name: "infer timeout", method: "POST", path: "/v2/models/spam/infer", want: 504,
			body: `{"parameters":{"timeout_ms":20},"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["slow"]}]}`},
		{name: "infer model failure", method: "POST", path: "/v2/models/spam/infer", want: 500,
			body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["boom"]}]}`},
		{name: "infer GET is 405", method: "GET", path: "/v2/models/spam/infer", want: 405},
		{name: "unknown v2 route", method: "GET", path: "/v2/nothing/here", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, call{method: tt.method, path: tt.path, body: tt.body})
			if tt.want >= 400 {
				msg := oipErr(t, w, tt.want)
				if tt.want == 500 && msg != "internal error" {
					t.Fatalf("500 leaks its cause: %q", msg)
				}
				return
			}
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.check != nil {
				tt.check(t, w)
			}
		})
	}
	reg.mu.Lock()
	reg.ready = false
	reg.mu.Unlock()
	oipErr(t, do(t, s, call{method: "GET", path: "/v2/health/ready"}), 400)
	oipErr(t, do(t, s, call{method: "GET", path: "/v2/models/spam/ready"}), 400)
	w := do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a"]}]}`})
	oipErr(t, w, 503)
	if w.Header().Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}

// binaryRequest builds a binary tensor data request as tritonclient.http
// sends it: the JSON header, then the length-prefixed BYTES elements.
func binaryRequest(t *testing.T, texts []string, params string) ([]byte, int) {
	t.Helper()
	var bin []byte
	for _, s := range texts {
		bin = binary.LittleEndian.AppendUint32(bin, uint32(len(s)))
		bin = append(bin, s...)
	}
	header := `{"inputs":[{"name":"text","datatype":"BYTES","shape":[` + strconv.Itoa(len(texts)) + `],"parameters":{"binary_data_size":` +
		strconv.Itoa(len(bin)) + `}}]` + params + `}`
	return append([]byte(header), bin...), len(header)
}

// TestOIPBinaryTensors: the binary tensor data extension both ways.
func TestOIPBinaryTensors(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	body, hl := binaryRequest(t, []string{"good ☀", "bad"}, `,"parameters":{"binary_data_output":true}`)
	req := httptest.NewRequest("POST", "/v2/models/spam/infer", bytes.NewReader(body))
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hl))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.RemoteAddr = "127.0.0.1:1"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	n, err := strconv.Atoi(w.Header().Get("Inference-Header-Content-Length"))
	if err != nil || n <= 0 || n > w.Body.Len() {
		t.Fatalf("Inference-Header-Content-Length %q of %d bytes", w.Header().Get("Inference-Header-Content-Length"), w.Body.Len())
	}
	var head struct {
		Outputs []struct {
			Name       string
			Shape      []int64
			Data       []any
			Parameters struct {
				Size int `json:"binary_data_size"`
			}
		}
	}
	if err := json.Unmarshal(w.Body.Bytes()[:n], &head); err != nil {
		t.Fatal(err)
	}
	rest := w.Body.Bytes()[n:]
	if len(head.Outputs) != 3 {
		t.Fatalf("header %s", w.Body.Bytes()[:n])
	}
	total := 0
	for _, o := range head.Outputs {
		if o.Data != nil || o.Parameters.Size == 0 {
			t.Fatalf("output %s not binary: %+v", o.Name, o)
		}
		total += o.Parameters.Size
	}
	if total != len(rest) {
		t.Fatalf("binary sizes %d, %d bytes follow", total, len(rest))
	}
	// label: BYTES, length-prefixed
	labels := rest[:head.Outputs[0].Parameters.Size]
	var got []string
	for len(labels) > 0 {
		l := binary.LittleEndian.Uint32(labels)
		got = append(got, string(labels[4:4+l]))
		labels = labels[4+l:]
	}
	if strings.Join(got, ",") != "positive,negative" {
		t.Fatalf("labels %q", got)
	}
	conf := rest[head.Outputs[0].Parameters.Size:][:16]
	if c := math.Float64frombits(binary.LittleEndian.Uint64(conf)); c != 0.9 {
		t.Fatalf("confidence %v", c)
	}

	// Binary in, JSON out for one output, binary for another.
	body, hl = binaryRequest(t, []string{"good"}, `,"outputs":[{"name":"label","parameters":{"binary_data":false}},{"name":"confidence","parameters":{"binary_data":true}}]`)
	req = httptest.NewRequest("POST", "/v2/models/spam/infer", bytes.NewReader(body))
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hl))
	w = httptest.NewRecorder()
	s.ServeHTTP(w, req)
	n, _ = strconv.Atoi(w.Header().Get("Inference-Header-Content-Length"))
	if w.Code != 200 || n == 0 || w.Body.Len() != n+8 || !strings.Contains(w.Body.String()[:n], `"data":["positive"]`) {
		t.Fatalf("mixed answer %d %q", w.Code, w.Body)
	}

	bad := []struct {
		name   string
		body   []byte
		header string
	}{
		{"header length past the body", body, "100000"},
		{"header length not a number", body, "ten"},
		{"size says more than follows", append([]byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":10}}]}`), 1, 0, 0, 0, 'a'), "97"},
		{"element length past the end", append([]byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}}]}`), 9, 0, 0, 0, 'a'), "96"},
		{"not UTF-8", append([]byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}}]}`), 1, 0, 0, 0, 0xff), "96"},
		{"binary without the header length", body, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v2/models/spam/infer", bytes.NewReader(tt.body))
			if tt.header != "" {
				req.Header.Set("Inference-Header-Content-Length", tt.header)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			oipErr(t, w, 400)
		})
	}
}

// TestOIPSpecExamples: the inference request and response examples of the
// OIP specification (KServe V2 "Inference Request Examples"), adapted to a
// text model: the request's shape and its JSON, and the response's fields.
func TestOIPSpecExamples(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	// The specification's example names an id, one BYTES-like input with a
	// shape and flat data, and one requested output.
	w := do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: `{
  "id" : "42",
  "inputs" : [
    {
      "name" : "text",
      "shape" : [ 2 ],
      "datatype" : "BYTES",
      "data" : [ "good", "bad" ]
    }
  ],
  "outputs" : [
    {
      "name" : "confidence"
    }
  ]
}`})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var resp map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	// Response fields the specification requires: model_name, outputs with
	// name, shape, datatype, data; id echoed; model_version optional.
	if resp["id"] != "42" || resp["model_name"] != "spam" {
		t.Fatalf("response %s", w.Body)
	}
	outs := resp["outputs"].([]any)
	if len(outs) != 1 {
		t.Fatalf("outputs %v", outs)
	}
	o := outs[0].(map[string]any)
	for _, k := range []string{"name", "shape", "datatype", "data"} {
		if _, ok := o[k]; !ok {
			t.Fatalf("output lacks %s: %v", k, o)
		}
	}
	if o["datatype"] != "FP64" || len(o["data"].([]any)) != 2 {
		t.Fatalf("output %v", o)
	}
	// The specification's error object: {"error": $string}.
	msg := oipErr(t, do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: `{"inputs":[]}`}), 400)
	if !strings.Contains(msg, "inputs") {
		t.Fatalf("message %q", msg)
	}
}

// TestV1 covers KServe V1's status and predict routes, the colon path
// included.
func TestV1(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	w := do(t, s, call{method: "GET", path: "/v1/models/spam"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ready":true`) || !strings.Contains(w.Body.String(), `"name":"spam"`) {
		t.Fatalf("v1 model %d %s", w.Code, w.Body)
	}
	oipErr(t, do(t, s, call{method: "GET", path: "/v1/models/nope"}), 404)
	w = do(t, s, call{method: "POST", path: "/v1/models/spam:predict", body: `{"instances":["good day",{"text":"bad day"}],"parameters":{"return_probabilities":true}}`})
	if w.Code != 200 {
		t.Fatalf("v1 predict %d %s", w.Code, w.Body)
	}
	var r struct {
		Predictions []struct {
			Label         string
			Confidence    float64
			Probabilities map[string]float64
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Predictions) != 2 || r.Predictions[0].Label != "positive" || r.Predictions[1].Label != "negative" || r.Predictions[0].Probabilities["positive"] != 0.9 {
		t.Fatalf("v1 predictions %s", w.Body)
	}
	w = do(t, s, call{method: "POST", path: "/v1/models/spam-v1:predict", body: `{"instances":["good"]}`})
	if w.Code != 200 || strings.Contains(w.Body.String(), "probabilities") {
		t.Fatalf("v1 by id %d %s", w.Code, w.Body)
	}
	for _, tt := range []struct {
		name, path, body string
		want             int
	}{
		{"unknown model", "/v1/models/nope:predict", `{"instances":["a"]}`, 404},
		{"no instances", "/v1/models/spam:predict", `{"instances":[]}`, 422},
		{"instance not text", "/v1/models/spam:predict", `{"instances":[3]}`, 400},
		{"not JSON", "/v1/models/spam:predict", `{`, 400},
		{"explain is not served (the path is GET's)", "/v1/models/spam:explain", `{"instances":["a"]}`, 405},
	} {
		t.Run(tt.name, func(t *testing.T) { oipErr(t, do(t, s, call{method: "POST", path: tt.path, body: tt.body}), tt.want) })
	}
}

// TestOIPRepository: index, load and unload onto the registry, behind the
// admin rule.
func TestOIPRepository(t *testing.T) {
	reg := newFakeRegistry()
	s := newServer(t, reg, server.Options{})
	w := do(t, s, call{method: "POST", path: "/v2/repository/index", body: `{}`})
	if w.Code != 200 {
		t.Fatalf("index %d %s", w.Code, w.Body)
	}
	var idx []struct{ Name, Version, State string }
	if err := json.Unmarshal(w.Body.Bytes(), &idx); err != nil || len(idx) != 3 || idx[0].State != "READY" || idx[0].Name != "sentiment" {
		t.Fatalf("index %s (%v)", w.Body, err)
	}
	if w := do(t, s, call{method: "POST", path: "/v2/repository/index"}); w.Code != 200 {
		t.Fatalf("index without a body: %d %s", w.Code, w.Body)
	}
	oipErr(t, do(t, s, call{method: "POST", path: "/v2/repository/index", remote: "10.0.0.1:5"}), 403)
	oipErr(t, do(t, s, call{method: "POST", path: "/v2/repository/models/sentiment-v1/unload", remote: "10.0.0.1:5"}), 403)

	if w := do(t, s, call{method: "POST", path: "/v2/repository/models/sentiment-v1/load"}); w.Code != 200 && w.Code != 204 {
		t.Fatalf("load %d %s", w.Code, w.Body)
	}
	if got := reg.defaults["sentiment"]; got != "sentiment-v1" {
		t.Fatalf("load by id: default %s, want sentiment-v1", got)
	}
	if w := do(t, s, call{method: "POST", path: "/v2/repository/models/sentiment-v2/unload"}); w.Code != 200 && w.Code != 204 {
		t.Fatalf("unload %d %s", w.Code, w.Body)
	}
	oipErr(t, do(t, s, call{method: "GET", path: "/v2/models/sentiment/versions/2/ready"}), 404)
	oipErr(t, do(t, s, call{method: "POST", path: "/v2/repository/models/nope/load"}), 404)
	oipErr(t, do(t, s, call{method: "POST", path: "/v2/repository/models/nope-v1/unload"}), 404)
	if w := do(t, s, call{method: "POST", path: "/v2/repository/models/spam/load"}); w.Code != 200 && w.Code != 204 {
		t.Fatalf("load of a serving name %d %s", w.Code, w.Body)
	}

	tok := newServer(t, newFakeRegistry(), server.Options{AdminToken: "sekret"})
	oipErr(t, do(t, tok, call{method: "POST", path: "/v2/repository/index"}), 401)
	if w := do(t, tok, call{method: "POST", path: "/v2/repository/index", header: map[string]string{"Authorization": "Bearer sekret"}}); w.Code != 200 {
		t.Fatalf("index with the token: %d %s", w.Code, w.Body)
	}
}

// TestOIPBodyLimit: an announced body over the limit is a 413 {"error"}.
func TestOIPBodyLimit(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{MaxBodyBytes: 100})
	body := `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["` + strings.Repeat("a", 200) + `"]}]}`
	oipErr(t, do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: body}), http.StatusRequestEntityTooLarge)
	oipErr(t, do(t, s, call{method: "POST", path: "/v1/models/spam:predict", body: body}), http.StatusRequestEntityTooLarge)
}
