package server_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/inference"
	"github.com/mlserve/mlserve/internal/server"
)

// BenchmarkOIPInfer measures single-text OIP REST inference (POST
// /v2/models/{name}/infer, JSON) and KServe V1 predict against POST
// /predict on the same model, server and engine, in alternating rounds of
// the same run, with benchClients concurrent clients; it reports each
// throughput and the ratios to /predict (the target: ≥ 0.9).
func BenchmarkOIPInfer(b *testing.B) {
	reg, id := benchRegistry(b)
	eng, err := inference.New(inference.Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(context.Background())
	s, err := server.New(reg, server.Options{Logger: quietLogger(), Engine: eng})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	const text = `Subject: You WON $1,000,000!!! Click here to claim your FREE prize now.`
	predict := []byte(`{"text": "` + text + `", "model_version": "` + id + `"}`)
	oip := []byte(`{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["` + text + `"]}]}`)
	v1 := []byte(`{"instances":["` + text + `"]}`)
	urls := []string{srv.URL + "/predict", srv.URL + "/v2/models/" + id + "/infer", srv.URL + "/v1/models/" + id + ":predict"}
	bodies := [][]byte{predict, oip, v1}
	n := max(b.N, 2000)
	for i := range urls {
		load(b, urls[i], bodies[i], 200)
	}
	b.ResetTimer()
	const rounds = 10
	lat := make([][]time.Duration, len(urls))
	el := make([]time.Duration, len(urls))
	for range rounds {
		for i := range urls {
			l, e := load(b, urls[i], bodies[i], n/rounds)
			lat[i], el[i] = append(lat[i], l...), el[i]+e
		}
	}
	b.StopTimer()
	pRate, _ := summary(lat[0], el[0])
	oRate, oP99 := summary(lat[1], el[1])
	vRate, _ := summary(lat[2], el[2])
	b.ReportMetric(pRate, "predict_req/s")
	b.ReportMetric(oRate, "v2_req/s")
	b.ReportMetric(oP99, "v2_p99_ms")
	b.ReportMetric(vRate, "v1_req/s")
	b.ReportMetric(oRate/pRate, "v2_ratio")
	b.ReportMetric(vRate/pRate, "v1_ratio")
}
