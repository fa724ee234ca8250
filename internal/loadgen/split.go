package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Split is a snapshot of mlserve's Prometheus counters for where server time
// goes: time texts waited in the model's queue, and time in model calls.
type Split struct {
	// QueueWaitSum and QueueWaitCount are mlserve_queue_wait_seconds (one
	// observation per text).
	QueueWaitSum   float64
	QueueWaitCount float64
	// InferenceSum and InferenceCount are mlserve_inference_duration_seconds
	// (one observation per batch).
	InferenceSum   float64
	InferenceCount float64
	// BatchTexts sums mlserve_batch_size (texts in all batches).
	BatchTexts float64
	// ProcessCPU is process_cpu_seconds_total: the CPU time (user + system)
	// the server process has used, over all its cores. Between two snapshots
	// it divides into the server's CPU cost per request, the figure that
	// compares doors and settings fairly when the load generator shares the
	// server's cores (throughput then also pays for the client's CPU).
	ProcessCPU float64
}

// Sub returns s minus before: what happened between two snapshots.
func (s Split) Sub(before Split) Split {
	return Split{
		QueueWaitSum: s.QueueWaitSum - before.QueueWaitSum, QueueWaitCount: s.QueueWaitCount - before.QueueWaitCount,
		InferenceSum: s.InferenceSum - before.InferenceSum, InferenceCount: s.InferenceCount - before.InferenceCount,
		BatchTexts: s.BatchTexts - before.BatchTexts, ProcessCPU: s.ProcessCPU - before.ProcessCPU,
	}
}

// CPUPerRequest is the server's CPU time per request over n requests
// answered between two snapshots (s is their difference); 0 when unknown.
func (s Split) CPUPerRequest(n int64) time.Duration {
	if n <= 0 || s.ProcessCPU <= 0 {
		return 0
	}
	return time.Duration(s.ProcessCPU / float64(n) * float64(time.Second))
}

// MeanQueueWait is the mean time a text waited before its batch ran.
func (s Split) MeanQueueWait() time.Duration { return secs(s.QueueWaitSum, s.QueueWaitCount) }

// MeanInference is the mean time of one model call (one batch).
func (s Split) MeanInference() time.Duration { return secs(s.InferenceSum, s.InferenceCount) }

// MeanBatch is the mean number of texts per model call.
func (s Split) MeanBatch() float64 {
	if s.InferenceCount <= 0 {
		return 0
	}
	return s.BatchTexts / s.InferenceCount
}

func secs(sum, n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(sum / n * float64(time.Second))
}

// ScrapeSplit reads url (a Prometheus text endpoint such as
// http://127.0.0.1:9090/metrics) and returns the split for one model version
// (model "spam", version "v1"), or summed over all when model is empty.
func ScrapeSplit(ctx context.Context, hc *http.Client, url, model, version string) (Split, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Split{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Split{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Split{}, fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return ParseSplit(resp.Body, model, version)
}

// ErrNoSplit is returned when a metrics page has none of mlserve's queue and
// inference series.
var ErrNoSplit = fmt.Errorf("no mlserve queue/inference metrics")

// ParseSplit reads Prometheus text exposition from r; see ScrapeSplit.
func ParseSplit(r io.Reader, model, version string) (Split, error) {
	var s Split
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if v, ok := bytes.CutPrefix(line, []byte("process_cpu_seconds_total ")); ok {
			// Not counted as found: every Go server with a process collector has it.
			if f, err := strconv.ParseFloat(strings.Fields(string(v) + " x")[0], 64); err == nil {
				s.ProcessCPU = f
			}
			continue
		}
		if !bytes.HasPrefix(line, []byte("mlserve_")) {
			continue
		}
		name, rest, ok := bytes.Cut(line, []byte("{"))
		if !ok {
			continue
		}
		labels, value, ok := bytes.Cut(rest, []byte("} "))
		if !ok {
			continue
		}
		var dst *float64
		switch string(name) {
		case "mlserve_queue_wait_seconds_sum":
			dst = &s.QueueWaitSum
		case "mlserve_queue_wait_seconds_count":
			dst = &s.QueueWaitCount
		case "mlserve_inference_duration_seconds_sum":
			dst = &s.InferenceSum
		case "mlserve_inference_duration_seconds_count":
			dst = &s.InferenceCount
		case "mlserve_batch_size_sum":
			dst = &s.BatchTexts
		default:
			continue
		}
		if model != "" && (label(labels, "model") != model || label(labels, "version") != version) {
			continue
		}
		// A value may be followed by a timestamp.
		v, err := strconv.ParseFloat(strings.Fields(string(value) + " x")[0], 64)
		if err != nil {
			continue
		}
		*dst += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !found {
		return s, ErrNoSplit
	}
	return s, nil
}

// label returns the value of name in a Prometheus label list
// (a="x",b="y"); label values of mlserve's model series are plain ids.
func label(labels []byte, name string) string {
	for p := range strings.SplitSeq(string(labels), ",") {
		k, v, ok := strings.Cut(p, "=")
		if ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
