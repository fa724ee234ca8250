package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlserve/mlserve/internal/config"
)

// dashboard is the part of deploy/grafana/mlserve.json the tests read.
type dashboard struct {
	Inputs []struct{ Name string } `json:"__inputs"`
	Panels []struct {
		Title   string
		Type    string
		Targets []struct{ Expr string }
	}
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "mlserve.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	return d
}

// dashboardExprs returns every query with Grafana's variables replaced as
// a dashboard with "All" selected sends them.
func dashboardExprs(d dashboard) []string {
	r := strings.NewReplacer("$model", ".*", "$version", ".*", "$__rate_interval", "1m", "$__range", "5m")
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, r.Replace(tg.Expr))
		}
	}
	return out
}

// TestDashboardCoversMetrics: the dashboard names only metrics NewMetrics
// registers, and draws every one of them.
func TestDashboardCoversMetrics(t *testing.T) {
	d := readDashboard(t)
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" {
		t.Errorf("dashboard inputs %+v, want one DS_PROMETHEUS datasource input for import", d.Inputs)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	touchAll(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	used := map[string]bool{}
	for _, e := range dashboardExprs(d) {
		for _, n := range regexp.MustCompile(`mlserve_[a-z_]+`).FindAllString(e, -1) {
			base := n
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(n, suf); ok && slices.Contains(names, b) {
					base = b
				}
			}
			if !slices.Contains(names, base) {
				t.Errorf("dashboard queries %s, which mlserve does not export", n)
			}
			used[base] = true
		}
	}
	for _, n := range names {
		if !used[n] {
			t.Errorf("metric %s is on no dashboard panel", n)
		}
	}
}

// touchAll gives every collector at least one series.
func touchAll(m *Metrics) {
	m.ObserveRequest("/predict", "spam", "v1", 200, 2*time.Millisecond)
	m.ObserveQueueWait("spam", "v1", time.Millisecond)
	m.ObserveInference("spam", "v1", time.Millisecond)
	m.ObserveBatchSize("spam", "v1", 3)
	m.ObservePrediction("spam", "v1", "ham", .9)
	m.Error(KindTimeout, "spam", "v1")
	m.CacheHit(TierMemory, 1)
	m.CacheMiss(TierMemory, 1)
	m.SetRedisFallback(false)
	m.SetQueueDepth("spam", "v1", 1)
	m.SetModelsLoaded(1)
	m.ObserveModelLoad(time.Second, true)
	m.ObserveModelLoad(time.Second, false)
	m.SetDrift("spam", "v1", SignalLabel, .01, LevelOK)
	m.SetLiveAccuracy("spam", "v1", .99)
	m.ObserveFeedback("spam", "v1", true)
}

// TestRealPrometheus starts Debian's prometheus on loopback, lets it scrape
// these metrics, and checks that histogram_quantile over the request latency
// returns the latency the traffic had and that every dashboard query runs.
func TestRealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		msg := "no prometheus binary: run scripts/setup-services.sh (make test does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testing.Short() {
		t.Skip("-short: skipping the real-Prometheus test")
	}
	reg := prometheus.NewPedanticRegistry()
	met, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := New(config.Monitoring{}, met, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Track("spam-v1", []string{"ham", "spam"}, nil); err != nil {
		t.Fatal(err)
	}
	touchAll(met)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"+
		"scrape_configs:\n- job_name: mlserve\n  static_configs: [{targets: [%q]}]\n", strings.TrimPrefix(target.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	}()

	query := func(q string) (string, []any, error) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status, Error string
			Data          struct{ Result []any }
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return "", nil, err
		}
		if r.Status != "success" {
			return r.Status, nil, fmt.Errorf("%s: %s", q, r.Error)
		}
		return r.Status, r.Data.Result, nil
	}
	// Known traffic: /predict at 2 ms, and one slow at 3 s, keep coming while
	// Prometheus scrapes so rate() has several samples.
	const q = `histogram_quantile(0.5, sum by (le) (rate(mlserve_http_request_duration_seconds_bucket{endpoint="/predict",model="spam",version="v1"}[1m])))`
	var p50 float64
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		for range 50 {
			mon.Request("/predict", "spam-v1", 200, 1, 2*time.Millisecond, "")
		}
		mon.Request("/predict", "spam-v1", 200, 1, 3*time.Second, "")
		time.Sleep(250 * time.Millisecond)
		_, res, err := query(q)
		if err != nil || len(res) != 1 {
			continue
		}
		v := res[0].(map[string]any)["value"].([]any)[1].(string)
		if p50, err = strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(p50) {
			break
		}
	}
	// All but a few requests took 2 ms: the median lies in the (1 ms, 2.5 ms] bucket.
	if !(p50 > 0.001 && p50 <= 0.0025) {
		t.Fatalf("PromQL %s = %v, want within (0.001, 0.0025]", q, p50)
	}
	t.Logf("real Prometheus: p50 = %.4f s", p50)
	for _, e := range dashboardExprs(readDashboard(t)) {
		if _, _, err := query(e); err != nil {
			t.Errorf("dashboard query fails in Prometheus: %v", err)
		}
	}
}
