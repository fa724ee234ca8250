package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/app"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/config"
)

// testToken is the admin token of the servers these tests start.
const testToken = "ui-test-token"

// server is a whole mlserve (app.Run) on a kernel-chosen loopback port.
type server struct {
	base string
	dir  string // its model repository
}

// repoRoot is the repository's root, where models/ is.
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// copyModel copies models/<name>/<version> of the repository into dir.
func copyModel(t testing.TB, dir, name, version string) {
	t.Helper()
	src := filepath.Join(repoRoot(t), "models", name, version)
	dst := filepath.Join(dir, name, version)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startServer serves the scikit-learn sample models (sentiment v1, v2 and
// spam v1) with the admin token, a fast page refresh and a 1 s history step,
// after edits to that configuration; it stops when the test ends.
func startServer(t testing.TB, edits ...func(*config.Config)) *server {
	t.Helper()
	dir := t.TempDir()
	copyModel(t, dir, "sentiment", "v1")
	copyModel(t, dir, "sentiment", "v2")
	copyModel(t, dir, "spam", "v1")
	c := config.Default()
	c.ModelsDir = dir
	c.ListenAddr = "127.0.0.1:0"
	c.Monitoring.Addr = "127.0.0.1:0"
	c.GRPC.Enabled = false
	c.AdminToken = testToken
	c.DefaultModel = "sentiment"
	c.UI.Refresh = config.Duration(300 * time.Millisecond)
	c.UI.Resolution = config.Duration(time.Second)
	c.Repository.PollInterval = config.Duration(time.Hour)
	c.DrainTimeout = config.Duration(2 * time.Second)
	for _, edit := range edits {
		edit(c)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prom, mon, err := app.NewMonitoring(c.Monitoring, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, c, app.Parts{Loaders: app.Loaders(c, log), Prometheus: prom, Monitor: mon,
			Observe: app.ObserveBatches(mon.Metrics()), Log: log, Version: "test",
			Ready: func(a, _ net.Addr) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15 s")
		}
	})
	var s *server
	select {
	case a := <-addr:
		s = &server{base: "http://" + a.String(), dir: dir}
	case err := <-done:
		t.Fatalf("server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not listen within 30 s")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var l api.ModelList
		if code := s.json(t, "GET", "/models", nil, true, &l); code == 200 && ready(l, "sentiment-v1", "sentiment-v2", "spam-v1") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("the sample models were not ready within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ready(l api.ModelList, ids ...string) bool {
	n := 0
	for _, m := range l.Models {
		for _, id := range ids {
			if m.ID == id && m.Status == api.StatusReady {
				n++
			}
		}
	}
	return n == len(ids)
}

// json sends a request (with the admin token when admin) and decodes the
// answer into out; it returns the status.
func (s *server) json(t testing.TB, method, path string, body any, admin bool, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if admin {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

func (s *server) stats(t testing.TB) api.Stats {
	t.Helper()
	var st api.Stats
	if code := s.json(t, "GET", "/stats", nil, false, &st); code != 200 {
		t.Fatalf("GET /stats: %d", code)
	}
	return st
}

func (s *server) model(t testing.TB, id string) api.ModelInfo {
	t.Helper()
	var m api.ModelInfo
	if code := s.json(t, "GET", "/models/"+id, nil, true, &m); code != 200 {
		t.Fatalf("GET /models/%s: %d", id, code)
	}
	return m
}

// Sample texts and the labels people (and the sample models) give them.
var samples = []struct{ model, text, label string }{
	{"sentiment-v1", "Absolutely love it, works perfectly and the quality is great.", "positive"},
	{"sentiment-v1", "Terrible. It broke after two days and support never replied.", "negative"},
	{"spam-v1", "WINNER!! You have won a FREE prize, call now to claim your cash reward", "spam"},
	{"spam-v1", "Are we still meeting for lunch tomorrow at noon?", "ham"},
}

// traffic sends known traffic: each sample to its model n times, a batch,
// an invalid request and feedback on some predictions.
func (s *server) traffic(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		for _, x := range samples {
			var p api.PredictResponse
			if code := s.json(t, "POST", "/predict", api.PredictRequest{Text: x.text, ModelVersion: x.model}, false, &p); code != 200 {
				t.Fatalf("predict: %d", code)
			}
			if i == 0 {
				s.json(t, "POST", "/feedback", api.FeedbackRequest{RequestID: p.RequestID, Label: x.label}, false, nil)
			}
		}
	}
	texts := []string{samples[0].text, samples[1].text, "The store opens at nine on Saturdays."}
	if code := s.json(t, "POST", "/batch-predict", api.BatchPredictRequest{Texts: texts, ModelVersion: "sentiment-v2"}, false, nil); code != 200 {
		t.Fatalf("batch-predict: %d", code)
	}
	// A request refused before any model sees it: /stats does not count it.
	if code := s.json(t, "POST", "/predict", map[string]any{"text": "", "model_version": "sentiment-v1"}, false, nil); code != 422 {
		t.Fatalf("empty text answered %d", code)
	}
}

// browser is one headless Chromium tab that records console errors and
// every URL the page asks for.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
	urls []string
}

// chromium finds the browser: MLSERVE_CHROMIUM, else chromium on PATH.
// Without one the test fails under MLSERVE_REQUIRE_BROWSER=1, else skips.
func chromium(t testing.TB) string {
	t.Helper()
	path, msg, fail := findChromium(os.Getenv, exec.LookPath)
	switch {
	case path != "":
		return path
	case fail:
		t.Fatal(msg)
	default:
		t.Skip(msg)
	}
	return ""
}

// findChromium returns the browser's path, or why there is none and
// whether that fails the test (MLSERVE_REQUIRE_BROWSER=1) or skips it.
func findChromium(getenv func(string) string, look func(string) (string, error)) (path, msg string, fail bool) {
	if p := getenv("MLSERVE_CHROMIUM"); p != "" {
		if _, err := look(p); err != nil {
			return "", "MLSERVE_CHROMIUM=" + p + ": " + err.Error(), true
		}
		return p, "", false
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := look(name); err == nil {
			return p, "", false
		}
	}
	msg = "no chromium on PATH (scripts/setup-browser.sh, make setup-browser, installs Debian's)"
	if getenv("MLSERVE_REQUIRE_BROWSER") == "1" {
		return "", msg + "; MLSERVE_REQUIRE_BROWSER=1 makes this a failure", true
	}
	return "", msg, false
}

// TestMissingChromiumFailsWhenRequired: under the CI flag a missing browser
// is a failure, never a skip.
func TestMissingChromiumFailsWhenRequired(t *testing.T) {
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	found := func(name string) (string, error) { return "/usr/bin/" + name, nil }
	cases := []struct {
		name     string
		env      map[string]string
		look     func(string) (string, error)
		wantPath string
		wantFail bool
	}{
		{"found", nil, found, "/usr/bin/chromium", false},
		{"missing, required", map[string]string{"MLSERVE_REQUIRE_BROWSER": "1"}, none, "", true},
		{"missing, not required", nil, none, "", false},
		{"named but missing", map[string]string{"MLSERVE_CHROMIUM": "/nope/chrome"}, none, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, msg, fail := findChromium(func(k string) string { return c.env[k] }, c.look)
			if path != c.wantPath || fail != c.wantFail || (path == "" && msg == "") {
				t.Errorf("got %q, %q, fail %v; want %q, fail %v", path, msg, fail, c.wantPath, c.wantFail)
			}
		})
	}
}

// newBrowser starts headless Chromium at 1280×800 for the test (60 s at
// most), listening to the page's console, log and network.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 800),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError || e.Type == cdpruntime.ConsoleAPICalledTypeWarning || e.Type == cdpruntime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errs = append(b.errs, "console."+string(e.Type)+": "+strings.Join(parts, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.errs = append(b.errs, "exception: "+msg)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				b.errs = append(b.errs, "log "+string(e.Entry.Level)+": "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			b.urls = append(b.urls, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	b.run(t, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{})
		return err
	}))
	return b
}

