package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The container tests build the image with `make image`'s script (or take
// MLSERVE_TEST_IMAGE, already built) and run it the way these machines run
// containers: Debian's podman with runc and cgroupfs, the host's network,
// small ulimits (crun and the default ulimits fail here); or docker, when
// its daemon answers and podman is absent. They skip only when neither can
// be installed, and fail then under CI=true.

// imageTag is what scripts/image.sh tags for the tests.
const imageTag = "localhost/mlserve:e2e"

// maxImageBytes is the bound on the image's size.
const maxImageBytes = 150 << 20

var (
	imageOnce sync.Once
	imageRef  string
	engineCmd string
	imageErr  error
)

// containerImage returns the engine and the image, building it once per run.
func containerImage(t *testing.T) (string, string) {
	t.Helper()
	imageOnce.Do(func() {
		engineCmd = os.Getenv("ENGINE")
		if engineCmd == "" {
			if _, err := exec.LookPath("podman"); err == nil {
				engineCmd = "podman"
			} else if exec.Command("docker", "info").Run() == nil {
				engineCmd = "docker"
			}
		}
		if ref := os.Getenv("MLSERVE_TEST_IMAGE"); ref != "" && engineCmd != "" {
			imageRef = ref
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		build := exec.CommandContext(ctx, "sh", "scripts/image.sh")
		build.Dir = repoRoot(t)
		build.Env = append(os.Environ(), "VERSION=e2e")
		if engineCmd != "" {
			build.Env = append(build.Env, "ENGINE="+engineCmd)
		}
		out, err := build.CombinedOutput()
		if err != nil {
			imageErr = fmt.Errorf("scripts/image.sh: %v\n%s", err, out)
			return
		}
		if engineCmd == "" { // image.sh installed podman
			engineCmd = "podman"
		}
		imageRef = imageTag
	})
	if imageErr != nil {
		if strings.Contains(imageErr.Error(), "neither podman nor docker") && os.Getenv("CI") != "true" {
			t.Skipf("no container runtime can be installed here: %v", imageErr)
		}
		t.Fatal(imageErr)
	}
	return engineCmd, imageRef
}

// engine runs one engine command, bounded in time.
func engine(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if name == "podman" {
		pre := []string{"--cgroup-manager=cgroupfs"}
		if _, err := os.Stat("/usr/sbin/runc"); err == nil {
			pre = append(pre, "--runtime", "/usr/sbin/runc")
		}
		args = append(pre, args...)
	}
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// container is a running mlserve container on the host's network.
type container struct {
	name, url, metricsURL string
	engine                string
}

// ports returns two free ports of this test's range (46300-46399).
func ports(t *testing.T) (int, int) {
	t.Helper()
	var got []int
	for p := 46300; p < 46400 && len(got) < 2; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		got = append(got, p)
	}
	if len(got) < 2 {
		t.Fatal("no two free ports in 46300-46399")
	}
	return got[0], got[1]
}

// runContainer starts the image with modelsDir at /mnt/models (read-only
// when ro), a read-only root file system, the env given and args after the
// entrypoint's `mlserve serve`; it waits (60 s at most) until ready and is
// removed when the test ends.
func runContainer(t *testing.T, modelsDir string, ro bool, env []string, args ...string) *container {
	t.Helper()
	eng, image := containerImage(t)
	api, metrics := ports(t)
	c := &container{engine: eng, name: fmt.Sprintf("mlserve-e2e-%d-%d", os.Getpid(), api),
		url: fmt.Sprintf("http://127.0.0.1:%d", api), metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)}
	mount := modelsDir + ":/mnt/models"
	if ro {
		mount += ":ro"
	}
	run := []string{"run", "-d", "--name", c.name, "--network=host",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--read-only", "--tmpfs", "/tmp", "-v", mount,
		// The image listens on 0.0.0.0:8080/9090; on the host's network
		// the test moves it to loopback ports of its own range.
		"-e", fmt.Sprintf("MLSERVE_LISTEN_ADDR=127.0.0.1:%d", api),
		"-e", fmt.Sprintf("MLSERVE_MONITORING_ADDR=127.0.0.1:%d", metrics)}
	for _, e := range env {
		run = append(run, "-e", e)
	}
	run = append(run, image)
	run = append(run, args...)
	if out, err := engine(t, eng, run...); err != nil {
		t.Fatalf("%s run: %v\n%s", eng, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := engine(t, eng, "logs", c.name)
			t.Logf("container log:\n%s", out)
		}
		if eng == "podman" {
			engine(t, eng, "rm", "-f", "-t", "2", c.name) // podman waits 10 s for SIGTERM's effect by default
		} else {
			engine(t, eng, "rm", "-f", c.name)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(c.url + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if out, _ := engine(t, eng, "inspect", "--format", "{{.State.Running}}", c.name); strings.TrimSpace(out) != "true" {
			t.Fatalf("the container stopped: %s", out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container was not ready within 60 s (last: %v)", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// predict asks the container for a prediction and returns the model id that answered.
func (c *container) predict(t *testing.T, modelVersion string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": "I love this, it works great", "model_version": modelVersion})
	if modelVersion == "" {
		body = []byte(`{"text":"I love this, it works great"}`)
	}
	resp, err := http.Post(c.url+"/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Label        string `json:"label"`
		ModelVersion string `json:"model_version"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Label == "" {
		t.Fatalf("predict %q: %d %s", modelVersion, resp.StatusCode, b)
	}
	return out.ModelVersion
}

// upload posts an artifact to POST /models and returns the status and body.
func (c *container) upload(t *testing.T, name, artifact string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("name", name)
	fw, _ := w.CreateFormFile("file", filepath.Base(artifact))
	b, err := os.ReadFile(filepath.Join(repoRoot(t), artifact))
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(b)
	w.Close()
	resp, err := http.Post(c.url+"/models", w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// processUID is the uid the container's main process runs as, read from
// the host's /proc (the engine runs it as a process of this machine).
func (c *container) processUID(t *testing.T) string {
	t.Helper()
	out, err := engine(t, c.engine, "inspect", "--format", "{{.State.Pid}}", c.name)
	if err != nil {
		t.Fatalf("inspect: %v %s", err, out)
	}
	status, err := os.ReadFile("/proc/" + strings.TrimSpace(out) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	t.Fatalf("no Uid line in /proc/.../status:\n%s", status)
	return ""
}

// sharedDir is a copy of src's files that the container's user (65532) can
// read: t.TempDir is private to this user.
func sharedDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mlserve-e2e-models-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), src))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sampleRepository is the sample repository's files, by path in the
// repository and path in the checkout.
func sampleRepository(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join(repoRoot(t), "models")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = filepath.Join("models", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestContainerServesRepository: the image serves the sample repository
// mounted read-only at /mnt/models, a scikit-learn and an ONNX version,
// as uid 65532 on a read-only root file system, with metrics; it refuses an
// upload with a clear 409; and it is under 150 MB.
func TestContainerServesRepository(t *testing.T) {
	models := sharedDir(t, sampleRepository(t))
	if _, err := os.Stat(filepath.Join(models, "sentiment", "v3", "encoder.onnx")); err != nil {
		t.Fatalf("the ONNX sample needs scripts/fetch-models.sh: %v", err)
	}
	c := runContainer(t, models, true, []string{"MLSERVE_DEFAULT_MODEL=sentiment-v2"})

	for _, id := range []string{"sentiment-v2", "sentiment-v3", "spam-v2"} { // scikit-learn, ONNX, ONNX
		if got := c.predict(t, id); got != id {
			t.Errorf("predict %s answered as %s", id, got)
		}
	}
	if got := c.predict(t, ""); got != "sentiment-v2" {
		t.Errorf("default model: %s", got)
	}
	if uid := c.processUID(t); uid != "65532" {
		t.Errorf("mlserve runs as uid %s, want 65532", uid)
	}
	status, body := c.upload(t, "sentiment", "models/sentiment/v1/model.joblib")
	if status != http.StatusConflict || !strings.Contains(body, "read-only") {
		t.Errorf("upload into a read-only /mnt/models: %d %s, want 409 saying read-only", status, body)
	}
	resp, err := http.Get(c.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "mlserve_") {
		t.Errorf("metrics: %d, %d bytes", resp.StatusCode, len(b))
	}

	// mlserve is the container's PID 1: SIGTERM (docker stop, a pod's
	// deletion) drains and exits 0, well before the engine's SIGKILL.
	start := time.Now()
	if out, err := engine(t, c.engine, "stop", "-t", "20", c.name); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	code, _ := engine(t, c.engine, "inspect", "--format", "{{.State.ExitCode}}", c.name)
	if strings.TrimSpace(code) != "0" || time.Since(start) > 15*time.Second {
		t.Errorf("after SIGTERM: exit code %s after %s, want 0 well within the 20 s grace", code, time.Since(start))
	}

	eng, image := containerImage(t)
	out, err := engine(t, eng, "image", "inspect", "--format", "{{.Size}} {{.Config.User}} {{json .Config.Entrypoint}}", image)
	if err != nil {
		t.Fatalf("inspect: %v %s", err, out)
	}
	f := strings.Fields(out)
	size, _ := strconv.ParseInt(f[0], 10, 64)
	t.Logf("image %s: %d MB", image, size/1e6)
	if size <= 0 || size > maxImageBytes || f[1] != "65532:65532" || f[2] != `["mlserve","serve"]` {
		t.Errorf("image: size %d (max %d), user %s, entrypoint %s", size, maxImageBytes, f[1], f[2])
	}
}

// TestContainerServesFlatLayout: what KServe's storage initializer leaves
// for one model (its files directly in /mnt/models) is served under the
// name KServe passes, --model_name or MLSERVE_MODEL_NAME, as version v1 and
// the default model; an upload there is refused, naming the flat layout.
func TestContainerServesFlatLayout(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   []string
		args  []string
		want  string
	}{
		{name: "sklearn, MLSERVE_MODEL_NAME", files: map[string]string{
			"model.joblib": "models/spam/v1/model.joblib", "model.yaml": "models/spam/v1/model.yaml"},
			env: []string{"MLSERVE_MODEL_NAME=spam-filter"}, want: "spam-filter-v1"},
		// the arguments deploy/kserve's runtime gives an InferenceService named sentiment
		{name: "onnx, the KServe runtime's --model_name", files: map[string]string{
			"encoder.onnx":      "models/sentiment/v3/encoder.onnx",
			"encoder.onnx.data": "models/sentiment/v3/encoder.onnx.data", // the embedding table, external data
			"classifier.joblib": "models/sentiment/v3/classifier.joblib",
			"tokenizer.json":    "models/sentiment/v3/tokenizer.json",
			"model.yaml":        "models/sentiment/v3/model.yaml"},
			args: kserveArgs(t, "sentiment"), want: "sentiment-v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sharedDir(t, tt.files)
			// writable, as the storage initializer's emptyDir is: the refusal
			// must come from the layout, not from the volume
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			c := runContainer(t, dir, false, tt.env, tt.args...)
			if got := c.predict(t, ""); got != tt.want {
				t.Errorf("default model: %s, want %s", got, tt.want)
			}
			if got := c.predict(t, tt.want); got != tt.want {
				t.Errorf("predict %s: %s", tt.want, got)
			}
			name := strings.TrimSuffix(tt.want, "-v1")
			status, body := c.upload(t, name, "models/spam/v1/model.joblib")
			if status != http.StatusConflict || !strings.Contains(body, "flat") {
				t.Errorf("upload into a flat /mnt/models: %d %s, want 409 naming the flat layout", status, body)
			}
		})
	}
}
