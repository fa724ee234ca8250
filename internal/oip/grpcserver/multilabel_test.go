package grpcserver

import (
	"errors"
	"slices"
	"testing"

	"github.com/mlserve/mlserve/internal/model"
	pb "github.com/mlserve/mlserve/internal/oip/inferencepb"
	"github.com/mlserve/mlserve/internal/server"
)

// TestEncodeInferLabels: a multi-label answer carries the labels output
// (one JSON array per text, as over REST) by default and on request; a
// single-label answer leaves it out by default and refuses a request for
// it as a bad argument.
func TestEncodeInferLabels(t *testing.T) {
	preds := []model.Prediction{{Label: "pos", Confidence: 0.9, Probabilities: []float64{0.9, 0.6}},
		{Label: "neg", Confidence: 0.2, Probabilities: []float64{0.2, 0.1}}}
	multi := &server.InferResult{ModelID: "topics-v1", Labels: []string{"pos", "neg"}, Predictions: preds,
		MultiLabels: [][]string{{"pos", "neg"}, nil}}
	single := &server.InferResult{ModelID: "spam-v1", Labels: []string{"pos", "neg"}, Predictions: preds}
	req := &pb.ModelInferRequest{ModelName: "topics"}
	asked := outputSet{labels: true, explicitLabels: true}

	for _, outs := range []outputSet{{label: true, confidence: true, probabilities: true, labels: true}, asked} {
		resp, err := encodeInfer(req, multi, outs)
		if err != nil {
			t.Fatal(err)
		}
		last := len(resp.Outputs) - 1
		o := resp.Outputs[last]
		if o.Name != server.TensorLabels || o.Datatype != server.DatatypeBytes || !slices.Equal(o.Shape, []int64{2}) {
			t.Fatalf("outputs %v", resp.Outputs)
		}
		got, err := decodeRawBytes(resp.RawOutputContents[last], 2)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{`["pos","neg"]`, `[]`}) {
			t.Errorf("labels %q", got)
		}
	}
	resp, err := encodeInfer(req, single, outputSet{label: true, labels: true})
	if err != nil || len(resp.Outputs) != 1 || resp.Outputs[0].Name != server.TensorLabel {
		t.Errorf("single-label default outputs %v, %v", resp.GetOutputs(), err)
	}
	if _, err := encodeInfer(req, single, asked); !errors.Is(err, server.ErrBadRequest) {
		t.Errorf("labels asked of a single-label model: %v", err)
	}
}
