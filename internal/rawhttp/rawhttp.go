// Package rawhttp speaks HTTP/1.1 over a bare TCP connection the way some
// clients do and Go's own client does not, for tests of how the server
// treats them: a body written in full before anything is read.
package rawhttp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// WriteWholeBody sends a POST to addr whose body of n bytes is written in
// full before the response is read, as Python's urllib and requests do, and
// returns the status and body, or the error the client saw (a reset while
// writing, say). The whole exchange has deadline to finish.
func WriteWholeBody(addr, path, contentType string, n int, deadline time.Duration) (int, string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, addr, contentType, n)
	if _, err := c.Write([]byte(head)); err != nil {
		return 0, "", err
	}
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for sent := 0; sent < n; {
		k := min(len(chunk), n-sent)
		if _, err := c.Write(chunk[:k]); err != nil {
			return 0, "", fmt.Errorf("writing the body at %d bytes: %w", sent, err)
		}
		sent += k
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