// click clicks the element the CSS selector sel names, with the mouse. The
// page redraws what changed on each refresh, so a node found just before
// may be gone: the click is tried again on a fresh lookup.
func (b *browser) click(t testing.TB, sel string) {
	t.Helper()
	var err error
	for range 5 {
		if err = chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("click %s: %v", sel, err)
}

// useToken types the admin token into the page and presses Enter.
func (b *browser) useToken(t testing.TB, token string) {
	t.Helper()
	b.run(t, chromedp.SendKeys(chromedp.CSS(`#token`), token+"\r"))
	b.waitFor(t, "the token kept", fmt.Sprintf(`sessionStorage.getItem("mlserve-admin-token") === %q`, token))
}

func (b *browser) run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// clean fails the test on any console error so far, except those holding
// one of the expected strings, and on any request for something not on
// 127.0.0.1 (data: URLs are the page's own).
func (b *browser) clean(t testing.TB, expected ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
errs:
	for _, e := range b.errs {
		for _, x := range expected {
			if strings.Contains(e, x) {
				continue errs
			}
		}
		t.Errorf("console: %s", e)
	}
	for _, raw := range b.urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "data" && u.Hostname() != "127.0.0.1") {
			t.Errorf("request leaving the machine: %s", raw)
		}
	}
	if len(b.urls) == 0 {
		t.Error("no request recorded: the network listener is not working")
	}
}

