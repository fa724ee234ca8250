package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registry builds real Prometheus histograms named as mlserve's and
// observes a known load on them.
func registry(t testing.TB) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	mv := []string{"model", "version"}
	h := func(name string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "mlserve", Name: name}, mv)
		reg.MustRegister(v)
		return v
	}
	queue, inf, batch := h("queue_wait_seconds"), h("inference_duration_seconds"), h("batch_size")
	// spam-v1: 4 texts in 2 batches, waits 1,2,3,4 ms, model calls 10 and 20 ms.
	for _, w := range []float64{0.001, 0.002, 0.003, 0.004} {
		queue.WithLabelValues("spam", "v1").Observe(w)
	}
	inf.WithLabelValues("spam", "v1").Observe(0.010)
	inf.WithLabelValues("spam", "v1").Observe(0.020)
	batch.WithLabelValues("spam", "v1").Observe(1)
	batch.WithLabelValues("spam", "v1").Observe(3)
	// Another model, which a filtered scrape must ignore.
	queue.WithLabelValues("sentiment", "v2").Observe(1)
	inf.WithLabelValues("sentiment", "v2").Observe(1)
	batch.WithLabelValues("sentiment", "v2").Observe(32)
	return reg
}

func TestScrapeSplit(t *testing.T) {
	ts := httptest.NewServer(promhttp.HandlerFor(registry(t), promhttp.HandlerOpts{}))
	defer ts.Close()
	tests := []struct {
		name, model, version string
		queue, inference     time.Duration
		batch                float64
	}{
		{"one model", "spam", "v1", 2500 * time.Microsecond, 15 * time.Millisecond, 2},
		{"all models", "", "", 202 * time.Millisecond, 343333333, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ScrapeSplit(context.Background(), http.DefaultClient, ts.URL, tt.model, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if d := s.MeanQueueWait() - tt.queue; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("queue %v, want %v", s.MeanQueueWait(), tt.queue)
			}
			if d := s.MeanInference() - tt.inference; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("inference %v, want %v", s.MeanInference(), tt.inference)
			}
			if s.MeanBatch() != tt.batch {
				t.Errorf("batch %v, want %v", s.MeanBatch(), tt.batch)
			}
			if z := s.Sub(s); z.MeanQueueWait() != 0 || z.MeanInference() != 0 || z.MeanBatch() != 0 {
				t.Errorf("s - s = %+v", z)
			}
		})
	}
}

func TestParseSplitNone(t *testing.T) {
	for _, page := range []string{"", "# HELP go_goroutines x\ngo_goroutines 8\n", "mlserve_queue_wait_seconds_sum{model=\"a\",version=\"v1\"} x\n"} {
		if _, err := ParseSplit(strings.NewReader(page), "", ""); !errors.Is(err, ErrNoSplit) {
			t.Errorf("%q: err %v, want ErrNoSplit", page, err)
		}
	}
}

// FuzzParseSplit: any metrics page parses without panic.
func FuzzParseSplit(f *testing.F) {
	f.Add([]byte("mlserve_queue_wait_seconds_sum{model=\"spam\",version=\"v1\"} 0.5 1700000000\n"), "spam")
	f.Add([]byte("mlserve_batch_size_sum{} \nmlserve_x{"), "")
	f.Fuzz(func(t *testing.T, page []byte, model string) {
		ParseSplit(strings.NewReader(string(page)), model, "v1")
	})
}

// TestSplitProcessCPU: the process collector's CPU counter is read from a
// real exposition and divides into CPU per request between two snapshots.
func TestSplitProcessCPU(t *testing.T) {
	cpu := 0.0
	reg := registry(t)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "process_cpu_seconds_total", Help: "cpu"},
		func() float64 { return cpu }))
	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ts.Close()
	scrape := func() Split {
		s, err := ScrapeSplit(context.Background(), http.DefaultClient, ts.URL, "spam", "v1")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cpu = 1.25
	before := scrape()
	if before.ProcessCPU != 1.25 {
		t.Fatalf("ProcessCPU %v, want 1.25", before.ProcessCPU)
	}
	cpu = 1.75
	d := scrape().Sub(before)
	if got, want := d.CPUPerRequest(5000), 100*time.Microsecond; got != want {
		t.Errorf("CPU per request %v, want %v", got, want)
	}
	if got := d.CPUPerRequest(0); got != 0 {
		t.Errorf("CPU per request of no requests %v, want 0", got)
	}
	// A page with the CPU counter but none of mlserve's series is still no split.
	if _, err := ParseSplit(strings.NewReader("process_cpu_seconds_total 3\n"), "", ""); !errors.Is(err, ErrNoSplit) {
		t.Errorf("err %v, want ErrNoSplit", err)
	}
}
