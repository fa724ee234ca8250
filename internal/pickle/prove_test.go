package pickle_test

import (
	"os"
	"os/exec"
	"testing"
)

// provePayload runs prog with CPython's pickle, where python3 is installed,
// and checks that it creates marker: the hostile fixtures are real exploits,
// so their refusal by the Go reader means something. The marker is removed
// afterwards.
func provePayload(t *testing.T, prog []byte, marker string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found: payload not proven")
		return
	}
	cmd := exec.Command(py, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())")
	cmd.Stdin = bytesReader(prog)
	cmd.Run() // os.system returns an int; the load itself succeeds or not, the marker says
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("CPython did not run the payload: %v", err)
	}
	os.Remove(marker)
}

func bytesReader(b []byte) *os.File {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	go func() { w.Write(b); w.Close() }()
	return r
}
