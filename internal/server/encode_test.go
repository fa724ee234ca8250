package server

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/mlserve/mlserve/api"
)

// huma's JSON format: encoding/json, HTML escaping off, a trailing newline.
func humaJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzEncode checks the hand-written encoders against encoding/json on
// answers built from arbitrary strings and numbers.
func FuzzEncode(f *testing.F) {
	f.Add("ham", "spam-v1", "id-1", 0.99, 0.123, true, "p\"<&>\u2028\x01\xff", 1e-7, 1e21)
	f.Add("", "", "", 0.0, math.Copysign(0, -1), false, "", 5e-324, math.MaxFloat64)
	f.Add("\t\n\r\b\f\\/", "é☀", "\x7f\x00", 1.0, 1e-6, false, "a", 0.5, 123456789.125)
	f.Fuzz(func(t *testing.T, label, ver, rid string, conf, lat float64, cached bool, key string, p1, p2 float64) {
		probs := map[string]float64{key: p1, label: p2}
		verdict := &api.OOD{Score: p1, Flag: cached, Signal: key}
		one := &api.PredictResponse{Label: label, Confidence: conf, LatencyMS: lat, ModelVersion: ver, RequestID: rid, Cached: cached, Probabilities: probs, OOD: verdict}
		batch := &api.BatchPredictResponse{Predictions: []api.BatchPrediction{
			{Label: label, Confidence: conf, Cached: cached, Probabilities: probs, OOD: verdict},
			{Label: key, Confidence: p1},
		}, TotalLatencyMS: lat, ModelVersion: ver, RequestID: rid}
		// Multi-label answers: the labels list, with and without probabilities.
		multi := &api.PredictResponse{Label: label, Confidence: conf, ModelVersion: ver, Labels: []string{label, key}}
		multiProbs := &api.PredictResponse{Label: label, Probabilities: probs, Labels: []string{key}}
		multiBatch := &api.BatchPredictResponse{Predictions: []api.BatchPrediction{
			{Label: label, Confidence: conf, Probabilities: probs, Labels: []string{label, key, rid}},
			{Label: key, Labels: []string{ver}},
			{Label: key, Labels: []string{}},
		}, ModelVersion: ver}
		for _, v := range []any{one, batch, &api.PredictResponse{Label: label}, &api.BatchPredictResponse{}, multi, multiProbs, multiBatch} {
			got, ok := appendAnswer(nil, v)
			bad := math.IsNaN(conf) || math.IsInf(conf, 0) || math.IsNaN(lat) || math.IsInf(lat, 0) ||
				math.IsNaN(p1) || math.IsInf(p1, 0) || math.IsNaN(p2) || math.IsInf(p2, 0)
			if !ok {
				if !bad {
					t.Fatalf("refused %+v", v)
				}
				continue
			}
			if want := humaJSON(t, v); !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
			}
		}
	})
}

func TestEncodeRefusesNaN(t *testing.T) {
	for _, v := range []any{
		&api.PredictResponse{Confidence: math.NaN()},
		&api.PredictResponse{LatencyMS: math.Inf(1)},
		&api.PredictResponse{Probabilities: map[string]float64{"a": math.Inf(-1)}},
		&api.BatchPredictResponse{Predictions: []api.BatchPrediction{{Confidence: math.NaN()}}},
		&api.PredictResponse{OOD: &api.OOD{Score: math.NaN()}},
		&api.BatchPredictResponse{Predictions: []api.BatchPrediction{{OOD: &api.OOD{Score: math.Inf(1)}}}},
		&api.BatchPredictResponse{Predictions: []api.BatchPrediction{{Probabilities: map[string]float64{"a": math.NaN()}}}},
		&api.BatchPredictResponse{TotalLatencyMS: math.NaN()},
		&api.Problem{},
	} {
		if b, ok := appendAnswer(nil, v); ok {
			t.Errorf("%+v encoded as %s; want it left to huma", v, b)
		}
	}
}

// BenchmarkEncode writes a /predict answer, a 100-prediction
// /batch-predict answer and a 100-prediction KServe V1 answer (with
// probabilities) with the hand-written encoders and with
// encoding/json as huma's format does.
//
//	go test -run '^$' -bench Encode -benchmem ./internal/server
func BenchmarkEncode(b *testing.B) {
	probs := map[string]float64{"ham": 0.0123, "spam": 0.9877}
	one := &api.PredictResponse{Label: "spam", Confidence: 0.9877, LatencyMS: 0.412, ModelVersion: "spam-v1", RequestID: "1a2b3c4d-1x", Probabilities: probs}
	batch := &api.BatchPredictResponse{TotalLatencyMS: 3.25, ModelVersion: "spam-v1", RequestID: "1a2b3c4d-1y"}
	for range 100 {
		batch.Predictions = append(batch.Predictions, api.BatchPrediction{Label: "ham", Confidence: 0.8123456789})
	}
	v1 := &v1PredictResponse{}
	for range 100 {
		v1.Predictions = append(v1.Predictions, v1Prediction{Label: "ham", Confidence: 0.8123456789, Probabilities: probs})
	}
	for _, tc := range []struct {
		name string
		v    any
	}{{"predict", one}, {"batch100", batch}, {"v1-100", v1}} {
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 8192)
			for b.Loop() {
				buf, _ = appendAnswer(buf[:0], tc.v)
			}
		})
		b.Run(tc.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				_ = enc.Encode(tc.v)
			}
		})
	}
}
