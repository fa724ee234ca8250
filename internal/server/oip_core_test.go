package server_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/server"
)

// TestInferCore drives the protocol doors' shared entry point: name and
// version resolution as the OIP paths spell them, the limits, and the
// status every error maps to.
func TestInferCore(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{})
	long := strings.Repeat("a", 100_001)
	many := make([]string, 101)
	for i := range many {
		many[i] = "x"
	}
	tests := []struct {
		name          string
		req           server.InferRequest
		wantID        string
		wantStatus    int
		wantMsgSubstr string
	}{
		{name: "bare name is its default", req: server.InferRequest{Name: "sentiment", Texts: []string{"good"}}, wantID: "sentiment-v2"},
		{name: "name and version label", req: server.InferRequest{Name: "sentiment", Version: "v1", Texts: []string{"good"}}, wantID: "sentiment-v1"},
		{name: "bare number is vN", req: server.InferRequest{Name: "sentiment", Version: "1", Texts: []string{"good"}}, wantID: "sentiment-v1"},
		{name: "full id", req: server.InferRequest{Name: "spam-v1", Texts: []string{"good", "bad"}}, wantID: "spam-v1"},
		{name: "full id with its own version", req: server.InferRequest{Name: "spam-v1", Version: "1", Texts: []string{"good"}}, wantID: "spam-v1"},
		{name: "full id with another version", req: server.InferRequest{Name: "spam-v1", Version: "2", Texts: []string{"good"}}, wantStatus: 404},
		{name: "unknown model", req: server.InferRequest{Name: "nope", Texts: []string{"good"}}, wantStatus: 404, wantMsgSubstr: "nope"},
		{name: "unknown version", req: server.InferRequest{Name: "sentiment", Version: "9", Texts: []string{"good"}}, wantStatus: 404},
		{name: "malformed version", req: server.InferRequest{Name: "sentiment", Version: "latest", Texts: []string{"good"}}, wantStatus: 404},
		{name: "empty name is not the default model", req: server.InferRequest{Texts: []string{"good"}}, wantStatus: 404},
		{name: "a version label is not a name", req: server.InferRequest{Name: "v1", Texts: []string{"good"}}, wantStatus: 404},
		{name: "no texts", req: server.InferRequest{Name: "spam"}, wantStatus: 400, wantMsgSubstr: "no texts"},
		{name: "101 texts", req: server.InferRequest{Name: "spam", Texts: many}, wantStatus: 400, wantMsgSubstr: "limit is 100"},
		{name: "text too long", req: server.InferRequest{Name: "spam", Texts: []string{long}}, wantStatus: 422, wantMsgSubstr: "limit is 100000"},
		{name: "negative timeout", req: server.InferRequest{Name: "spam", Texts: []string{"a"}, TimeoutMS: -1}, wantStatus: 400},
		{name: "timeout", req: server.InferRequest{Name: "spam", Texts: []string{"slow"}, TimeoutMS: 20}, wantStatus: 504},
		{name: "model failure is a 500 without its cause", req: server.InferRequest{Name: "spam", Texts: []string{"boom"}}, wantStatus: 500, wantMsgSubstr: "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Infer(context.Background(), tt.req)
			if tt.wantStatus != 0 {
				if err == nil {
					t.Fatalf("answered %+v, want status %d", res, tt.wantStatus)
				}
				if got := server.StatusOf(err); got != tt.wantStatus {
					t.Fatalf("status %d (%v), want %d", got, err, tt.wantStatus)
				}
				if msg := server.ErrorMessage(err); !strings.Contains(msg, tt.wantMsgSubstr) {
					t.Fatalf("message %q lacks %q", msg, tt.wantMsgSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ModelID != tt.wantID || res.Name+"-"+res.Version != tt.wantID {
				t.Fatalf("answered by %s (%s, %s), want %s", res.ModelID, res.Name, res.Version, tt.wantID)
			}
			if len(res.Predictions) != len(tt.req.Texts) || len(res.Cached) != len(tt.req.Texts) {
				t.Fatalf("%d predictions for %d texts", len(res.Predictions), len(tt.req.Texts))
			}
			if res.Predictions[0].Label != "positive" || strings.Join(res.Labels, ",") != "negative,positive" {
				t.Fatalf("prediction %+v labels %v", res.Predictions[0], res.Labels)
			}
			if res.RequestID == "" {
				t.Fatal("no request id generated")
			}
		})
	}
	res, err := s.Infer(context.Background(), server.InferRequest{Name: "spam", Texts: []string{"a"}, RequestID: "abc"})
	if err != nil || res.RequestID != "abc" {
		t.Fatalf("request id not echoed: %+v %v", res, err)
	}
}

// TestInferNotReady: a version on its way is 503, and not ready without
// an error for ModelReady; an unknown one is an error.
func TestInferNotReady(t *testing.T) {
	reg := newFakeRegistry()
	s := newServer(t, reg, server.Options{})
	if ok, err := s.ModelReady("spam", ""); !ok || err != nil {
		t.Fatalf("ModelReady(spam) = %v, %v", ok, err)
	}
	if ok, err := s.ModelReady("nope", ""); ok || !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ModelReady(nope) = %v, %v; want ErrNotFound", ok, err)
	}
	if !s.ServerReady() || !s.ServerLive() {
		t.Fatal("server not ready")
	}
	reg.mu.Lock()
	reg.ready = false
	reg.mu.Unlock()
	if ok, err := s.ModelReady("spam", ""); ok || err != nil {
		t.Fatalf("ModelReady while loading = %v, %v; want false, nil", ok, err)
	}
	if s.ServerReady() {
		t.Fatal("ServerReady while loading")
	}
	_, err := s.Infer(context.Background(), server.InferRequest{Name: "spam", Texts: []string{"a"}})
	if got := server.StatusOf(err); got != http.StatusServiceUnavailable {
		t.Fatalf("status %d (%v), want 503", got, err)
	}
}

