package grpcserver

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/server"
)

// checkCodec marshals r with the door's codec and with the protobuf
// library (deterministic: map entries in key order) and fails unless both
// give the same bytes, or both refuse. plain says whether r must take the
// fast path; off it, the library's own marshalling may order map entries
// differently, so the bytes must decode to equal messages.
func checkCodec(t testing.TB, r *pb.ModelInferResponse, plain bool) {
	t.Helper()
	if got := plainInferResponse(r); got != plain {
		t.Fatalf("plainInferResponse = %v, want %v for %v", got, plain, r)
	}
	want, werr := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	bs, err := newCodec().Marshal(r)
	if (err != nil) != (werr != nil) {
		t.Fatalf("codec error %v, library error %v", err, werr)
	}
	if err != nil {
		return
	}
	got := bs.Materialize()
	bs.Free()
	if plain && !bytes.Equal(got, want) {
		t.Fatalf("codec wrote\n%x\nthe library\n%x\nfor %v", got, want, r)
	}
	var back pb.ModelInferResponse
	if err := proto.Unmarshal(got, &back); err != nil || !proto.Equal(&back, r) {
		t.Fatalf("codec's bytes decode to %v (%v), want %v", &back, err, r)
	}
}

// TestCodecMatchesProto: what encodeInfer builds, for single texts and
// batches, every output and both model kinds, is written by the fast path
// exactly as the protobuf library writes it; messages outside the fast
// path's fence go to the library.
func TestCodecMatchesProto(t *testing.T) {
	preds := []model.Prediction{{Label: "spam", Confidence: 0.93, Probabilities: []float64{0.07, 0.93}},
		{Label: "ham", Confidence: 0.6, Probabilities: []float64{0.6, 0.4}}, {Label: "", Confidence: 1}}
	all := outputSet{label: true, confidence: true, probabilities: true, labels: true, explanation: true}
	for _, tc := range []struct {
		name string
		req  *pb.ModelInferRequest
		res  *server.InferResult
		outs outputSet
	}{
		{"single text", &pb.ModelInferRequest{ModelName: "spam", ModelVersion: "1"},
			&server.InferResult{ModelID: "spam-v1", Version: "1", Labels: []string{"ham", "spam"}, Predictions: preds[:1], RequestID: "r1"},
			outputSet{label: true, confidence: true, probabilities: true, labels: true}},
		{"batch, id given", &pb.ModelInferRequest{ModelName: "spam", Id: "mine"},
			&server.InferResult{ModelID: "spam-v1", Version: "1", Labels: []string{"ham", "spam"}, Predictions: preds[:2], RequestID: "r2"}, all},
		{"no probabilities, empty label", &pb.ModelInferRequest{ModelName: "x"},
			&server.InferResult{ModelID: "x-v7", Version: "7", Predictions: preds[2:]}, outputSet{label: true, confidence: true, probabilities: true}},
		{"multi-label, explanation", &pb.ModelInferRequest{ModelName: "tags"},
			&server.InferResult{ModelID: "tags-v1", Version: "1", Labels: []string{"a", "b"}, Predictions: preds[:2],
				MultiLabels: [][]string{{"a"}, nil}, Explanations: []*api.Explanation{nil, nil}}, all},
		{"no texts", &pb.ModelInferRequest{ModelName: "spam"},
			&server.InferResult{ModelID: "spam-v1", Version: "1", Labels: []string{"ham", "spam"}}, all},
		{"only confidence", &pb.ModelInferRequest{ModelName: "spam"},
			&server.InferResult{ModelID: "spam-v1", Version: "1", Predictions: preds}, outputSet{confidence: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := encodeInfer(tc.req, tc.res, tc.outs)
			if err != nil {
				t.Fatal(err)
			}
			checkCodec(t, resp, true)
		})
	}
	out := func() *pb.ModelInferResponse_InferOutputTensor {
		return &pb.ModelInferResponse_InferOutputTensor{Name: "label", Datatype: "BYTES", Shape: []int64{-1, 1 << 40}}
	}
	str := func(s string) *pb.InferParameter {
		return &pb.InferParameter{ParameterChoice: &pb.InferParameter_StringParam{StringParam: s}}
	}
	for _, tc := range []struct {
		name  string
		r     *pb.ModelInferResponse
		plain bool
	}{
		{"empty", &pb.ModelInferResponse{}, true},
		{"empty key and value, nil raw, negative shape", &pb.ModelInferResponse{Parameters: map[string]*pb.InferParameter{"": str("")},
			Outputs: []*pb.ModelInferResponse_InferOutputTensor{out()}, RawOutputContents: [][]byte{nil, {}}}, true},
		{"two parameters", &pb.ModelInferResponse{Parameters: map[string]*pb.InferParameter{"a": str("1"), "b": str("2")}}, false},
		{"integer parameter", &pb.ModelInferResponse{Parameters: map[string]*pb.InferParameter{
			"n": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 3}}}}, false},
		{"nil parameter", &pb.ModelInferResponse{Parameters: map[string]*pb.InferParameter{"n": nil}}, false},
		{"output contents", &pb.ModelInferResponse{Outputs: []*pb.ModelInferResponse_InferOutputTensor{
			{Name: "x", Contents: &pb.InferTensorContents{Fp64Contents: []float64{1}}}}}, false},
		{"output parameters", &pb.ModelInferResponse{Outputs: []*pb.ModelInferResponse_InferOutputTensor{
			{Name: "x", Parameters: map[string]*pb.InferParameter{"k": str("v")}}}}, false},
		{"not UTF-8", &pb.ModelInferResponse{ModelName: "\xff"}, false},
		{"output name not UTF-8", &pb.ModelInferResponse{Outputs: []*pb.ModelInferResponse_InferOutputTensor{{Name: "\xff"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { checkCodec(t, tc.r, tc.plain) })
	}
	unknown := &pb.ModelInferResponse{ModelName: "m"}
	unknown.ProtoReflect().SetUnknown([]byte{0x78, 0x01}) // field 15, varint 1
	t.Run("unknown fields", func(t *testing.T) { checkCodec(t, unknown, false) })
	// Anything but a ModelInferResponse is the library's.
	bs, err := newCodec().Marshal(&pb.ModelReadyResponse{Ready: true})
	if err != nil || !bytes.Equal(bs.Materialize(), []byte{0x08, 0x01}) {
		t.Fatalf("ModelReadyResponse: %x, %v", bs.Materialize(), err)
	}
}

// FuzzCodecMatchesProto: responses of the fast path's shape with arbitrary
// strings, shapes and contents are written as the library writes them (or
// refused by both).
func FuzzCodecMatchesProto(f *testing.F) {
	f.Add("spam", "1", "id", "model_id", "spam-v1", "label", "BYTES", int64(1), int64(2), []byte("\x03\x00\x00\x00ham"), uint8(3))
	f.Add("", "", "", "", "", "", "", int64(-1), int64(0), []byte(nil), uint8(0))
	f.Fuzz(func(t *testing.T, name, version, id, key, val, out, dt string, d0, d1 int64, raw []byte, n uint8) {
		r := &pb.ModelInferResponse{ModelName: name, ModelVersion: version, Id: id}
		if n&1 != 0 {
			r.Parameters = map[string]*pb.InferParameter{key: {ParameterChoice: &pb.InferParameter_StringParam{StringParam: val}}}
		}
		for i := range int(n % 4) {
			o := &pb.ModelInferResponse_InferOutputTensor{Name: out, Datatype: dt, Shape: []int64{d0, d1}[:i%3]}
			r.Outputs = append(r.Outputs, o)
			r.RawOutputContents = append(r.RawOutputContents, raw)
		}
		checkCodec(t, r, plainInferResponse(r))
	})
}
