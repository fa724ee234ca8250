package traffic

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

// threadNice reads the nice value of the OS thread tid from /proc (field 19
// of stat, counted after the command's closing parenthesis).
func threadNice(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + itoa(tid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := statNice(string(b))
	if n == -100 {
		t.Fatalf("no nice value in %q", b)
	}
	return n
}

// statNice is the nice value in a /proc stat line (field 19, counted after
// the command's closing parenthesis), -100 when there is none.
func statNice(s string) int {
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 17 {
		return -100
	}
	n, err := strconv.Atoi(fields[16]) // field 19; fields[0] is field 3
	if err != nil {
		return -100
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestComparisonsRunAtLowestPriority: the candidate's model call runs on a
// thread at nice 19, and the rest of the process keeps its priority.
func TestComparisonsRunAtLowestPriority(t *testing.T) {
	before := threadNice(t, os.Getpid())
	var ranOn atomic.Int64
	l := labeller{label: same}
	m, _ := newManager(t, Options{}, l)
	m.run = func(ctx context.Context, id string, texts []string) ([]model.Prediction, error) {
		if id == "s-v2" {
			ranOn.Store(int64(unix.Gettid()))
		}
		return l.run(ctx, id, texts)
	}
	if _, err := m.Set("s", api.TrafficPolicy{Candidate: "s-v2", Mode: api.TrafficShadow}, "test"); err != nil {
		t.Fatal(err)
	}
	serve(m, l, "s", "", "text", "r1", 0)
	waitCompared(t, m, 1)
	tid := int(ranOn.Load())
	if tid == 0 {
		t.Fatal("the candidate never ran")
	}
	if got := threadNice(t, tid); got != 19 {
		t.Errorf("the comparison's thread runs at nice %d, want 19", got)
	}
	if m.lowPriority.Load() != int32(m.opts.Workers) {
		t.Errorf("%d of %d workers at the lowest priority", m.lowPriority.Load(), m.opts.Workers)
	}
	if got := threadNice(t, os.Getpid()); got != before {
		t.Errorf("the process's main thread went from nice %d to %d", before, got)
	}
	if got := threadNice(t, unix.Gettid()); got == 19 && before != 19 {
		t.Error("the test's own thread was lowered")
	}
}

// TestGoLowPriorityNeverTheMainThread: many workers started at once, some
// from the main thread, each on a thread of its own at nice 19; the main
// thread keeps its priority.
func TestGoLowPriorityNeverTheMainThread(t *testing.T) {
	before := threadNice(t, os.Getpid())
	const n = 64
	release := make(chan struct{})
	type got struct{ tid, nice int }
	ran := make(chan got, n)
	for range n {
		goLowPriority(func(lowered bool) {
			if !lowered {
				ran <- got{tid: unix.Gettid(), nice: -100}
			} else {
				ran <- got{tid: unix.Gettid(), nice: threadNice(t, unix.Gettid())}
			}
			<-release
		})
	}
	seen := map[int]bool{}
	for range n {
		g := <-ran
		switch {
		case g.tid == os.Getpid():
			t.Error("a worker runs on the main thread")
		case g.nice != 19:
			t.Errorf("thread %d at nice %d, want 19", g.tid, g.nice)
		case seen[g.tid]:
			t.Errorf("two workers share thread %d", g.tid)
		}
		seen[g.tid] = true
	}
	close(release)
	if got := threadNice(t, os.Getpid()); got != before {
		t.Errorf("the main thread went from nice %d to %d", before, got)
	}
}
