package loadgen

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary is a Result in plain numbers, for JSON output and tables.
type Summary struct {
	// Client names the client that sent the load (Result.Client).
	Client string `json:"client"`
	// Concurrency, Batch and Rate repeat the run's configuration.
	Concurrency int     `json:"concurrency"`
	Batch       int     `json:"batch"`
	Rate        float64 `json:"rate,omitempty"`
	// Requests and Texts count successful requests and their texts.
	Requests int64 `json:"requests"`
	Texts    int64 `json:"texts"`
	// ElapsedS is the measured wall time in seconds.
	ElapsedS float64 `json:"elapsed_s"`
	// RequestsPerS and TextsPerS are the throughputs.
	RequestsPerS float64 `json:"requests_per_s"`
	TextsPerS    float64 `json:"texts_per_s"`
	// P50MS .. MaxMS are round-trip latency percentiles in milliseconds.
	P50MS float64 `json:"p50_ms"`
	P90MS float64 `json:"p90_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
	// ServerMeanMS is the mean latency the server reported.
	ServerMeanMS float64 `json:"server_mean_ms"`
	// CacheHitShare is the share of texts answered from the cache.
	CacheHitShare float64 `json:"cache_hit_share"`
	// Errors counts failed requests by status; FirstError describes one.
	Errors     map[string]int64 `json:"errors"`
	FirstError string           `json:"first_error,omitempty"`
	// Histogram is the latency distribution.
	Histogram []Bucket `json:"histogram"`
}

// Bucket is one bar of a latency histogram: Count latencies in [Lo, Hi).
type Bucket struct {
	// LoMS and HiMS bound the bucket in milliseconds.
	LoMS float64 `json:"lo_ms"`
	HiMS float64 `json:"hi_ms"`
	// Count is the number of latencies in the bucket.
	Count int `json:"count"`
}

// Summary returns r in plain numbers, with a histogram of rows buckets.
func (r *Result) Summary(rows int) Summary {
	return Summary{
		Client:        r.Client,
		Concurrency:   r.Concurrency,
		Batch:         r.Batch,
		Rate:          r.Rate,
		Requests:      r.Requests,
		Texts:         r.Texts,
		ElapsedS:      r.Elapsed.Seconds(),
		RequestsPerS:  r.Throughput(),
		TextsPerS:     r.TextsPerSecond(),
		P50MS:         ms(r.Percentile(0.50)),
		P90MS:         ms(r.Percentile(0.90)),
		P95MS:         ms(r.Percentile(0.95)),
		P99MS:         ms(r.Percentile(0.99)),
		MaxMS:         ms(r.Percentile(1)),
		ServerMeanMS:  ms(r.MeanServerLatency()),
		CacheHitShare: r.CacheHitShare(),
		Errors:        r.Errors,
		FirstError:    r.FirstError,
		Histogram:     Buckets(r.Latencies, rows),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Buckets splits sorted latencies into rows buckets whose bounds grow
// geometrically from the minimum to the maximum (linearly when the spread is
// under 2×), so both a tight body and a long tail stay readable.
func Buckets(sorted []time.Duration, rows int) []Bucket {
	if len(sorted) == 0 || rows < 1 {
		return nil
	}
	lo, hi := ms(sorted[0]), ms(sorted[len(sorted)-1])
	if hi <= lo {
		return []Bucket{{LoMS: lo, HiMS: hi, Count: len(sorted)}}
	}
	edges := make([]float64, rows+1)
	for i := range edges {
		f := float64(i) / float64(rows)
		if lo > 0 && hi/lo >= 2 {
			edges[i] = lo * math.Pow(hi/lo, f)
		} else {
			edges[i] = lo + (hi-lo)*f
		}
	}
	edges[rows] = hi
	out := make([]Bucket, rows)
	for i := range out {
		out[i] = Bucket{LoMS: edges[i], HiMS: edges[i+1]}
	}
	j := 0
	for _, d := range sorted {
		v := ms(d)
		for j < rows-1 && v >= edges[j+1] {
			j++
		}
		out[j].Count++
	}
	return out
}

// WriteHistogram draws buckets as horizontal bars at most width cells wide.
func WriteHistogram(w io.Writer, buckets []Bucket, width int) error {
	total, most := 0, 0
	for _, b := range buckets {
		total += b.Count
		most = max(most, b.Count)
	}
	if total == 0 {
		_, err := fmt.Fprintln(w, "  (no successful requests)")
		return err
	}
	for _, b := range buckets {
		cells := float64(b.Count) / float64(most) * float64(width)
		bar := strings.Repeat("█", int(cells))
		if frac := cells - math.Floor(cells); b.Count > 0 && frac > 0 {
			bar += string(partial[int(frac*8)])
		}
		if _, err := fmt.Fprintf(w, "  %9.3f – %9.3f ms │%-*s %7d  %5.1f%%\n",
			b.LoMS, b.HiMS, width+1, bar, b.Count, 100*float64(b.Count)/float64(total)); err != nil {
			return err
		}
	}
	return nil
}

// partial are the eighth-width block characters for a bar's last cell.
var partial = []rune{'▏', '▏', '▎', '▍', '▌', '▋', '▊', '▉'}

// ErrorKeys returns the keys of errs, sorted.
func ErrorKeys(errs map[string]int64) []string {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
