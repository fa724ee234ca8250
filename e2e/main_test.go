package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// binary is the mlserve executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mlserve-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mlserve")
	build := exec.Command("go", "build", "-o", binary, "github.com/mlserve/mlserve/cmd/mlserve")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mlserve:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the module root (the sample models live in models/).
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// copyModels copies the scikit-learn versions of the sample repository into
// a fresh directory. The ONNX versions are left out so that these tests do not
// depend on ONNX Runtime and keep their version numbering; onnx_test.go serves
// them (copyAllModels).
func copyModels(t testing.TB) string {
	t.Helper()
	dst := copyAllModels(t)
	versions, err := filepath.Glob(filepath.Join(dst, "*", "v*", model.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range versions {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := model.ParseManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Framework != "sklearn" {
			if err := os.RemoveAll(filepath.Dir(f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dst
}

// copyAllModels copies the whole sample repository into a fresh directory.
func copyAllModels(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "models")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(repoRoot(t), "models"))); err != nil {
		t.Fatal(err)
	}
	return dst
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running `mlserve serve`.
type proc struct {
	cmd  *exec.Cmd
	addr string
	url  string
	// metricsURL is the monitoring listener's /metrics.
	metricsURL string
	// grpcAddr is the OIP gRPC listener's host:port.
	grpcAddr string
	client   *api.Client
	log      *logBuffer
	done     chan error
}

// startServer runs `mlserve serve` on modelsDir and waits until it is ready.
func startServer(t testing.TB, modelsDir string) *proc {
	t.Helper()
	return startServerWith(t, modelsDir, "")
}

// startServerWith is startServer with extra YAML appended to the config.
func startServerWith(t testing.TB, modelsDir, extra string) *proc {
	t.Helper()
	p := launch(t, modelsDir, extra)
	p.waitReady(t)
	return p
}

// logBuffer holds a server's log: written by the goroutine that reads its
// stderr, read by the test while the server runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

// String is the log so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// launch runs `mlserve serve` on modelsDir with extra YAML appended to the
// config, without waiting for it to be ready; it is stopped when the test
// ends.
func launch(t testing.TB, modelsDir, extra string) *proc {
	t.Helper()
	cfg := filepath.Join(filepath.Dir(modelsDir), "config.yaml")
	if err := os.WriteFile(cfg, []byte("models_dir: "+modelsDir+"\ndefault_model: sentiment-v2\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{addr: freeAddr(t), log: &logBuffer{}, done: make(chan error, 1)}
	p.url = "http://" + p.addr
	metricsAddr := freeAddr(t)
	p.metricsURL = "http://" + metricsAddr + "/metrics"
	p.grpcAddr = freeAddr(t)
	p.run(t, "serve", "--config", cfg, "--addr", p.addr, "--metrics-addr", metricsAddr, "--grpc-addr", p.grpcAddr)
	t.Cleanup(func() { p.stop(t) })
	return p
}

// run starts the binary with args (no admin token), p.log collecting its
// stderr and p.done receiving its exit once that is read to the end, and
// makes p.client for p.url. The caller registers p.stop.
func (p *proc) run(t testing.TB, args ...string) {
	t.Helper()
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), "MLSERVE_ADMIN_TOKEN=")
	stderr, _ := p.cmd.StderrPipe()
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.log.WriteString(sc.Text() + "\n")
		}
		close(lines)
	}()
	go func() { <-lines; p.done <- p.cmd.Wait() }()
	var err error
	if p.client, err = api.NewClient(p.url, "", nil); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits (60 s at most) until p's readiness check passes.
func (p *proc) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := p.client.Health(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case werr := <-p.done:
			t.Fatalf("mlserve serve exited (%v):\n%s", werr, p.log)
		default:
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("server not ready after 60 s (%v):\n%s", err, p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("mlserve serve exited with %v:\n%s", err, p.log)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("mlserve serve did not stop on SIGTERM:\n%s", p.log)
	}
}

// cli runs an mlserve client command against p and returns its output.
func (p *proc) cli(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--server", p.url}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
