// Package s3test starts a real S3-compatible server for tests: moto's
// server (moto[server] from PyPI, installed by scripts/setup-moto.sh) on a
// loopback port, with throwaway credentials in the AWS environment. A test
// that needs it skips where moto is not installed, and fails instead under
// CI=true, where the Makefile installs it.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Server is a running moto server.
type Server struct {
	// Endpoint is its URL (http://127.0.0.1:<port>).
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// Find returns moto_server's path: $MLSERVE_MOTO_SERVER, else
// .cache/moto/bin/moto_server at the module root, else moto_server on PATH.
func Find() (string, error) {
	if p := os.Getenv("MLSERVE_MOTO_SERVER"); p != "" {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for range 8 {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".cache", "moto", "bin", "moto_server")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	return exec.LookPath("moto_server")
}

// Start starts a moto server on a free loopback port, sets the AWS
// environment the SDK reads (fake keys, us-east-1, no shared files, no
// instance metadata) for the test, and stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto_server not found (make setup-moto installs it): %v", err)
		}
		t.Skipf("moto_server not found (make setup-moto installs it): %v", err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "mlserve-test", "AWS_SECRET_ACCESS_KEY": "mlserve-test-secret", "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
	} {
		t.Setenv(k, v)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited before it answered", bin)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 30s: %v", bin, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the server (its whole process group) and waits for it; a
// second call does nothing.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// Client is an S3 client of the server (path-style), for a test to put and
// read objects as a user of the bucket would.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("mlserve-test", "mlserve-test-secret", ""),
	})
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
