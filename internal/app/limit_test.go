package app

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestLimitListener: with the cap reached, the next connection is not
// accepted until one closes; Close stops an Accept waiting for a slot.
func TestLimitListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(raw, 2)
	accepted := make(chan net.Conn, 3)
	done := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				done <- err
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.DialTimeout("tcp", raw.Addr().String(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // held open until the test ends
	}
	var got []net.Conn
	for range 2 {
		select {
		case c := <-accepted:
			got = append(got, c)
		case <-time.After(2 * time.Second):
			t.Fatal("the first two connections were not accepted")
		}
	}
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted over the cap of 2")
	case <-time.After(200 * time.Millisecond):
	}
	_ = got[0].Close()
	_ = got[0].Close() // a second Close frees nothing more
	select {
	case c := <-accepted:
		got = append(got, c)
	case <-time.After(2 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	_ = l.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Accept returned no error after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
	for _, c := range got {
		c.Close()
	}
	if newLimitListener(raw, 0) != raw {
		t.Error("a cap of 0 should leave the listener as it is")
	}
}

// TestAdminExposure: the start-up warning names the risk when the admin
// API trusts loopback clients on a listener others can reach.
func TestAdminExposure(t *testing.T) {
	tests := []struct {
		addr  string
		token string
		warn  bool
	}{
		{"127.0.0.1:8000", "", false},
		{"[::1]:8000", "", false},
		{"0.0.0.0:8000", "", true},
		{"[::]:8000", "", true},
		{"192.0.2.10:8000", "", true},
		{"0.0.0.0:8000", "s3cret", false},
	}
	for _, tt := range tests {
		a, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		msg := adminExposure(a, tt.token)
		if (msg != "") != tt.warn {
			t.Errorf("%s token %q: %q, want warning %v", tt.addr, tt.token, msg, tt.warn)
		}
		if tt.warn && (!strings.Contains(msg, "admin_token") || !strings.Contains(msg, "reverse proxy")) {
			t.Errorf("%s: warning %q does not name the risk and the fix", tt.addr, msg)
		}
	}
}
