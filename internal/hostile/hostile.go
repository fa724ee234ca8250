// Package hostile is mlserve's corpus of hostile model files and uploads,
// and the helpers its tests share.
//
// A model repository is written by whoever can upload or drop files into
// it, so every file in it is untrusted input. The corpus (corpus/, written by
// make.py, described case by case in cases.json) holds what such a person
// could send: pickles that try to run code, estimators that contain
// themselves, object graphs millions deep, memory, CPU and decompression
// bombs through every compression joblib reads, NaN and Inf planted in every
// array a prediction reads, vectorizer settings that make one text cost
// without bound, and manifests whose file keys point outside the version
// folder. Each must be refused with a message, quickly and in little memory,
// by the reader (this package's test) and by a live server's POST /models and
// repository scan (the e2e tests), while the other versions keep serving.
package hostile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Case is one hostile input: a version folder under the corpus.
type Case struct {
	// Name is the case's folder under corpus/.
	Name string `json:"name"`
	// Group is the family: exec, cycle, deep, bomb, cpu, malformed, nan,
	// bounds or path.
	Group string `json:"group"`
	// What says what the case tries.
	What string `json:"what"`
	// Artifact is the model file's name in the folder.
	Artifact string `json:"artifact"`
	// Manifest is whether the folder has a model.yaml.
	Manifest bool `json:"manifest"`
	// Reader is whether the artifact alone is the attack, so that reading it
	// must fail (path cases need their manifest and a repository).
	Reader bool `json:"reader"`
	// Expect is a regular expression (case-insensitive) that the refusal's
	// message must match.
	Expect string `json:"expect"`

	dir string
}

// Dir is the case's version folder.
func (c Case) Dir() string { return filepath.Join(c.dir, c.Name) }

// Path is the case's artifact.
func (c Case) Path() string { return filepath.Join(c.Dir(), c.Artifact) }

// Check reports whether err is a refusal whose message matches Expect.
func (c Case) Check(err error) error {
	if err == nil {
		return fmt.Errorf("%s (%s) was accepted", c.Name, c.What)
	}
	return c.CheckMessage(err.Error())
}

// CheckMessage reports whether a refusal's message matches Expect.
func (c Case) CheckMessage(msg string) error {
	if !regexp.MustCompile("(?i)" + c.Expect).MatchString(msg) {
		return fmt.Errorf("%s (%s): refusal %q does not match %q", c.Name, c.What, msg, c.Expect)
	}
	return nil
}

// Corpus is the whole corpus.
type Corpus struct {
	// Marker is the file a successful code-execution attempt would create.
	Marker string `json:"marker"`
	// Cases are the hostile inputs, in cases.json's order.
	Cases []Case `json:"cases"`
}

// Open reads cases.json beside this package's source.
func Open() (*Corpus, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("hostile: cannot locate the corpus")
	}
	dir := filepath.Dir(file)
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		return nil, err
	}
	var c Corpus
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("hostile: cases.json: %w", err)
	}
	for i := range c.Cases {
		c.Cases[i].dir = filepath.Join(dir, "corpus")
	}
	return &c, nil
}

// MarkerExists reports whether the code-execution marker file exists.
func (c *Corpus) MarkerExists() bool {
	_, err := os.Lstat(c.Marker)
	return err == nil
}

// Cost is what running one function took.
type Cost struct {
	// Elapsed is the wall time.
	Elapsed time.Duration
	// CPU is the CPU time the process spent (user and system, every
	// thread, the garbage collector's included): the cost itself, which
	// other processes on the machine do not inflate as they do Elapsed.
	CPU time.Duration
	// PeakHeap is the most heap the function's process held above what it
	// held when the function started (sampled every millisecond, and at the
	// end).
	PeakHeap uint64
}

// Measure runs fn and samples this process's live heap while it runs. Run
// it with nothing else allocating in the process (no parallel tests).
func Measure(fn func()) Cost {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var peak uint64
	var mu sync.Mutex
	note := func() {
		v := read()
		mu.Lock()
		if v > base && v-base > peak {
			peak = v - base
		}
		mu.Unlock()
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				note()
			}
		}
	}()
	cpu0 := cpuTime()
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	note()
	close(done)
	<-stopped
	return Cost{Elapsed: elapsed, CPU: cpu, PeakHeap: peak}
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The cost a hostile input may have, as the hardening issue sets it.
const (
	// MaxCPU is the CPU time refusing one input may take.
	MaxCPU = 2 * time.Second
	// MaxAlloc is what refusing one input may allocate.
	MaxAlloc = 256 << 20
)

// Bounded runs load and fails t if it took more than MaxCPU of CPU time
// (user and system time of the process: wall time on a machine shared by
// other builds says little about the load's cost), more than ten times
// that of wall time, or allocated more than MaxAlloc; the times are
// slowdown times longer (the race detector's factor, 1 without it). It
// returns load's error.
func Bounded(t testing.TB, slowdown int, load func() error) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0, start := cpuTime(), time.Now()
	err := load()
	cpu, took := cpuTime()-cpu0, time.Since(start)
	runtime.ReadMemStats(&after)
	limit := time.Duration(slowdown) * MaxCPU
	if cpu > limit || took > 10*limit {
		t.Errorf("took %v of CPU, %v of wall time, want under %v of CPU", cpu, took, limit)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > MaxAlloc {
		t.Errorf("allocated %d MB, want under %d MB", grew>>20, MaxAlloc>>20)
	}
	return err
}
