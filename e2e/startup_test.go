package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStartupNever404 is a load balancer's view of a replica that restarts:
// from the moment its port accepts connections until a while after it is
// ready, predictions for every version in its repository (by id, by bare name
// and through the default) get 200 or 503 with Retry-After, never 404, over
// two restarts, one of them after a hard kill.
func TestStartupNever404(t *testing.T) {
	dir := copyModels(t)
	// More versions make the loading window wider: four copies of spam/v1.
	for v := 2; v <= 5; v++ {
		if err := os.CopyFS(filepath.Join(dir, "spam", fmt.Sprintf("v%d", v)), os.DirFS(filepath.Join(dir, "spam", "v1"))); err != nil {
			t.Fatal(err)
		}
	}
	asks := []string{"", "sentiment-v1", "sentiment-v2", "sentiment", "v1", "v2", "spam", "spam-v1", "spam-v2", "spam-v3", "spam-v4", "spam-v5"}
	cfg := "versions:\n  keep_loaded: 5\n"
	var total, unavailable int
	for round := range 3 {
		p := launch(t, dir, cfg)
		counts, bad := hammerDuringStartup(t, p, asks)
		for _, b := range bad {
			t.Errorf("round %d: %s", round, b)
		}
		total += counts[http.StatusOK] + counts[http.StatusServiceUnavailable]
		unavailable += counts[http.StatusServiceUnavailable]
		t.Logf("round %d: %v", round, counts)
		switch round {
		case 0:
			p.stop(t)
		case 1:
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	if total == 0 {
		t.Fatal("no request was answered")
	}
	t.Logf("%d answers, %d of them 503 while loading", total, unavailable)
}

// hammerDuringStartup sends predictions from 4 clients from the moment p's
// port accepts until 500 ms after p is ready (30 s at most), and returns the
// count of each status and a description of every answer that was neither a
// 200 nor a 503 with Retry-After.
func hammerDuringStartup(t *testing.T, p *proc, asks []string) (map[int]int, []string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the port never opened:\n%s", p.log)
		}
	}
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		bad    []string
		ready  = make(chan struct{})
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 100_000; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				ask := asks[i%len(asks)]
				resp, err := client.Post(p.url+"/predict", "application/json", strings.NewReader(predictBody(ask)))
				if err != nil {
					if errors.Is(err, syscall.ECONNREFUSED) {
						continue
					}
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%q: %v", ask, err))
					mu.Unlock()
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				counts[resp.StatusCode]++
				switch {
				case resp.StatusCode == http.StatusOK:
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
				default:
					if len(bad) < 20 {
						bad = append(bad, fmt.Sprintf("%q: %d %s (Retry-After %q)", ask, resp.StatusCode, msg, resp.Header.Get("Retry-After")))
					}
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(ready)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			resp, err := client.Get(p.url + "/health/ready")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
	}()
	select {
	case <-ready:
		time.Sleep(500 * time.Millisecond)
	case <-time.After(70 * time.Second):
	}
	close(stop)
	wg.Wait()
	// Once ready and settled, every version answers.
	for _, ask := range asks {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/predict", strings.NewReader(predictBody(ask)))
			resp, err := client.Do(req)
			if err != nil {
				bad = append(bad, fmt.Sprintf("after start-up, %q: %v", ask, err))
				break
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || ctx.Err() != nil {
				bad = append(bad, fmt.Sprintf("after start-up, %q: status %d", ask, resp.StatusCode))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}
	return counts, bad
}

// predictBody asks for a prediction from ask ("" means the default model).
func predictBody(ask string) string {
	if ask == "" {
		return `{"text":"free money now"}`
	}
	return fmt.Sprintf(`{"text":"free money now","model_version":%q}`, ask)
}
