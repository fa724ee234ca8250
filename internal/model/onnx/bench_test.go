package onnx

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/inference"
)

// prefixes cuts each text to its first n bytes (on a rune boundary): the
// short-request workload (the seed's batch benchmark uses 300-character texts).
func prefixes(texts []string, n int) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		if len(t) > n {
			t = strings.ToValidUTF8(t[:n], "")
		}
		out[i] = t
	}
	return out
}

// workloads are the text sets the benchmarks run: whole emails (mean about
// 5,000 characters, most hitting max_length 256) and 300-byte prefixes.
func workloads(texts []string) []struct {
	name  string
	texts []string
} {
	return []struct {
		name  string
		texts []string
	}{{"emails", texts}, {"300B", prefixes(texts, 300)}}
}

// spamV2 loads the sample PyTorch spam model (models/spam/v2) and the
// SpamAssassin texts its parity fixture holds; the benchmark is skipped
// when either is missing.
func spamV2(b *testing.B) (*Model, []string) {
	b.Helper()
	root := repoRoot(b)
	raw, err := os.ReadFile(filepath.Join(root, "python", "fixtures", "onnx", "spam-v2-torch.json"))
	if err != nil {
		b.Skipf("spam/v2 parity fixture: %v", err)
	}
	var fx struct {
		Texts []string `json:"texts"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		b.Fatal(err)
	}
	// MLSERVE_ONNX_INTRA_OP_THREADS sets onnx.intra_op_threads, as for the server.
	threads, _ := strconv.Atoi(os.Getenv("MLSERVE_ONNX_INTRA_OP_THREADS"))
	m, err := LoadDir(context.Background(), filepath.Join(root, "models", "spam", "v2"), Options{LibraryPath: testLibrary(b), IntraOpThreads: threads})
	if err != nil {
		b.Skipf("models/spam/v2: %v", err)
	}
	b.Cleanup(func() { m.Close() })
	return m, fx.Texts
}

// BenchmarkPredict is one Predict call of 1 or 32 SpamAssassin emails on
// spam/v2 (tokenize, pad, run, softmax); texts/s is the figure to compare.
//
//	go test -run '^$' -bench Predict -benchtime 3s ./internal/model/onnx
func BenchmarkPredict(b *testing.B) {
	m, all := spamV2(b)
	for _, w := range workloads(all) {
		texts := w.texts
		for _, n := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/batch=%d", w.name, n), func(b *testing.B) {
				ctx := context.Background()
				i := 0
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					batch := make([]string, n)
					for j := range batch {
						batch[j] = texts[i%len(texts)]
						i++
					}
					if _, err := m.Predict(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "texts/s")
				reportCPU(b, cpu0, n)
			})
		}
	}
}

// BenchmarkEngine sends single-email requests from 64 goroutines through the
// inference engine to spam/v2, with batching off (MaxBatchSize 1) and on
// (32): the "batching on vs off, 64 clients" in-process.
//
//	go test -run '^$' -bench 'Engine$' -benchtime 3s ./internal/model/onnx
func BenchmarkEngine(b *testing.B) {
	m, all := spamV2(b)
	for _, w := range workloads(all) {
		benchEngine(b, w.name, "spam-v2", m, w.texts)
	}
}

// BenchmarkEngineSentiment is BenchmarkEngine on sentiment/v3 (the MiniLM
// encoder and the logistic regression) with the reviews of its parity
// fixture; each text costs milliseconds, so give it a count:
//
//	go test -run '^$' -bench EngineSentiment -benchtime 400x ./internal/model/onnx
func BenchmarkEngineSentiment(b *testing.B) {
	root := repoRoot(b)
	raw, err := os.ReadFile(filepath.Join(root, "python", "fixtures", "onnx", "sentiment-v3-embeddings.json"))
	if err != nil {
		b.Skipf("sentiment/v3 fixture: %v", err)
	}
	var fx struct {
		Texts []string `json:"texts"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		b.Fatal(err)
	}
	threads, _ := strconv.Atoi(os.Getenv("MLSERVE_ONNX_INTRA_OP_THREADS"))
	m, err := LoadDir(context.Background(), filepath.Join(root, "models", "sentiment", "v3"), Options{LibraryPath: testLibrary(b), IntraOpThreads: threads})
	if err != nil {
		b.Skipf("models/sentiment/v3: %v", err)
	}
	b.Cleanup(func() { m.Close() })
	benchEngine(b, "reviews", "sentiment-v3", m, fx.Texts)
}

// benchEngine runs 64 clients of one text each through the engine with
// MaxBatchSize 1 and 32, reporting texts/s and texts per batch.
func benchEngine(b *testing.B, name, id string, m *Model, texts []string) {
	for _, maxBatch := range []int{1, 32} {
		b.Run(fmt.Sprintf("%s/clients=64/max_batch=%d", name, maxBatch), func(b *testing.B) {
			e, err := inference.New(inference.Config{MaxBatchSize: maxBatch, MaxQueue: 4096})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(context.Background())
			var next atomic.Int64
			var batches atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := e.Predict(context.Background(), id, m, []string{texts[int(i)%len(texts)]}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "texts/s")
			reportCPU(b, cpu0, 1)
			for _, q := range e.Stats() {
				if q.Batches > 0 {
					batches.Add(int64(q.Batches))
				}
			}
			if n := batches.Load(); n > 0 {
				b.ReportMetric(float64(b.N)/float64(n), "texts/batch")
			}
		})
	}
}

// BenchmarkEngineOneClient is one client sending one email at a time through
// the engine, batching off and on: batching must not cost a lone client
// latency. It reports p50 and p99 per request.
//
//	go test -run '^$' -bench EngineOneClient -benchtime 2000x ./internal/model/onnx
func BenchmarkEngineOneClient(b *testing.B) {
	m, all := spamV2(b)
	for _, w := range workloads(all) {
		texts := w.texts
		for _, maxBatch := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/max_batch=%d", w.name, maxBatch), func(b *testing.B) {
				e, err := inference.New(inference.Config{MaxBatchSize: maxBatch})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close(context.Background())
				lat := make([]time.Duration, 0, b.N)
				i := 0
				for b.Loop() {
					t0 := time.Now()
					if _, err := e.Predict(context.Background(), "spam-v2", m, []string{texts[i%len(texts)]}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
					i++
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per text since cpu0 (ops of
// texts texts each) as cpu-µs/text: unlike texts/s, it hardly moves when
// other processes share the cores, and the cores divided by it bound the
// throughput.
func reportCPU(b *testing.B, cpu0 time.Duration, texts int) {
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*texts), "cpu-µs/text")
}

// BenchmarkTokenize is spam/v2's tokenizer on whole SpamAssassin emails:
// all of each text then truncated to max_length (what Encode did before
// TokenizeN), only as far as max_length (TokenizeN, what Encode does), and
// the drift monitor's fallback OOVRate (for a text not run through
// Predict, which counts the rate on its own batch): as far as max_length.
//
//	go test -run '^$' -bench Tokenize ./internal/model/onnx
func BenchmarkTokenize(b *testing.B) {
	m, texts := spamV2(b)
	limit := m.enc.MaxLength
	var ids []int
	for _, c := range []struct {
		name string
		f    func(string)
	}{
		{"full+truncate", func(s string) { ids = m.tok.Tokenize(s, ids[:0]); ids = ids[:min(len(ids), limit)] }},
		{"bounded", func(s string) { ids = m.tok.TokenizeN(s, ids[:0], limit) }},
		{"oov_rate", func(s string) { m.OOVRate(s) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				c.f(texts[i%len(texts)])
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/text")
		})
	}
}
