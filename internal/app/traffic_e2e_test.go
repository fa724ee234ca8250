package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
)

// heldOutSentiment is python/data/sentiment.csv's held-out split (the
// training scripts' rule: sha256(text)[:8] as an integer, mod 5, is 0).
func heldOutSentiment(t *testing.T) (texts, labels []string) {
	t.Helper()
	f, err := os.Open("../../python/data/sentiment.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		sum := sha256.Sum256([]byte(r[0]))
		n, _ := strconv.ParseUint(hex.EncodeToString(sum[:4]), 16, 64)
		if n%5 == 0 {
			texts, labels = append(texts, r[0]), append(labels, r[1])
		}
	}
	return texts, labels
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// e2eClient talks JSON to the in-process server.
type e2eClient struct {
	t    *testing.T
	base string
}

func (c e2eClient) do(method, path string, body any, header map[string]string, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (c e2eClient) traffic(name string) api.TrafficView {
	cl, err := api.NewClient(c.base, "", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	v, err := cl.Traffic(context.Background(), name)
	if err != nil {
		c.t.Fatalf("GET traffic: %v", err)
	}
	return *v
}

// TestTrafficE2E runs the whole server (app.Run: registry, engine, cache,
// monitoring, traffic) on the sample sentiment models and a third,
// worse, version. sentiment-v2's model.yaml makes it a shadow candidate
// of v1 with gates (agreement, latency, live accuracy from feedback):
// they promote it. Then a decision tree trained on the same data is put
// on a keyed canary through the admin API: the agreement gate rolls it
// back and unloads it, and v2 keeps serving.
func TestTrafficE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("loads three models and serves ~500 requests")
	}
	texts, labels := heldOutSentiment(t)
	if len(texts) < 300 {
		t.Fatalf("%d held-out texts", len(texts))
	}
	root := t.TempDir()
	copyFile(t, "../../models/sentiment/v1/model.joblib", filepath.Join(root, "sentiment/v1/model.joblib"))
	copyFile(t, "../../models/sentiment/v1/model.yaml", filepath.Join(root, "sentiment/v1/model.yaml"))
	copyFile(t, "../../models/sentiment/v2/model.joblib", filepath.Join(root, "sentiment/v2/model.joblib"))
	v2yaml, err := os.ReadFile("../../models/sentiment/v2/model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v2yaml = append(v2yaml, []byte(`traffic:
  mode: shadow
  gates: {min_agreement: 0.8, max_latency_ratio: 20, min_live_accuracy: 0.7, min_samples: 150, min_feedback: 100}
`)...)
	if err := os.WriteFile(filepath.Join(root, "sentiment/v2/model.yaml"), v2yaml, 0o644); err != nil {
		t.Fatal(err)
	}

	c := config.Default()
	c.ModelsDir = root
	c.ListenAddr = "127.0.0.1:26010"
	c.Monitoring.Addr = "127.0.0.1:26011"
	c.GRPC.Enabled = false
	c.BatchTimeoutMS = 1
	c.DefaultModel = "sentiment"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	promReg, mon, err := NewMonitoring(c.Monitoring.WithDefaults(), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, c, Parts{Loaders: Loaders(c, log), Prometheus: promReg, Monitor: mon, Log: log})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("no shutdown")
		}
	}()
	cl := e2eClient{t: t, base: "http://" + c.ListenAddr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(cl.base + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready in 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The candidate loaded but did not become the default; its traffic runs.
	var info api.ModelInfo
	cl.do(http.MethodGet, "/models/sentiment-v1", nil, nil, &info)
	if !info.Default || info.Certificate == nil || info.Certificate.Status != api.CertificatePassed {
		t.Fatalf("sentiment-v1: default %v, certificate %+v", info.Default, info.Certificate)
	}
	if v := cl.traffic("sentiment"); v.State != api.TrafficRunning || v.Candidate != "sentiment-v2" {
		t.Fatalf("traffic %+v", v)
	}

	// Policies that cannot run are refused with the status that says why.
	for _, c := range []struct {
		name string
		path string
		pol  api.TrafficPolicy
		want int
	}{
		{"candidate is the default", "sentiment", api.TrafficPolicy{Candidate: "v1", Mode: api.TrafficShadow}, http.StatusConflict},
		{"unknown candidate", "sentiment", api.TrafficPolicy{Candidate: "v9", Mode: api.TrafficShadow}, http.StatusNotFound},
		{"canary without share", "sentiment", api.TrafficPolicy{Candidate: "v2", Mode: api.TrafficCanary}, http.StatusUnprocessableEntity},
		{"no candidate", "sentiment", api.TrafficPolicy{Mode: api.TrafficMirror, Share: 0.5}, http.StatusUnprocessableEntity},
		{"another name's version", "sentiment", api.TrafficPolicy{Candidate: "spam-v1", Mode: api.TrafficShadow}, http.StatusUnprocessableEntity},
		{"stop a name without traffic", "spam", api.TrafficPolicy{Mode: api.TrafficOff}, http.StatusNotFound},
	} {
		if code := cl.do(http.MethodPut, "/models/"+c.path+"/traffic", c.pol, nil, nil); code != c.want {
			t.Errorf("%s: PUT answered %d, want %d", c.name, code, c.want)
		}
	}
	if code := cl.do(http.MethodGet, "/models/spam/traffic", nil, nil, nil); code != http.StatusNotFound {
		t.Errorf("GET traffic of a name without: %d, want 404", code)
	}

	// Phase 1: shadow. Every answer comes from v1 until the verdict; the
	// true label goes back as feedback.
	promotedAt := -1
	for i, text := range texts {
		var p api.PredictResponse
		if code := cl.do(http.MethodPost, "/predict", api.PredictRequest{Text: text, ModelVersion: "sentiment"}, nil, &p); code != 200 {
			t.Fatalf("predict: %d", code)
		}
		if promotedAt < 0 && p.ModelVersion != "sentiment-v1" {
			if v := cl.traffic("sentiment"); v.State != api.TrafficPromoted {
				t.Fatalf("answer %d from %s while the traffic is %s", i, p.ModelVersion, v.State)
			}
			promotedAt = i
		}
		cl.do(http.MethodPost, "/feedback", api.FeedbackRequest{RequestID: p.RequestID, Label: labels[i]}, nil, nil)
		if i > 200 && promotedAt >= 0 {
			break
		}
		time.Sleep(time.Millisecond) // moderate load: the shadow keeps up
	}
	v := cl.traffic("sentiment")
	t.Logf("shadow verdict: %s; stats: agreement %.3f, latency ratio %.2f, live accuracy v1 %.3f v2 %.3f on %d",
		v.Verdict, v.Stats.Agreement, v.Stats.LatencyRatio, deref(v.Stats.PrimaryLiveAccuracy), deref(v.Stats.CandidateLiveAccuracy), v.Stats.Feedback)
	if v.State != api.TrafficPromoted || !strings.Contains(v.Verdict, "agreement") || !strings.Contains(v.Verdict, "live accuracy") {
		t.Fatalf("after shadow traffic: state %s, verdict %q, stats %+v", v.State, v.Verdict, v.Stats)
	}
	if v.Primary != "sentiment-v1" || v.Stats.Compared < 150 || v.Stats.Dropped != 0 {
		t.Errorf("primary %s, compared %d, dropped %d", v.Primary, v.Stats.Compared, v.Stats.Dropped)
	}
	if promotedAt < 0 {
		t.Fatal("promoted, but the name still answers with v1")
	}
	var list api.ModelList
	cl.do(http.MethodGet, "/models", nil, nil, &list)
	if list.DefaultModel != "sentiment-v2" {
		t.Fatalf("default %s after promotion", list.DefaultModel)
	}

	// Phase 2: a worse version, uploaded without becoming the default,
	// then a keyed canary through the admin API.
	upload(t, cl.base, "../model/sklearn/testdata/releases/1.9.1/tree_tfidf.joblib")
	pol := api.TrafficPolicy{Candidate: "v3", Mode: api.TrafficCanary, Share: 0.5, UnloadOnRollback: true,
		Gates: api.Gates{MinAgreement: ptrF(0.8), MinSamples: 60}}
	client, err := api.NewClient(cl.base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	started, err := client.SetTraffic(context.Background(), "sentiment", &pol)
	if err != nil {
		t.Fatalf("PUT traffic: %v", err)
	}
	if started.Candidate != "sentiment-v3" || started.State != api.TrafficRunning {
		t.Fatalf("PUT traffic answered %+v", started)
	}
	sides := map[string]string{} // key -> version, while the canary runs
	canary := 0
	for i, text := range texts {
		key := fmt.Sprintf("user-%d", i%40)
		var p api.PredictResponse
		cl.do(http.MethodPost, "/predict", api.PredictRequest{Text: text}, map[string]string{api.TrafficKeyHeader: key}, &p)
		if p.ModelVersion == "sentiment-v3" {
			canary++
		}
		if cl.traffic("sentiment").State != api.TrafficRunning {
			break
		}
		if prev, ok := sides[key]; ok && prev != p.ModelVersion {
			t.Fatalf("key %s answered by %s, then %s", key, prev, p.ModelVersion)
		}
		sides[key] = p.ModelVersion
	}
	v = waitTraffic(t, cl, api.TrafficRolledBack)
	t.Logf("canary verdict: %s; %d requests, %d answered by the candidate", v.Verdict, v.Stats.Requests, canary)
	if canary == 0 || v.Stats.Canary == 0 || !strings.Contains(v.Verdict, "< min_agreement 0.8") {
		t.Errorf("canary answered %d, verdict %q", canary, v.Verdict)
	}
	waitFor(t, func() bool {
		var st api.ModelInfo
		cl.do(http.MethodGet, "/models/sentiment-v3", nil, nil, &st)
		return st.Status == api.StatusUnloaded
	}, "sentiment-v3 unloaded after the rollback")
	var p api.PredictResponse
	cl.do(http.MethodPost, "/predict", api.PredictRequest{Text: texts[0]}, map[string]string{api.TrafficKeyHeader: "user-1"}, &p)
	if p.ModelVersion != "sentiment-v2" {
		t.Errorf("after the rollback answered by %s", p.ModelVersion)
	}

	// The figures are in /stats and the metrics too.
	var st api.Stats
	cl.do(http.MethodGet, "/stats", nil, nil, &st)
	if st.Traffic["sentiment"].State != api.TrafficRolledBack {
		t.Errorf("/stats traffic %+v", st.Traffic)
	}
	resp, err := http.Get("http://" + c.Monitoring.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`mlserve_traffic_compared_total{candidate="v2",model="sentiment"}`,
		`mlserve_traffic_verdicts_total{model="sentiment",outcome="promoted"} 1`,
		`mlserve_traffic_verdicts_total{model="sentiment",outcome="rolled_back"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return -1
	}
	return *f
}

func ptrF(f float64) *float64 { return &f }

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitTraffic(t *testing.T, cl e2eClient, state string) api.TrafficView {
	t.Helper()
	var v api.TrafficView
	waitFor(t, func() bool { v = cl.traffic("sentiment"); return v.State == state }, "traffic "+state)
	return v
}

// upload posts a model file as the next version of sentiment, not as the
// default.
func upload(t *testing.T, base, path string) {
	t.Helper()
	c, err := api.NewClient(base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadModel(context.Background(), &api.LoadModelRequest{ArtifactPath: path, Name: "sentiment"}); err != nil {
		t.Fatal(err)
	}
}
