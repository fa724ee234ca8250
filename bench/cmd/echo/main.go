// Command echo is bench/'s ceiling: a bare net/http server that decodes
// mlserve's /predict and /batch-predict requests and encodes responses of
// the same shape with a fixed label, so it costs only HTTP and JSON.
//
//	go run ./bench/cmd/echo -addr 127.0.0.1:8100
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mlserve/mlserve/api"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8100", "listen address")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, handler()))
}

func handler() http.Handler {
	var ids atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /predict", func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		var req api.PredictRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Text == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(api.PredictResponse{
			Label: "ham", Confidence: 1, ModelVersion: req.ModelVersion,
			LatencyMS: float64(time.Since(t0).Microseconds()) / 1000,
			RequestID: strconv.FormatUint(ids.Add(1), 10),
		})
	})
	mux.HandleFunc("POST /batch-predict", func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		var req api.BatchPredictRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Texts) == 0 || len(req.Texts) > api.MaxBatchTexts {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		resp := api.BatchPredictResponse{ModelVersion: req.ModelVersion, RequestID: strconv.FormatUint(ids.Add(1), 10)}
		resp.Predictions = make([]api.BatchPrediction, len(req.Texts))
		for i := range resp.Predictions {
			resp.Predictions[i] = api.BatchPrediction{Label: "ham", Confidence: 1}
		}
		resp.TotalLatencyMS = float64(time.Since(t0).Microseconds()) / 1000
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ready"}`))
	})
	return mux
}