func TestModelAndServerMetadata(t *testing.T) {
	s := newServer(t, newFakeRegistry(), server.Options{Version: "1.2.3"})
	md, err := s.ModelMetadata("sentiment", "")
	if err != nil {
		t.Fatal(err)
	}
	if md.ID != "sentiment-v2" || md.Version != "v2" || md.Name != "sentiment" || md.Platform != "mlserve-fake" {
		t.Fatalf("metadata %+v", md)
	}
	if strings.Join(md.Versions, ",") != "v1,v2" {
		t.Fatalf("versions %v", md.Versions)
	}
	if len(md.Inputs) != 1 || md.Inputs[0].Name != "text" || md.Inputs[0].Datatype != "BYTES" {
		t.Fatalf("inputs %+v", md.Inputs)
	}
	if len(md.Outputs) != 3 || md.Outputs[2].Name != "probabilities" || md.Outputs[2].Shape[1] != 2 {
		t.Fatalf("outputs %+v", md.Outputs)
	}
	if _, err := s.ModelMetadata("sentiment", "7"); server.StatusOf(err) != 404 {
		t.Fatalf("unknown version: %v", err)
	}
	sm := s.ServerMetadata()
	if sm.Name != "mlserve" || sm.Version != "1.2.3" || strings.Join(sm.Extensions, ",") != "binary_tensor_data,model_repository" {
		t.Fatalf("server metadata %+v", sm)
	}
}

// TestInferBookedOutsideHTTP: a call from outside the HTTP middleware (the
// gRPC door) is booked in the request series under its protocol's endpoint.
func TestInferBookedOutsideHTTP(t *testing.T) {
	s, reg, _ := newMonitored(t, server.Options{})
	if _, err := s.Infer(context.Background(), server.InferRequest{Name: "spam", Texts: []string{"good"}, Protocol: server.ProtocolV2GRPC}); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Infer(context.Background(), server.InferRequest{Name: "nope", Texts: []string{"good"}, Protocol: server.ProtocolV2GRPC})
	text := metricsText(t, reg)
	for _, want := range []string{
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/inference.GRPCInferenceService/ModelInfer",model="spam",version="v1"} 1`,
		`mlserve_http_request_duration_seconds_count{code="404",endpoint="/inference.GRPCInferenceService/ModelInfer",model="",version=""} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestProtocolEndpointLabels: each HTTP door's predictions are booked
// under their own endpoint label, with the model that answered.
func TestProtocolEndpointLabels(t *testing.T) {
	s, reg, _ := newMonitored(t, server.Options{})
	do(t, s, call{method: "POST", path: "/v2/models/spam/infer", body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["good"]}]}`})
	do(t, s, call{method: "POST", path: "/v2/models/spam/versions/1/infer", body: `{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["good"]}]}`})
	do(t, s, call{method: "POST", path: "/v1/models/spam:predict", body: `{"instances":["good"]}`})
	do(t, s, call{method: "GET", path: "/v2/models/spam"})
	text := metricsText(t, reg)
	for _, want := range []string{
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/v2/models/{name}/infer",model="spam",version="v1"} 2`,
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/v1/models/{name}:predict",model="spam",version="v1"} 1`,
		`mlserve_http_request_duration_seconds_count{code="200",endpoint="/v2/models/{name}",model="",version=""} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// FuzzDecodeInferBody: any body, binary or JSON, decodes to at most 100
// texts or an error wrapping ErrBadRequest, never a panic.
func FuzzDecodeInferBody(f *testing.F) {
	body, hl := binaryRequestBytes([]string{"good", "bad"})
	f.Add(body, int64(hl))
	f.Add([]byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[2,1],"data":[["a"],["b"]]}]}`), int64(-1))
	f.Add([]byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}}]}`+"\x01\x00\x00\x00a"), int64(96))
	f.Fuzz(func(t *testing.T, b []byte, hl int64) {
		texts, err := server.DecodeInferBody(b, hl)
		if err != nil {
			if !errors.Is(err, server.ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if len(texts) == 0 || len(texts) > 100 {
			t.Fatalf("%d texts", len(texts))
		}
	})
}

func binaryRequestBytes(texts []string) ([]byte, int) {
	var bin []byte
	for _, s := range texts {
		bin = append(bin, byte(len(s)), 0, 0, 0)
		bin = append(bin, s...)
	}
	header := `{"inputs":[{"name":"text","datatype":"BYTES","shape":[` + strconv.Itoa(len(texts)) + `],"parameters":{"binary_data_size":` + strconv.Itoa(len(bin)) + `}}]}`
	return append([]byte(header), bin...), len(header)
}