// text waits until the CSS selector sel is visible and returns its text.
func (b *browser) text(t testing.TB, sel string) string {
	t.Helper()
	b.run(t, chromedp.WaitVisible(chromedp.CSS(sel)))
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression into out.
func (b *browser) eval(t testing.TB, js string, out any) {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	if err := json.Unmarshal(v, out); err != nil {
		t.Fatalf("evaluate %s: %v: %s", js, err, v)
	}
}

// cdpDo runs one DevTools command with its parameters.
func cdpDo[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cmd, params)
		return err
	})
}

// scheme emulates prefers-color-scheme.
func scheme(v string) chromedp.Action[chromedp.Void] {
	return cdpDo(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
}

// waitFor polls the JavaScript condition until it is true (10 s at most).
func (b *browser) waitFor(t testing.TB, what, js string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		b.eval(t, js, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var main string
			b.eval(t, `document.getElementById("live").textContent + " | " + (document.getElementById("admin-msg")||{}).textContent + " | " + document.getElementById("main").innerText.slice(0, 600)`, &main)
			t.Fatalf("waited 10 s for %s (%s); the page shows: %s", what, js, main)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pages are the dashboard's pages and an element each must show.
var pages = []struct{ name, hash, sel string }{
	{"overview", "#/overview", `#ov-models table`},
	{"models", "#/models", `#models-list table`},
	{"model", "#/model/sentiment-v1", `#md-drift-table`},
	{"try", "#/try", `#try-text`},
}

func TestPagesLoadClean(t *testing.T) {
	s := startServer(t)
	s.traffic(t, 2)
	b := newBrowser(t)
	for _, p := range pages {
		b.run(t, chromedp.Navigate(s.base+"/ui"+p.hash), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		b.waitFor(t, p.name+" refreshed", `document.getElementById("live").textContent.startsWith("live")`)
		var page string
		b.eval(t, `document.getElementById("main").dataset.page`, &page)
		if page != p.name {
			t.Errorf("%s: main shows page %q", p.hash, page)
		}
		var current string
		b.eval(t, `document.querySelector('nav a[aria-current="page"]').dataset.page`, &current)
		if want := strings.Replace(p.name, "model", "models", 1); current != want && !(p.name == "models" && current == "models") {
			t.Errorf("%s: nav marks %q", p.hash, current)
		}
		time.Sleep(700 * time.Millisecond) // two refreshes more: their errors would show
	}
	// The traffic panel shows only when the JSON carries a traffic split.
	b.run(t, chromedp.Navigate(s.base+"/ui#/model/sentiment-v1"), chromedp.WaitVisible(chromedp.CSS(`#md-drift-table`)))
	var hidden bool
	b.eval(t, `document.getElementById("md-traffic").hidden`, &hidden)
	if !hidden {
		t.Error("the traffic panel shows with no traffic split in /stats")
	}
	b.clean(t)
}

// TestNumbersEqualStats sends known traffic and reads the page's figures
// back: each must equal what GET /stats answers.
func TestNumbersEqualStats(t *testing.T) {
	s := startServer(t)
	s.traffic(t, 3)
	b := newBrowser(t)
	st := s.stats(t)
	if st.Requests != 3*int64(len(samples))+1 {
		t.Fatalf("/stats counts %d requests, the test sent %d that reached a model", st.Requests, 3*len(samples)+1)
	}
	b.run(t, chromedp.Navigate(s.base+"/ui#/overview"))
	b.waitFor(t, "the overview's request count", fmt.Sprintf(`(document.getElementById("ov-requests")||{}).textContent === "%d"`, st.Requests))
	if got := b.text(t, "#ov-errors-total"); got != fmt.Sprint(st.Errors) {
		t.Errorf("errors: page %s, /stats %d", got, st.Errors)
	}
	for id, m := range st.Models {
		for k, want := range map[string]string{
			"requests": fmt.Sprint(m.Requests), "texts": fmt.Sprint(m.Texts), "errors": fmt.Sprint(m.Errors),
			"p50": fmt.Sprintf("%.3f", m.LatencyP50MS), "p90": fmt.Sprintf("%.3f", m.LatencyP90MS), "p99": fmt.Sprintf("%.3f", m.LatencyP99MS),
		} {
			if got := b.text(t, fmt.Sprintf(`#ov-models tr[data-model=%q] td[data-k=%q]`, id, k)); got != want {
				t.Errorf("%s %s: page %s, /stats %s", id, k, got, want)
			}
		}
	}
	// The model page's prediction counts and live accuracy.
	b.run(t, chromedp.Navigate(s.base+"/ui#/model/sentiment-v1"), chromedp.WaitVisible(chromedp.CSS(`#md-pred-counts`)))
	m := st.Models["sentiment-v1"]
	if len(m.Predictions) == 0 {
		t.Fatal("/stats has no predictions for sentiment-v1")
	}
	for label, n := range m.Predictions {
		if got := b.text(t, fmt.Sprintf(`#md-pred-counts dd[data-label=%q]`, label)); got != fmt.Sprint(n) {
			t.Errorf("sentiment-v1 %s predictions: page %s, /stats %d", label, got, n)
		}
	}
	if got := b.text(t, "#md-requests"); got != fmt.Sprint(m.Requests) {
		t.Errorf("sentiment-v1 requests on its page: %s, /stats %d", got, m.Requests)
	}
	var d api.DriftStatus
	s.json(t, "GET", "/models/sentiment-v1/drift", nil, false, &d)
	if d.Accuracy.Feedback != 2 {
		t.Fatalf("feedback count %d, the test sent 2", d.Accuracy.Feedback)
	}
	b.waitFor(t, "the feedback count", `(document.getElementById("md-acc-feedback")||{}).textContent === "2 of `+fmt.Sprint(d.Accuracy.Window)+`"`)
	b.clean(t)
}

// TestAdminActions: set default, unload and upload are refused without the
// admin token and work once it is typed into the page.
func TestAdminActions(t *testing.T) {
	s := startServer(t)
	s.traffic(t, 1) // without the token, the page knows the versions from /stats
	b := newBrowser(t)
	def := s.model(t, "sentiment-v1").Default
	if def {
		t.Fatal("sentiment-v1 is already the default; the test wants v2 to be")
	}
	b.run(t, chromedp.Navigate(s.base+"/ui#/models"), chromedp.WaitVisible(chromedp.CSS(`#models-need-token`)))
	row := `#models-list tr[data-model="sentiment-v1"] `
	b.click(t, row+`button[data-act="default"]`)
	b.waitFor(t, "the refusal", `document.getElementById("admin-msg").textContent.startsWith("Set default refused: 401")`)
	b.click(t, row+`button[data-act="unload"]`)
	b.waitFor(t, "the refusal", `document.getElementById("admin-msg").textContent.startsWith("Unload refused: 401")`)
	artifact := filepath.Join(repoRoot(t), "models", "spam", "v1", "model.joblib")
	b.run(t, chromedp.SetUploadFiles(chromedp.CSS(`#up-file`), []string{artifact}),
		chromedp.SendKeys(chromedp.CSS(`#up-name`), "uploaded"),
		chromedp.Click(chromedp.CSS(`#up-submit`)))
	b.waitFor(t, "the refusal", `document.getElementById("admin-msg").textContent.startsWith("Upload refused: 401")`)
	if m := s.model(t, "sentiment-v1"); m.Default || m.Status != api.StatusReady {
		t.Fatalf("refused actions changed sentiment-v1: %+v", m)
	}
	var l api.ModelList
	s.json(t, "GET", "/models", nil, true, &l)
	if len(l.Models) != 3 {
		t.Fatalf("a refused upload added a version: %d versions", len(l.Models))
	}
	// A wrong token is refused too.
	b.useToken(t, "wrong")
	b.click(t, row+`button[data-act="default"]`)
	b.waitFor(t, "the refusal", `document.getElementById("admin-msg").textContent.startsWith("Set default refused: 403")`)

	// With the token: the list shows states, and each action works.
	b.click(t, `#token-clear`)
	b.waitFor(t, "the token forgotten", `document.getElementById("token").value === "" && !sessionStorage.getItem("mlserve-admin-token")`)
	b.useToken(t, testToken)
	b.waitFor(t, "the states", `!!document.querySelector('#models-list tr[data-model="sentiment-v1"] [data-k="status"]') && document.querySelector('#models-list tr[data-model="sentiment-v1"] [data-k="status"]').textContent === "ready"`)
	b.click(t, row+`button[data-act="default"]`)
	b.waitFor(t, "the default", `document.getElementById("admin-msg").textContent === "sentiment-v1 is now the default of sentiment"`)
	if !s.model(t, "sentiment-v1").Default {
		t.Error("set default from the page did not make sentiment-v1 the default")
	}
	b.waitFor(t, "the default column", `document.querySelector('#models-list tr[data-model="sentiment-v1"] [data-k="default"]').textContent === "default"`)
	b.click(t, `#models-list tr[data-model="sentiment-v2"] button[data-act="unload"]`)
	b.waitFor(t, "the unload", `document.getElementById("admin-msg").textContent === "Unloaded sentiment-v2"`)
	if m := s.model(t, "sentiment-v2"); m.Status != api.StatusUnloaded {
		t.Errorf("sentiment-v2 is %s after unload from the page", m.Status)
	}
	b.run(t, chromedp.SetUploadFiles(chromedp.CSS(`#up-file`), []string{artifact}),
		chromedp.Click(chromedp.CSS(`#up-submit`)))
	b.waitFor(t, "the upload", `document.getElementById("admin-msg").textContent.startsWith("Loaded uploaded-v1")`)
	if m := s.model(t, "uploaded-v1"); m.Status != api.StatusReady {
		t.Errorf("uploaded-v1 is %s after upload from the page", m.Status)
	}
	b.waitFor(t, "the uploaded row", `!!document.querySelector('#models-list tr[data-model="uploaded-v1"]')`)
	// The refusals the test asked for are the only errors the page logged.
	b.clean(t, "the server responded with a status of 401", "the server responded with a status of 403")
}

// TestTryIt types the sample texts and reads the labels: each is the
// model's answer through the API and the label a person gives it.
func TestTryIt(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	for _, model := range []string{"sentiment-v1", "spam-v1"} {
		var texts, want []string
		for _, x := range samples {
			if x.model == model {
				texts = append(texts, x.text)
				want = append(want, x.label)
			}
		}
		b.run(t, chromedp.Navigate(s.base+"/ui#/try"), chromedp.WaitVisible(chromedp.CSS(`#try-text`)))
		var cleared bool
		b.eval(t, `document.getElementById("try-model").value = ""; document.getElementById("try-text").value = ""; true`, &cleared)
		b.run(t, chromedp.SendKeys(chromedp.CSS(`#try-model`), model),
			chromedp.SendKeys(chromedp.CSS(`#try-text`), strings.Join(texts, "\n")),
			chromedp.Click(chromedp.CSS(`#try-go`)))
		b.waitFor(t, "the results", fmt.Sprintf(`document.querySelectorAll("#try-results .result[data-label]").length === %d`, len(texts)))
		var got []string
		b.eval(t, `[...document.querySelectorAll("#try-results .result .label")].map(e => e.textContent)`, &got)
		var probs int
		b.eval(t, `document.querySelectorAll("#try-results .probs .fill").length`, &probs)
		var api api.BatchPredictResponse
		s.json(t, "POST", "/batch-predict", map[string]any{"texts": texts, "model_version": model}, false, &api)
		for i := range texts {
			if i >= len(got) || got[i] != want[i] || got[i] != api.Predictions[i].Label {
				t.Errorf("%s %q: page %v, API %s, person %s", model, texts[i], got, api.Predictions[i].Label, want[i])
			}
		}
		if probs == 0 {
			t.Errorf("%s: no probability bars", model)
		}
	}
	// Keyboard: Ctrl+Enter in the box classifies too.
	b.run(t, chromedp.Navigate("about:blank"), chromedp.Navigate(s.base+"/ui#/try"), chromedp.WaitVisible(chromedp.CSS(`#try-text`)),
		chromedp.SendKeys(chromedp.CSS(`#try-text`), samples[0].text),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(kb.ModifierCtrl)))
	b.waitFor(t, "the keyboard's result", `document.querySelectorAll("#try-results .result[data-label]").length === 1`)
	b.clean(t)
}

// TestKeyboardPhoneThemes: the pages are reached with the keyboard, fit a
// phone's width without sideways scrolling, and follow the system's theme.
func TestKeyboardPhoneThemes(t *testing.T) {
	s := startServer(t)
	s.traffic(t, 1)
	b := newBrowser(t)
	b.run(t, chromedp.Navigate(s.base+"/ui#/overview"), chromedp.WaitVisible(chromedp.CSS(`#ov-models table`)))
	// Tab from the top of the page to the "Models" link, Enter follows it.
	found := false
	for range 8 {
		b.run(t, chromedp.KeyEvent("\t"))
		var label string
		b.eval(t, `document.activeElement ? document.activeElement.textContent : ""`, &label)
		if label == "Models" {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("Tab never reached the Models link")
	}
	b.run(t, chromedp.KeyEvent("\r"))
	b.waitFor(t, "the models page", `document.getElementById("main").dataset.page === "models"`)

	// Phone width: nothing wider than the screen.
	b.run(t, cdpDo(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 3, Mobile: true}))
	for _, p := range pages {
		b.run(t, chromedp.Navigate(s.base+"/ui"+p.hash), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		b.waitFor(t, p.name+" refreshed", `document.getElementById("live").textContent.startsWith("live")`)
		var over float64
		b.eval(t, `document.documentElement.scrollWidth - window.innerWidth`, &over)
		if over > 0 {
			t.Errorf("%s at 390 px: %v px wider than the screen", p.name, over)
		}
	}
	b.run(t, cdpDo(emulation.ClearDeviceMetricsOverride, cdp.Empty{}))

	// Themes follow prefers-color-scheme.
	for _, c := range []struct{ scheme, bg string }{{"dark", "rgb(13, 17, 23)"}, {"light", "rgb(255, 255, 255)"}} {
		b.run(t, scheme(c.scheme))
		var bg string
		b.eval(t, `getComputedStyle(document.body).backgroundColor`, &bg)
		if bg != c.bg {
			t.Errorf("%s scheme: background %s, want %s", c.scheme, bg, c.bg)
		}
	}
	b.clean(t)
}

// TestScreenshots writes a 1280×800 PNG of each page, in light theme, into
// MLSERVE_SCREENSHOTS (make screenshots: docs/ui); without it, it does
// nothing.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("MLSERVE_SCREENSHOTS")
	if dir == "" {
		t.Skip("MLSERVE_SCREENSHOTS is not set (make screenshots sets it)")
	}
	s := startServer(t)
	b := newBrowser(t)
	// Traffic over a few seconds, so the history has a shape.
	for range 8 {
		s.traffic(t, 2)
		time.Sleep(700 * time.Millisecond)
	}
	b.run(t, scheme("light"))
	for _, p := range pages {
		b.run(t, chromedp.Navigate(s.base+"/ui"+p.hash), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		if p.name == "models" {
			b.useToken(t, testToken)
			b.waitFor(t, "the states", `!!document.querySelector('#models-list [data-k="status"].ready')`)
		}
		if p.name == "try" {
			b.run(t, chromedp.SendKeys(chromedp.CSS(`#try-text`), samples[0].text+"\n"+samples[1].text+"\nThe store opens at nine on Saturdays."),
				chromedp.Click(chromedp.CSS(`#try-go`)))
			b.waitFor(t, "the results", `document.querySelectorAll("#try-results .result[data-label]").length === 3`)
		}
		time.Sleep(700 * time.Millisecond)
		b.shot(t, filepath.Join(dir, "ui-"+p.name+".png"))
	}
	// The overview in the dark theme, and on a phone.
	b.run(t, scheme("dark"), chromedp.Navigate(s.base+"/ui#/overview"), chromedp.WaitVisible(chromedp.CSS(`#ov-models table`)))
	time.Sleep(700 * time.Millisecond)
	b.shot(t, filepath.Join(dir, "ui-overview-dark.png"))
	b.run(t, scheme("light"), cdpDo(emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}))
	time.Sleep(700 * time.Millisecond)
	b.shot(t, filepath.Join(dir, "ui-overview-phone.png"))
	b.clean(t)
}

// shot writes a PNG of the viewport to path.
func (b *browser) shot(t testing.TB, path string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTryItExplains: Try it asks for an explanation and highlights the
// n-grams the model's exact explanation names, at their places in the text
// as typed (code points: "è" before them must not shift the marks).
func TestTryItExplains(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t)
	text := "Très bien: I love it, great value, terrible box."
	b.run(t, chromedp.Navigate(s.base+"/ui#/try"), chromedp.WaitVisible(chromedp.CSS(`#try-text`)),
		chromedp.SendKeys(chromedp.CSS(`#try-text`), text))
	b.click(t, `#try-go`)
	b.waitFor(t, "the highlighted result", `document.querySelectorAll("#try-results mark.xp").length > 0`)
	var marks []string
	b.eval(t, `[...document.querySelectorAll("#try-results mark.xp")].map(m => m.textContent)`, &marks)
	var whole string
	b.eval(t, `document.querySelector("#try-results .result .text").textContent`, &whole)
	if whole != text {
		t.Errorf("the result shows %q, want the text as typed %q", whole, text)
	}
	// What the server's explanation names, marked where the page marks it.
	var got api.PredictResponse
	s.json(t, "POST", "/predict", map[string]any{"text": text, "explain": map[string]any{"top_k": 10}}, false, &got)
	if got.Explanation == nil || len(got.Explanation.Contributions) == 0 {
		t.Fatalf("no explanation from the server: %+v", got)
	}
	named := map[string]bool{}
	runes := []rune(text)
	for _, c := range got.Explanation.Contributions {
		for _, sp := range c.Spans {
			named[strings.ToLower(string(runes[sp.Start:sp.End]))] = true
		}
	}
	for _, m := range marks {
		if !named[strings.ToLower(m)] {
			t.Errorf("mark %q is not a span of the explanation (%v)", m, named)
		}
	}
	b.clean(t)
}

// TestTrafficPanel: a shadow comparison set through the admin API shows in
// the model page's traffic panel, for the primary and for the candidate.
func TestTrafficPanel(t *testing.T) {
	s := startServer(t)
	policy := api.TrafficPolicy{Mode: "shadow", Candidate: "sentiment-v1"} // v2 is the default
	if code := s.json(t, "PUT", "/models/sentiment/traffic", policy, true, nil); code != 200 {
		t.Fatalf("PUT /models/sentiment/traffic: %d", code)
	}
	s.traffic(t, 2)
	if st := s.stats(t); st.Traffic["sentiment"].Candidate != "sentiment-v1" {
		t.Fatalf("/stats traffic: %+v", st.Traffic)
	}
	b := newBrowser(t)
	for _, id := range []string{"sentiment-v1", "sentiment-v2"} {
		b.run(t, chromedp.Navigate(s.base+"/ui#/model/"+id), chromedp.WaitVisible(chromedp.CSS(`#md-traffic dl`)))
		if got := b.text(t, "#md-traffic"); !strings.Contains(got, "sentiment-v1") || !strings.Contains(got, "shadow") ||
			!strings.Contains(got, "agreement") {
			t.Errorf("%s: traffic panel shows %q", id, got)
		}
	}
	b.clean(t)
}

// TestRedisState: the overview's Redis card follows /stats's fallback state
// with a real redis-server, up and then killed.
func TestRedisState(t *testing.T) {
	rs := redistest.Start(t)
	s := startServer(t, func(c *config.Config) { c.Cache.RedisURL = rs.URL() })
	s.traffic(t, 1)
	b := newBrowser(t)
	if st := s.stats(t); st.Cache == nil || st.Cache.Redis == nil || st.Cache.RedisFallback {
		t.Fatalf("/stats with Redis up: %+v", st.Cache)
	}
	b.run(t, chromedp.Navigate(s.base+"/ui#/overview"))
	b.waitFor(t, "Redis connected", `(document.getElementById("ov-redis-state")||{}).textContent === "connected"`)
	rs.Kill()
	// A text not yet cached goes to Redis, which is gone: fallback.
	s.json(t, "POST", "/predict", api.PredictRequest{Text: "a text Redis has never seen", ModelVersion: "sentiment-v1"}, false, nil)
	if st := s.stats(t); !st.Cache.RedisFallback {
		t.Fatalf("/stats after Redis died: %+v", st.Cache)
	}
	b.waitFor(t, "Redis fallback", `(document.getElementById("ov-redis-state")||{}).textContent === "fallback (Redis down)"`)
	b.waitFor(t, "the fallback series", `!!document.querySelector("#ov-redis svg path")`)
	b.clean(t)
}
