package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	p := startServer(t, copyModels(t))
	root := repoRoot(t)

	out, err := p.cli(t, "list")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	lines := strings.Split(out, "\n")
	if !regexp.MustCompile(`^ID\s+STATUS\s+DEFAULT\s+FRAMEWORK\s+ACCURACY\s+LOADED$`).MatchString(lines[0]) {
		t.Errorf("list header %q", lines[0])
	}
	if !regexp.MustCompile(`(?m)^sentiment-v2\s+ready\s+\*\s+sklearn\s+0\.\d{3}`).MatchString(out) {
		t.Errorf("list lacks the default sentiment-v2:\n%s", out)
	}
	// Columns line up: every row's STATUS starts where the header's does.
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("row not aligned with header: %q", l)
		}
	}

	out, err = p.cli(t, "predict", "This product is amazing!", "Terrible, it broke after a day.")
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, out)
	}
	if n := len(strings.Split(out, "\n")); n != 2 || !strings.Contains(out, "sentiment-v2") {
		t.Errorf("predict printed %d lines:\n%s", n, out)
	}

	out, err = p.cli(t, "predict", "--model", "spam-v1", "--probabilities", "Subject: You WON $1,000,000!!! Click here to claim your FREE prize now.")
	if err != nil || !regexp.MustCompile(`^spam\t\S+\tspam-v1\tham=\S+\tspam=\S+$`).MatchString(out) {
		t.Errorf("predict spam: %v %q", err, out)
	}

	out, err = p.cli(t, "load", filepath.Join(root, "models", "sentiment", "v1"), "--name", "sentiment", "--version", "v7", "--default")
	if err != nil || !strings.Contains(out, "sentiment-v7") {
		t.Fatalf("load: %v %s", err, out)
	}
	out, _ = p.cli(t, "predict", "fine")
	if !strings.Contains(out, "sentiment-v7") {
		t.Errorf("after load --default the default answers: %s", out)
	}
	if out, err = p.cli(t, "unload", "sentiment-v1"); err != nil || !strings.Contains(out, "unloaded sentiment-v1") {
		t.Errorf("unload: %v %s", err, out)
	}

	// Failures exit non-zero with the server's message.
	out, err = p.cli(t, "predict", "--model", "nope-v1", "x")
	var ee *exec.ExitError
	if !errAs(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(out, "404") || !strings.Contains(out, "nope-v1") {
		t.Errorf("unknown model: %v %s", err, out)
	}
	// A file that is not a model is refused with the reason, and nothing changes.
	bad := filepath.Join(t.TempDir(), "bad.joblib")
	if err := os.WriteFile(bad, []byte("not a pickle at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = p.cli(t, "load", bad, "--name", "sentiment", "--default")
	if !errAs(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(out, "422") {
		t.Errorf("bad artifact: %v %s", err, out)
	}
	if out, _ = p.cli(t, "predict", "fine"); !strings.Contains(out, "sentiment-v7") {
		t.Errorf("after a failed load the default changed: %s", out)
	}

	out, err = p.cli(t, "stats")
	if err != nil || !regexp.MustCompile(`(?m)^sentiment-v7\b`).MatchString(out) || !regexp.MustCompile(`(?m)^\s+requests 2\s+texts 2\s`).MatchString(out) {
		t.Errorf("stats: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^cache: memory [1-9]\d* hits, [1-9]\d* misses, [1-9]\d* entries$`).MatchString(out) {
		t.Errorf("stats has no cache line with hits and misses:\n%s", out)
	}
	out, err = p.cli(t, "benchmark", "spam-v1", "200", "-c", "4")
	if err != nil || !regexp.MustCompile(`throughput\s+\d+\.\d requests/s`).MatchString(out) || !regexp.MustCompile(`(?m)^errors\s+(0|none)$`).MatchString(out) {
		t.Errorf("benchmark: %v\n%s", err, out)
	}
}

func TestCLINoServer(t *testing.T) {
	cmd := exec.Command(binary, "--server", "http://"+freeAddr(t), "list")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mlserve serve") || !strings.Contains(string(out), "no mlserve server answers") {
		t.Errorf("%v %s", err, out)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []string{"", "serve", "load", "list", "unload", "predict", "stats", "benchmark", "completion"} {
		t.Run(c, func(t *testing.T) {
			args := strings.Fields(c + " --help")
			out, err := exec.Command(binary, args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Usage:") {
				t.Errorf("%v %s", err, out)
			}
		})
	}
	out, err := exec.Command(binary, "completion", "bash").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "__start_mlserve") {
		t.Errorf("completion bash: %v", err)
	}
}
