package monitoring

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mlserve/mlserve/api"
)

// maxBars is how many labels the prediction distribution draws; the rest
// are summed up in one line.
const maxBars = 10

// Render draws s (GET /stats) for a terminal width columns wide (80 when
// width < 40): per model version, in id order, its counters, latency
// percentiles, errors, cache hit ratio, drift status, live accuracy and
// the prediction distribution as bars. No line is longer than width.
// Without monitoring on the server the error rate is errors over requests.
func Render(s *api.Stats, width int) string {
	if width < 40 {
		width = 80
	}
	var b strings.Builder
	uptime := time.Duration(s.UptimeSeconds * float64(time.Second)).Round(time.Second)
	line(&b, width, fmt.Sprintf("mlserve stats · up %s · %d model version%s", uptime, len(s.Models), plural(len(s.Models))))
	if len(s.Models) == 0 {
		line(&b, width, "no requests yet")
		return b.String()
	}
	for _, id := range slices.Sorted(maps.Keys(s.Models)) {
		m := s.Models[id]
		b.WriteString(strings.Repeat("─", width))
		b.WriteByte('\n')
		right := ""
		if m.Drift != "" {
			right = "drift " + m.Drift
		}
		if m.LiveAccuracy != nil {
			right += fmt.Sprintf(" · live accuracy %.1f%%", 100**m.LiveAccuracy)
		}
		head := id
		if pad := width - utf8.RuneCountInString(head) - utf8.RuneCountInString(right); pad > 0 {
			head += strings.Repeat(" ", pad) + right
		} else {
			head += "  " + right
		}
		line(&b, width, head)
		line(&b, width, fmt.Sprintf("  requests %s  texts %s  %.1f req/s", count(m.Requests), count(m.Texts), m.ThroughputRPS))
		lat := "  latency n/a"
		if m.LatencyP50MS != 0 || m.LatencyP90MS != 0 || m.LatencyP99MS != 0 {
			lat = fmt.Sprintf("  latency p50 %s  p90 %s  p99 %s", ms(m.LatencyP50MS), ms(m.LatencyP90MS), ms(m.LatencyP99MS))
		}
		line(&b, width, lat)
		rate := m.ErrorRate
		if rate == 0 && m.Errors > 0 && m.Requests > 0 {
			rate = float64(m.Errors) / float64(m.Requests)
		}
		errs := fmt.Sprintf("  errors %.1f%%%s", 100*rate, errorKinds(m.ErrorsByKind))
		cache := "cache off"
		if m.CacheHits+m.CacheMisses > 0 {
			cache = fmt.Sprintf("cache hits %.1f%% of %s", 100*m.CacheHitRatio, count(m.CacheHits+m.CacheMisses))
		}
		if utf8.RuneCountInString(errs)+2+utf8.RuneCountInString(cache) <= width {
			line(&b, width, errs+"  "+cache)
		} else {
			line(&b, width, errs)
			line(&b, width, "  "+cache)
		}
		bars(&b, width, m.Predictions)
	}
	return b.String()
}

// bars draws the prediction distribution, most frequent label first.
func bars(b *strings.Builder, width int, preds map[string]int64) {
	if len(preds) == 0 {
		line(b, width, "  no predictions yet")
		return
	}
	labels := slices.SortedFunc(maps.Keys(preds), func(x, y string) int {
		if preds[x] != preds[y] {
			if preds[x] > preds[y] {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	var total, rest int64
	for _, l := range labels {
		total += preds[l]
	}
	more := 0
	if len(labels) > maxBars {
		for _, l := range labels[maxBars-1:] {
			rest += preds[l]
		}
		more = len(labels) - (maxBars - 1)
		labels = labels[:maxBars-1]
	}
	lw := 5
	for _, l := range labels {
		lw = max(lw, utf8.RuneCountInString(l))
	}
	lw = min(lw, 16)
	cw := len(count(total))
	// "  " label " " bar " " "100.0%" " " count
	bw := width - 2 - lw - 1 - 1 - 6 - 1 - cw
	row := func(name string, n int64) {
		frac := float64(n) / float64(total)
		full := int(frac*float64(bw) + 0.5)
		line(b, width, fmt.Sprintf("  %s %s%s %5.1f%% %*s", fit(name, lw), strings.Repeat("█", full),
			strings.Repeat("░", bw-full), 100*frac, cw, count(n)))
	}
	for _, l := range labels {
		row(l, preds[l])
	}
	if more > 0 {
		row(fmt.Sprintf("+%d more", more), rest)
	}
}

// line writes s cut to width code points, and a newline.
func line(b *strings.Builder, width int, s string) {
	if utf8.RuneCountInString(s) > width {
		r := []rune(s)
		s = string(r[:width-1]) + "…"
	}
	b.WriteString(strings.TrimRight(s, " "))
	b.WriteByte('\n')
}

// fit pads or cuts s to exactly w code points.
func fit(s string, w int) string {
	n := utf8.RuneCountInString(s)
	if n > w {
		return string([]rune(s)[:w-1]) + "…"
	}
	return s + strings.Repeat(" ", w-n)
}

func errorKinds(errs map[string]int64) string {
	if len(errs) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s %s", k, count(errs[k])))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// ms writes a latency in milliseconds with three significant figures.
func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
