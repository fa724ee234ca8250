package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache/redis/redistest"
	"github.com/mlserve/mlserve/internal/loadgen"
)

// The multi-replica layout of the tests below: what a Kubernetes Deployment
// of three replicas behind a Service does, on loopback.
const (
	// replicaPoll is each replica's repository.poll_interval: the
	// guarantee for a change made through one replica to reach the others.
	replicaPoll = 2 * time.Second
	// replicaShutdownDelay is each replica's shutdown_delay: longer than
	// HAProxy needs to see a replica leave (fall 2 × inter 200 ms).
	replicaShutdownDelay = 1200 * time.Millisecond
	// loadAllowance is what loading a small scikit-learn version may add to
	// the poll interval on a busy two-core machine.
	loadAllowance = 2 * time.Second
)

// TestReplicasBehindHAProxy runs three `mlserve serve` replicas on one
// repository folder and one real redis-server, behind a real HAProxy
// (round robin, health checks on /health/ready), under load from the
// project's load generator through the balancer:
//   - a text answered by one replica is a cache hit on another;
//   - a version uploaded through the balancer (as the default), then a
//     default changed through it, is served by every replica well within
//     the poll interval (the Redis nudge), and never answered 404 meanwhile;
//   - a rolling restart of every replica (SIGTERM, wait until HAProxy has
//     it back, next) fails no request, and each comes back with the
//     repository's default;
//   - with Redis killed mid-load no request fails, and an upload still
//     reaches every replica within the poll interval (the poll is the
//     guarantee, the nudge only a hint);
//   - feedback for a prediction made on one replica is accepted by another
//     and shows in a third's live accuracy (shared through Redis).
func TestReplicasBehindHAProxy(t *testing.T) {
	haproxy := lookHAProxy(t)
	rs := redistest.Start(t)
	dir := copyModels(t)
	cfg := filepath.Join(filepath.Dir(dir), "config.yaml")
	conf := fmt.Sprintf("models_dir: %s\ndefault_model: sentiment-v2\n"+
		"repository:\n  poll_interval: %s\n"+
		"cache:\n  enabled: true\n  max_size: 1\n  ttl_seconds: 600\n  redis_url: %s\n"+
		"grpc:\n  enabled: false\n"+
		"shutdown_delay: %s\ndrain_timeout: 10s\n", dir, replicaPoll, rs.URL(), replicaShutdownDelay)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	reps := make([]*replica, 3)
	for i := range reps {
		reps[i] = &replica{name: fmt.Sprintf("r%d", i), cfg: cfg, addr: freeAddr(t), metricsAddr: freeAddr(t), top: t}
		reps[i].start(t)
	}
	lb := startHAProxy(t, haproxy, reps)
	lbClient, err := api.NewClient(lb.url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("a text answered by one replica is a cache hit on another", func(t *testing.T) {
		text := fmt.Sprintf("a text no replica has seen yet, %d", time.Now().UnixNano())
		first, err := reps[0].p.client.Predict(ctx, &api.PredictRequest{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if first.Cached {
			t.Fatal("a new text was a cache hit")
		}
		// The store to Redis may complete just after the answer.
		for end := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			again, err := reps[1].p.client.Predict(ctx, &api.PredictRequest{Text: text})
			if err != nil {
				t.Fatal(err)
			}
			if again.Cached {
				if again.Label != first.Label || again.Confidence != first.Confidence {
					t.Errorf("cached answer %s %v, first %s %v", again.Label, again.Confidence, first.Label, first.Confidence)
				}
				break
			}
			if time.Now().After(end) {
				t.Fatal("replica r1 never answered r0's text from the cache")
			}
		}
	})

	t.Run("an upload and a default change through the balancer reach every replica", func(t *testing.T) {
		l := startLoad(t, lb.url)
		out, err := runCLI(lb.url, "load", filepath.Join(repoRoot(t), "models", "sentiment", "v1"),
			"--name", "sentiment", "--version", "v3", "--default")
		if err != nil {
			t.Fatalf("mlserve load through the balancer: %v\n%s", err, out)
		}
		took := waitAllServe(t, reps, "sentiment", "sentiment-v3", replicaPoll+loadAllowance)
		t.Logf("upload served as the default by every replica after %s (poll interval %s)", took, replicaPoll)
		if took > replicaPoll {
			t.Errorf("the upload reached every replica after %s, not within the poll interval %s", took, replicaPoll)
		}
		if _, err := lbClient.SetDefault(ctx, "sentiment", "v2"); err != nil {
			t.Fatal(err)
		}
		took = waitAllServe(t, reps, "sentiment", "sentiment-v2", replicaPoll+loadAllowance)
		t.Logf("default change served by every replica after %s", took)
		if took > replicaPoll {
			t.Errorf("the default change reached every replica after %s, not within the poll interval %s", took, replicaPoll)
		}
		l.stopNoFailures(t)
	})

	t.Run("a rolling restart fails no request", func(t *testing.T) {
		l := startLoad(t, lb.url)
		time.Sleep(500 * time.Millisecond)
		for _, r := range reps {
			r.p.stop(t) // SIGTERM: not ready, serving for shutdown_delay, drain, exit 0
			if t.Failed() {
				t.FailNow()
			}
			r.start(t)
			lb.waitStatus(t, r.name, "UP")
			time.Sleep(300 * time.Millisecond) // some load on the new process
		}
		res := l.stopNoFailures(t)
		t.Logf("rolling restart under load: %d requests, %.0f/s", res.Requests, res.Throughput())
		for _, r := range reps {
			if got := predictedBy(t, r, "sentiment"); got != "sentiment-v2" {
				t.Errorf("%s restarted serving %s for sentiment, want the repository's default sentiment-v2", r.name, got)
			}
		}
	})

	t.Run("Redis killed mid-load fails no request; the poll still brings an upload", func(t *testing.T) {
		l := startLoad(t, lb.url)
		time.Sleep(500 * time.Millisecond)
		rs.Kill()
		time.Sleep(500 * time.Millisecond)
		out, err := runCLI(lb.url, "load", filepath.Join(repoRoot(t), "models", "sentiment", "v1"),
			"--name", "sentiment", "--version", "v4", "--default")
		if err != nil {
			t.Fatalf("mlserve load through the balancer with Redis down: %v\n%s", err, out)
		}
		took := waitAllServe(t, reps, "sentiment", "sentiment-v4", replicaPoll+loadAllowance)
		t.Logf("with Redis down (no nudge) the upload reached every replica after %s (poll interval %s)", took, replicaPoll)
		rs.Restart()
		time.Sleep(500 * time.Millisecond)
		l.stopNoFailures(t)
	})

	t.Run("feedback on another replica shows in a third's live accuracy", func(t *testing.T) {
		feedbackAcrossReplicas(t, reps)
	})
}

// replica is one `mlserve serve` on fixed addresses, so that it can be
// restarted where the balancer expects it.
type replica struct {
	name, cfg, addr, metricsAddr string
	p                            *proc
	top                          *testing.T // the test that owns the processes (not a subtest that restarts one)
}

// start runs the replica (again) and waits until it is ready.
func (r *replica) start(t *testing.T) {
	t.Helper()
	p := &proc{addr: r.addr, url: "http://" + r.addr, metricsURL: "http://" + r.metricsAddr + "/metrics",
		log: &logBuffer{}, done: make(chan error, 1)}
	p.run(t, "serve", "--config", r.cfg, "--addr", r.addr, "--metrics-addr", r.metricsAddr)
	r.top.Cleanup(func() { p.stop(r.top) })
	p.waitReady(t)
	r.p = p
}

// predictedBy returns the model id replica r answers ref with.
func predictedBy(t *testing.T, r *replica, ref string) string {
	t.Helper()
	res, err := r.p.client.Predict(context.Background(), &api.PredictRequest{Text: "fine", ModelVersion: ref})
	if err != nil {
		t.Fatalf("%s: predict %s: %v", r.name, ref, err)
	}
	return res.ModelVersion
}

// waitAllServe waits until every replica answers ref with the model want
// and returns how long that took; until then a replica may answer 503 (not
// ready yet), never 404.
func waitAllServe(t *testing.T, reps []*replica, ref, want string, limit time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for _, r := range reps {
		for {
			res, err := r.p.client.Predict(context.Background(), &api.PredictRequest{Text: "fine", ModelVersion: ref})
			var ae *api.Error
			switch {
			case err == nil && res.ModelVersion == want:
			case err == nil:
			case errors.As(err, &ae) && ae.StatusCode == http.StatusServiceUnavailable:
			default:
				t.Fatalf("%s answered %s with %v while %s was on its way", r.name, ref, err, want)
			}
			if err == nil && res.ModelVersion == want {
				break
			}
			if time.Since(t0) > limit {
				t.Fatalf("%s still does not serve %s as %s after %s:\n%s", r.name, ref, want, limit, r.p.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return time.Since(t0)
}

// runCLI runs an mlserve client command against url.
func runCLI(url string, args ...string) (string, error) {
	cmd := exec.Command(binary, append([]string{"--server", url}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// load is the load generator running through the balancer.
type load struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *loadgen.Result
	err    error
}

// startLoad sends /predict load to url, open loop at a rate a shared
// two-core machine carries beside three replicas, half of the texts
// repeats (cache hits, through Redis), until stopped.
func startLoad(t *testing.T, url string) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.res, l.err = loadgen.Run(ctx, loadgen.Config{URL: url, Concurrency: 8, Rate: 150, RepeatRatio: 0.5,
			Duration: 5 * time.Minute, Timeout: 10 * time.Second})
	}()
	t.Cleanup(l.cancel)
	return l
}

// stopNoFailures stops the load and fails the test if any request failed.
func (l *load) stopNoFailures(t *testing.T) *loadgen.Result {
	t.Helper()
	l.cancel()
	<-l.done
	if l.err != nil && !errors.Is(l.err, context.Canceled) {
		t.Fatalf("load generator: %v", l.err)
	}
	res := l.res
	if res.Requests == 0 {
		t.Fatal("the load generator got no answer")
	}
	if n := res.ErrorCount(); n > 0 {
		t.Errorf("%d of %d requests failed: %v; first: %s", n, res.Requests+n, res.Errors, res.FirstError)
	}
	return res
}

// lookHAProxy finds the haproxy binary (Debian installs it in /usr/sbin);
// without it the test fails under CI=true and is skipped elsewhere.
func lookHAProxy(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	msg := "haproxy not installed; run scripts/setup-services.sh (make test does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// balancer is a running haproxy.
type balancer struct {
	url, statsURL string
	cmd           *exec.Cmd
	log           *logBuffer
}

// startHAProxy runs haproxy in front of reps (round robin, health checks on
// /health/ready every 200 ms, down after 2 failures, up after 2 successes)
// and waits until it has every replica up. It never retries a request on
// another replica (retries 0), as a Kubernetes Service does not: a replica
// that goes away must not fail a request by itself (shutdown_delay).
func startHAProxy(t *testing.T, bin string, reps []*replica) *balancer {
	t.Helper()
	front, stats := freeAddr(t), freeAddr(t)
	var servers strings.Builder
	for _, r := range reps {
		fmt.Fprintf(&servers, "  server %s %s check\n", r.name, r.addr)
	}
	conf := fmt.Sprintf(`global
  maxconn 1024
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 10s
  retries 0
frontend api
  bind %s
  default_backend replicas
frontend stats
  bind %s
  stats enable
  stats uri /stats
backend replicas
  balance roundrobin
  option httpchk GET /health/ready
  http-check expect status 200
  default-server inter 200ms fall 2 rise 2
%s`, front, stats, servers.String())
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy rejects the config: %v\n%s", err, out)
	}
	b := &balancer{url: "http://" + front, statsURL: "http://" + stats + "/stats;csv", log: &logBuffer{}}
	b.cmd = exec.Command(bin, "-db", "-f", path)
	stderr, _ := b.cmd.StderrPipe()
	b.cmd.Stdout = io.Discard
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.log.WriteString(sc.Text() + "\n")
		}
	}()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	})
	for _, r := range reps {
		b.waitStatus(t, r.name, "UP")
	}
	return b
}

// status returns HAProxy's check status of server name ("UP", "DOWN",
// "UP 1/2"...), from its stats CSV.
func (b *balancer) status(name string) (string, error) {
	resp, err := http.Get(b.statsURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) == 0 {
		return "", fmt.Errorf("stats csv: %v", err)
	}
	col := -1
	for i, h := range rows[0] {
		if strings.TrimPrefix(h, "# ") == "status" {
			col = i
		}
	}
	for _, row := range rows[1:] {
		if len(row) > col && col >= 0 && row[0] == "replicas" && row[1] == name {
			return row[col], nil
		}
	}
	return "", fmt.Errorf("no server %s in HAProxy's stats", name)
}

// waitStatus waits (30 s at most) until HAProxy reports server name in state want.
func (b *balancer) waitStatus(t *testing.T, name, want string) {
	t.Helper()
	var got string
	var err error
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if got, err = b.status(name); err == nil && got == want {
			return
		}
	}
	t.Fatalf("HAProxy has %s %q (%v), want %s:\n%s", name, got, err, want, b.log)
}
