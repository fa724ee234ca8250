package sklearn

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/csv"
	"fmt"
	"github.com/mlserve/mlserve/internal/loadgen"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// benchFile is a TF-IDF (1-2 grams) + LogisticRegression pipeline of about
// 2 MB uncompressed, stored zlib-compressed by the joblib package's fixtures.
const benchFile = "../../joblib/testdata/bench_tfidf_lr.joblib"

func benchText() string {
	base := "Congratulations! You have won a FREE cruise to the Bahamas. Call now to claim your prize, " +
		"limited offer for our valued customers. Reply STOP to unsubscribe. Meeting moved to 3pm tomorrow, " +
		"please bring the quarterly report and the budget numbers for review. "
	return strings.Repeat(base, 2)[:300]
}

// rawBench returns the uncompressed pickle, so that the heap ratio is
// measured against the ~2 MB file the target names.
func rawBench(b *testing.B) []byte {
	comp, err := os.ReadFile(benchFile)
	if err != nil {
		b.Skip(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(comp))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkLoad loads the ~2 MB TF-IDF+LR file and reports the live heap the
// loaded model keeps, relative to the file size (heap/file).
func BenchmarkLoad(b *testing.B) {
	raw := rawBench(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadReader(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keep, _ := LoadReader(bytes.NewReader(raw))
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(raw)), "heap/file")
	b.ReportMetric(float64(len(keep.Labels())), "classes")
}

// BenchmarkPredict is one 300-character text through TF-IDF(1-2 grams)+LR.
func BenchmarkPredict(b *testing.B) {
	raw := rawBench(b)
	m, err := LoadReader(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	texts := []string{benchText()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictBatch is a batch of 100 texts, per text.
func BenchmarkPredictBatch(b *testing.B) {
	raw := rawBench(b)
	m, err := LoadReader(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = strings.Repeat("x", i%7) + benchText()
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(texts)), "ns/text")
}

// BenchmarkPredictSpamV1 runs the spam-v1 sample model (TF-IDF word 1-2
// grams, 30,000 terms, sublinear tf + LogisticRegression) on 100 varied
// real texts: the e-mails `mlserve benchmark` sends (about 590 characters)
// and the sentiment reviews, one text per call and as one batch; ns/text is
// per text. Each prediction carries its OOV rate.
func BenchmarkPredictSpamV1(b *testing.B) {
	root := filepath.Join("..", "..", "..")
	m, err := Load(filepath.Join(root, "models", "spam", "v1", "model.joblib"))
	if err != nil {
		b.Skipf("spam model not available: %v", err)
	}
	f, err := os.Open(filepath.Join(root, "python", "data", "sentiment.csv"))
	if err != nil {
		b.Skip(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) < 101 {
		b.Fatalf("sentiment.csv: %d rows, %v", len(rows), err)
	}
	reviews := make([]string, 100)
	for i := range reviews {
		reviews[i] = rows[i+1][0]
	}
	ctx := context.Background()
	for _, set := range []struct {
		name  string
		texts []string
	}{{"emails", loadgen.Corpus()[:100]}, {"reviews", reviews}} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", set.name, batch), func(b *testing.B) {
				texts := set.texts
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					i := n % (len(texts) / batch)
					if _, err := m.Predict(ctx, texts[i*batch:(i+1)*batch]); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*batch), "ns/text")
			})
		}
	}
}
