package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/mirror"
)

// fakeCredentials sets the AWS environment the SDK reads to throwaway
// keys with no shared files and no instance metadata.
func fakeCredentials(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "mlserve-test", "AWS_SECRET_ACCESS_KEY": "mlserve-test-secret", "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
	} {
		t.Setenv(k, v)
	}
}

// smallReadBuffer keeps what the kernel buffers for a connection the
// store does not read small, so the client sees the store's pace.
type smallReadBuffer struct{ net.Listener }

func (l smallReadBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(16 << 10)
	}
	return c, err
}

// clientTransportGoroutines counts the goroutines of net/http's client
// side (a connection's read and write loops, a dial): what a cut upload
// would leave behind.
func clientTransportGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "net/http.(*persistConn)") || strings.Contains(g, "net/http.(*Transport)") {
			n++
			left = append(left, g)
		}
	}
	return n, strings.Join(left, "\n\n")
}

// TestPutStalls drives Put against a fake S3 that misbehaves on PUT: it
// never reads the body, reads half of it and stops, reads it all and never
// answers, or answers headers and stalls the answer's body. Each upload
// ends within about the store's timeout (not the caller's much longer
// deadline) with ErrUnavailable saying what stalled, and leaves no client
// goroutine behind while the store still holds its end. An upload that is
// slow but keeps moving for longer than the timeout succeeds. (A 200 with
// the ETag whose body then stalls is an error too: the SDK reads that
// body, and a store that stalls there is not trusted with the object.)
func TestPutStalls(t *testing.T) {
	fakeCredentials(t)
	big := bytes.Repeat([]byte("weights!"), 4<<20) // 32 MiB: more than any socket buffer holds
	small := []byte("description: one\n")

	type handler func(w http.ResponseWriter, r *http.Request, release <-chan struct{})
	tests := []struct {
		name    string
		body    []byte
		handle  handler
		wantErr string // "" is success
		timeout time.Duration
	}{
		{name: "never reads the body", body: big, wantErr: "the upload stopped at", // the kernel takes a few MiB first
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) { <-release }},
		{name: "reads half and stops", body: big, wantErr: "the upload stopped at",
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
				_, _ = io.CopyN(io.Discard, r.Body, int64(len(big)/2))
				<-release
			}},
		{name: "reads all and never answers", body: big, wantErr: "no answer after the 33554432 bytes were sent",
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
				_, _ = io.Copy(io.Discard, r.Body)
				<-release
			}},
		{name: "small body, never answers", body: small, wantErr: "no answer after the 17 bytes were sent",
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) { <-release }},
		{name: "error headers then a stalled body", body: small, wantErr: "no answer after",
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "<?xml version")
				w.(http.Flusher).Flush()
				<-release
			}},
		{name: "ok headers then a stalled body", body: small, wantErr: "no answer after",
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("ETag", `"stored"`)
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, "<?xml")
				w.(http.Flusher).Flush()
				<-release
			}},
		// Progress is counted where the SDK hands the body to the
		// connection, and the kernel's send buffer (up to 4 MiB here, its
		// tcp_wmem maximum) sits between that and the store: the store
		// must drain it within the timeout. 24 MiB at about 10 MiB/s.
		{name: "slow but steady", body: bytes.Repeat([]byte("weights!"), 3<<20), timeout: 1500 * time.Millisecond,
			handle: func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
				for {
					if _, err := io.CopyN(io.Discard, r.Body, 64<<10); err != nil {
						break
					}
					time.Sleep(6 * time.Millisecond)
				}
				w.Header().Set("ETag", `"slow-etag"`)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := 400 * time.Millisecond
			if tc.timeout != 0 {
				timeout = tc.timeout
			}
			bound := timeout + 1500*time.Millisecond // -race, two busy cores
			release := make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut {
					http.Error(w, "only PUT here", http.StatusMethodNotAllowed)
					return
				}
				tc.handle(w, r, release)
			}))
			srv.Listener = smallReadBuffer{srv.Listener}
			srv.Start()
			defer srv.Close()
			defer close(release) // before Close, which waits for the handlers
			st, err := New(context.Background(), Options{Bucket: "models", Prefix: "team/", Endpoint: srv.URL, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			// The caller's deadline is far longer than the store's timeout:
			// only the stall guard can end a stalled upload in time.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			tag, err := st.Put(ctx, "sentiment/v1/model.joblib", bytes.NewReader(tc.body), int64(len(tc.body)))
			el := time.Since(start)
			if tc.wantErr == "" {
				if err != nil || tag != "slow-etag" {
					t.Fatalf("slow upload: tag %q, error %v after %s (timeout %s)", tag, err, el, timeout)
				}
				if el < timeout*3/2 {
					t.Errorf("the slow upload took %s, not longer than the timeout %s: it proves nothing", el, timeout)
				}
				return
			}
			if !errors.Is(err, mirror.ErrUnavailable) || !strings.Contains(err.Error(), "stalled") ||
				!strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want ErrUnavailable saying the store stalled and %q", err, tc.wantErr)
			}
			if el < timeout || el > bound {
				t.Errorf("cut after %s, want about the timeout %s", el, timeout)
			}
			// The store still holds its end; the client let go of its own.
			var n int
			var left string
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if n, left = clientTransportGoroutines(); n == 0 || time.Now().After(deadline) {
					break
				}
			}
			if n != 0 {
				t.Errorf("%d client goroutines left behind after a cut upload:\n%s", n, left)
			}
		})
	}
}

// TestDeleteStalls: a store that takes a DELETE and never answers fails it
// with ErrUnavailable within about the timeout (a failed upload's clean-up
// must not hang either).
func TestDeleteStalls(t *testing.T) {
	fakeCredentials(t)
	const timeout = 400 * time.Millisecond
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	st, err := New(context.Background(), Options{Bucket: "models", Endpoint: srv.URL, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = st.Delete(context.Background(), "sentiment/v1/model.joblib")
	if el := time.Since(start); el < timeout || el > timeout+1500*time.Millisecond {
		t.Errorf("cut after %s, want about the timeout %s", el, timeout)
	}
	if !errors.Is(err, mirror.ErrUnavailable) || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("error %v, want ErrUnavailable saying the store stalled", err)
	}
}
