package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/hostile"
)

// secretText is written beside the test repository; no answer may ever
// contain it.
const secretText = "TOPSECRET-hostile-e2e-7f3a"

// Budgets for one hostile upload, measured from outside the server.
const (
	maxUploadTime = 2 * time.Second
	maxRSSGrowth  = 256 << 20
)

// hostileRepo copies the sample scikit-learn repository into a fresh folder
// and puts a secret file beside it, where the path cases aim.
func hostileRepo(t *testing.T) string {
	t.Helper()
	dir := copyModels(t)
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.txt"), []byte(secretText+"\nline two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// steadyTraffic asks for a prediction from each of ids in turn until stop is
// called (at most 200,000 requests or 10 minutes), and reports every answer
// that was not a 200 from the right version. An id "ask=want" asks for ask
// and wants the answer from want (a bare name and its default version).
type steadyTraffic struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	stopc      chan struct{}
	done       chan struct{}
}

func startTraffic(t *testing.T, c *api.Client, ids ...string) *steadyTraffic {
	t.Helper()
	// Every version must be serving first (the server is ready when its
	// default model is; the others may still be loading).
	for _, id := range ids {
		ask, _, _ := strings.Cut(id, "=")
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, err := c.Predict(context.Background(), &api.PredictRequest{Text: "warm", ModelVersion: ask})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not serve: %v", ask, err)
			}
		}
	}
	s := &steadyTraffic{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		deadline := time.Now().Add(10 * time.Minute)
		for i := 0; i < 200_000 && time.Now().Before(deadline); i++ {
			select {
			case <-s.stopc:
				return
			default:
			}
			ask, want, found := strings.Cut(ids[i%len(ids)], "=")
			if !found {
				want = ask
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := c.Predict(ctx, &api.PredictRequest{Text: "free money, click now " + strconv.Itoa(i), ModelVersion: ask})
			cancel()
			switch {
			case err != nil:
				s.fail(fmt.Sprintf("%s: %v", ask, err))
			case resp.ModelVersion != want:
				s.fail(fmt.Sprintf("asked %s, answered by %s, want %s", ask, resp.ModelVersion, want))
			default:
				s.ok.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return s
}

func (s *steadyTraffic) fail(msg string) {
	s.failed.Add(1)
	s.mu.Lock()
	if len(s.failures) < 10 {
		s.failures = append(s.failures, msg)
	}
	s.mu.Unlock()
}

func (s *steadyTraffic) stop(t *testing.T) {
	t.Helper()
	close(s.stopc)
	<-s.done
	if s.failed.Load() > 0 {
		t.Errorf("%d of %d predictions on the serving versions failed, e.g. %q", s.failed.Load(),
			s.failed.Load()+s.ok.Load(), s.failures)
	}
	if s.ok.Load() == 0 {
		t.Error("no prediction succeeded while the hostile files were handled")
	}
}

// procStatus reads a field in kB (VmRSS, VmHWM) of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestHostileUploads uploads every case of the corpus to a live server while
// it answers predictions on its other versions: each upload is refused with a
// message that matches the case, within the time budget, without the server's
// peak memory growing past the budget or its answers ever quoting the secret
// file; the repository is left as it was, and no prediction fails.
func TestHostileUploads(t *testing.T) {
	corpus, err := hostile.Open()
	if err != nil {
		t.Fatal(err)
	}
	dir := hostileRepo(t)
	before := listRepo(t, dir)
	p := startServerWith(t, dir, "versions:\n  keep_loaded: 3\n")
	pid := p.cmd.Process.Pid
	rss0 := procStatus(t, pid, "VmRSS")
	traffic := startTraffic(t, p.client, "spam-v1", "sentiment-v2", "sentiment-v1")
	for i, hc := range corpus.Cases {
		req := &api.LoadModelRequest{ArtifactPath: hc.Path(), Name: "hostile" + strconv.Itoa(i)}
		if hc.Manifest {
			req.ManifestPath = filepath.Join(hc.Dir(), "model.yaml")
		}
		extra, _ := filepath.Glob(filepath.Join(hc.Dir(), "*"))
		for _, f := range extra {
			if b := filepath.Base(f); b != hc.Artifact && b != "model.yaml" {
				req.FilePaths = append(req.FilePaths, f)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		_, err := p.client.LoadModel(ctx, req)
		elapsed := time.Since(start)
		cancel()
		var ae *api.Error
		switch {
		case err == nil:
			t.Errorf("%s (%s): the upload was accepted", hc.Name, hc.What)
			continue
		case !errors.As(err, &ae):
			t.Fatalf("%s: the server did not answer: %v\n%s", hc.Name, err, p.log)
		case ae.StatusCode < 400 || ae.StatusCode >= 500:
			t.Errorf("%s: status %d, want a 4xx refusal: %v", hc.Name, ae.StatusCode, err)
		}
		if err := hc.CheckMessage(err.Error()); err != nil {
			t.Error(err)
		}
		if strings.Contains(err.Error(), secretText) {
			t.Errorf("%s: the refusal quotes the secret file: %v", hc.Name, err)
		}
		if elapsed > maxUploadTime {
			t.Errorf("%s: refused after %v (limit %v)", hc.Name, elapsed, maxUploadTime)
		}
		if corpus.MarkerExists() {
			t.Fatalf("%s created the marker %s", hc.Name, corpus.Marker)
		}
	}
	traffic.stop(t)
	if grown := procStatus(t, pid, "VmHWM") - rss0; grown > maxRSSGrowth {
		t.Errorf("the server's peak resident memory grew by %d MB over the corpus (limit %d MB)", grown>>20, maxRSSGrowth>>20)
	}
	if after := listRepo(t, dir); !slicesEqual(before, after) {
		t.Errorf("the refused uploads changed the repository:\nbefore %q\nafter  %q", before, after)
	}
	list, err := p.client.ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Models {
		if strings.HasPrefix(m.ID, "hostile") {
			t.Errorf("refused upload %s is listed", m.ID)
		}
	}
	t.Logf("%d uploads refused; %d predictions answered meanwhile", len(corpus.Cases), traffic.ok.Load())
}

// listRepo lists every path under dir, hidden ones included.
func listRepo(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel != "." && !strings.HasPrefix(filepath.Base(rel), ".mlserve-state") {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// dropped are the corpus cases put straight into the repository folder by
// TestCrashLoop: one of each family that reaches the reader, and the path
// cases, each as the only version of a name of its own (so that each is
// among the keep_loaded newest of its name, and tried) or as a newer
// version of a name that serves.
var dropped = map[string]string{
	"cycle_grid_best_self":          "evil1/v1",
	"deep_best_estimator_100k":      "evil2/v1",
	"bomb_emptydict_zlib":           "evil3/v1",
	"bomb_bytes256m_xz":             "evil4/v1",
	"cpu_int_text_1m_digits":        "evil5/v1",
	"cpu_hash_big_key_reused":       "evil6/v1",
	"nan_lr_coef_nan":               "evil7/v1",
	"bounds_hashing_ngram_1m":       "evil8/v1",
	"exec_os_system":                "evil9/v1",
	"path_artifact_parent":          "evil10/v1",
	"path_artifact_secret":          "evil11/v1",
	"path_onnx_vocab_secret":        "evil12/v1",
	"cycle_pipeline_last_step_self": "spam/v7",
}

// TestCrashLoop drops hostile version folders straight into the repository
// (not uploaded): the server starts, logs each once, skips it on every poll,
// serves every good version, and does so again after a hard kill and restart.
func TestCrashLoop(t *testing.T) {
	corpus, err := hostile.Open()
	if err != nil {
		t.Fatal(err)
	}
	dir := hostileRepo(t)
	for name, dst := range dropped {
		var hc *hostile.Case
		for i := range corpus.Cases {
			if corpus.Cases[i].Name == name {
				hc = &corpus.Cases[i]
			}
		}
		if hc == nil {
			t.Fatalf("no corpus case %s", name)
		}
		if err := os.CopyFS(filepath.Join(dir, dst), os.DirFS(hc.Dir())); err != nil {
			t.Fatal(err)
		}
	}
	// A version folder that is a symlink to a folder outside the repository.
	if err := os.MkdirAll(filepath.Join(dir, "evil13"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "evil13", "v1")); err != nil {
		t.Fatal(err)
	}
	cfg := "repository:\n  poll_interval: 100ms\nversions:\n  keep_loaded: 3\n"
	for round := range 2 {
		p := startServerWith(t, dir, cfg)
		traffic := startTraffic(t, p.client, "spam=spam-v1", "spam-v1", "sentiment-v2", "sentiment-v1")
		time.Sleep(1500 * time.Millisecond) // fifteen polls
		traffic.stop(t)
		list, err := p.client.ListModels(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list.Models {
			if (strings.HasPrefix(m.ID, "evil") || m.ID == "spam-v7") && m.Status != api.StatusFailed {
				t.Errorf("round %d: hostile version %s is %s, want failed", round, m.ID, m.Status)
			}
		}
		log := p.log.String()
		if strings.Contains(log, secretText) {
			t.Errorf("round %d: the log quotes the secret file", round)
		}
		for _, dst := range dropped {
			name, version, _ := strings.Cut(dst, "/")
			mention := regexp.MustCompile(`\b` + name + `[-/]` + version + `\b`)
			n := 0
			for _, line := range strings.Split(log, "\n") {
				if mention.MatchString(line) {
					n++
				}
			}
			if n == 0 || n > 2 {
				t.Errorf("round %d: %s is logged on %d lines over 15 polls, want once (or twice):\n%s", round, dst, n, log)
			}
		}
		if !strings.Contains(log, "symbolic link") {
			t.Errorf("round %d: the symlinked version folder is not logged:\n%s", round, log)
		}
		if round == 0 {
			p.cmd.Process.Kill() // a hard stop: the next start must cope with whatever is left
			<-p.done
		}
	}
	if corpus.MarkerExists() {
		t.Fatalf("a dropped case created the marker %s", corpus.Marker)
	}
}
