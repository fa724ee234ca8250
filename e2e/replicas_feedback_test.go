package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
)

// feedbackAcrossReplicas: predictions made on reps[0], their feedback
// given to reps[1] (accepted, though reps[1] never saw them), and the live
// accuracy that feedback makes is what reps[2] reports for the version.
// It needs the fleet's shared feedback and live accuracy (issue 15 items 1
// and 2).
func feedbackAcrossReplicas(t *testing.T, reps []*replica) {
	ctx := context.Background()
	a, b, c := reps[0].p.client, reps[1].p.client, reps[2].p.client
	const model = "spam-v1"
	right, total := 0, 12
	var last *api.FeedbackResponse
	for i := range total {
		text := fmt.Sprintf("Subject: prize %d %d\n\nClaim your FREE prize now, click here!", i, time.Now().UnixNano())
		pred, err := a.Predict(ctx, &api.PredictRequest{Text: text, ModelVersion: model})
		if err != nil {
			t.Fatal(err)
		}
		truth := pred.Label
		if i%3 == 0 {
			truth = map[string]string{"spam": "ham", "ham": "spam"}[pred.Label]
		} else {
			right++
		}
		var res *api.FeedbackResponse
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			res, err = b.Feedback(ctx, pred.RequestID, truth)
			var ae *api.Error
			if err == nil || !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || time.Now().After(end) {
				break
			}
		}
		if err != nil {
			t.Fatalf("feedback on %s for %s's prediction %s: %v", reps[1].name, reps[0].name, pred.RequestID, err)
		}
		if res.ModelVersion != model || res.Predicted != pred.Label {
			t.Fatalf("feedback answer %+v for a %s prediction of %s", res, model, pred.Label)
		}
		last = res
	}
	live := float64(right) / float64(total)
	if math.Abs(last.LiveAccuracy-live) > 1e-9 {
		t.Errorf("%s answered live accuracy %v, want %v", reps[1].name, last.LiveAccuracy, live)
	}
	var d *api.DriftStatus
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if d, err = c.Drift(ctx, model); err != nil {
			t.Fatal(err)
		}
		if (d.Accuracy.Live != nil && math.Abs(*d.Accuracy.Live-live) < 1e-9) || time.Now().After(end) {
			break
		}
	}
	if d.Accuracy.Live == nil || math.Abs(*d.Accuracy.Live-live) > 1e-9 {
		t.Errorf("%s's live accuracy of %s: %v, want %v (feedback given on %s)", reps[2].name, model, d.Accuracy.Live, live, reps[1].name)
	}
}
