package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

// TestMonitoring runs the real binary: predictions show up as mlserve_
// series on the monitoring listener's /metrics, and feedback moves the live
// accuracy that POST /feedback, GET /models/{id}/drift and /metrics report.
func TestMonitoring(t *testing.T) {
	p := startServer(t, copyModels(t))
	ctx := context.Background()
	texts := []string{
		"Congratulations! You have won a free cruise, call now to claim your prize",
		"Hi Tom, the meeting moved to 3pm tomorrow, see you there",
		"Cheap meds online, no prescription needed, click here",
		"Can you send me the report before Friday? Thanks",
	}
	var preds []*api.PredictResponse
	for i := range 8 {
		r, err := p.client.Predict(ctx, &api.PredictRequest{Text: texts[i%len(texts)] + " " + strconv.Itoa(i), ModelVersion: "spam-v1"})
		if err != nil {
			t.Fatal(err)
		}
		preds = append(preds, r)
	}
	if _, err := p.client.Predict(ctx, &api.PredictRequest{Text: "x", ModelVersion: "nope-v1"}); err == nil {
		t.Fatal("unknown model answered")
	}

	// Feedback: four right, then four wrong: live accuracy 1, then 0.5.
	for i, r := range preds {
		label := r.Label
		if i >= 4 {
			label = map[string]string{"spam": "ham", "ham": "spam"}[r.Label]
		}
		fb, err := p.client.Feedback(ctx, r.RequestID, label)
		if err != nil {
			t.Fatalf("feedback %d: %v", i, err)
		}
		want := 1.0
		if i >= 4 {
			want = 4 / float64(i+1)
		}
		if fb.Correct != (i < 4) || fb.LiveAccuracy != want || fb.ModelVersion != "spam-v1" {
			t.Errorf("feedback %d: %+v, want live accuracy %v", i, fb, want)
		}
	}
	var ae *api.Error
	if _, err := p.client.Feedback(ctx, preds[0].RequestID, preds[0].Label); !errAs(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("second feedback on one prediction: %v", err)
	}
	d, err := p.client.Drift(ctx, "spam-v1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Accuracy.Live == nil || *d.Accuracy.Live != 0.5 || d.Accuracy.Feedback != 8 || d.Reference != "manifest" || len(d.Signals) != 4 {
		t.Errorf("drift %+v", d)
	}

	want := []string{
		`mlserve_http_request_duration_seconds_count\{code="200",endpoint="/predict",model="spam",version="v1"\} 8`,
		`mlserve_http_request_duration_seconds_count\{code="404",endpoint="/predict",model="",version=""\} 1`,
		`mlserve_predictions_total\{label="(spam|ham)",model="spam",version="v1"\} [1-8]`,
		`mlserve_queue_wait_seconds_count\{model="spam",version="v1"\} 8`,
		`mlserve_inference_duration_seconds_count\{model="spam",version="v1"\} 8`,
		`mlserve_batch_size_sum\{model="spam",version="v1"\} 8`,
		`mlserve_live_accuracy\{model="spam",version="v1"\} 0.5`,
		`mlserve_feedback_total\{model="spam",result="correct",version="v1"\} 4`,
		`mlserve_errors_total\{kind="not_found",model="",version=""\} 1`,
		`mlserve_cache_lookups_total\{result="miss",tier="memory"\} 8`,
		`mlserve_models_loaded [1-9]`,
		`mlserve_model_load_duration_seconds_count [1-9]`,
		`process_cpu_seconds_total`,
	}
	// The load gauges follow the registry on a 2 s tick: allow a few.
	var metrics string
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(p.metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics, missing = string(b), nil
		for _, re := range want {
			if !regexp.MustCompile(re).MatchString(metrics) {
				missing = append(missing, re)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, re := range missing {
		t.Errorf("/metrics has no line matching %s", re)
	}
	if t.Failed() {
		t.Log(metrics)
	}
}
