package traffic

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlserve/mlserve/api"
)

// Defaults of the gates.
const (
	// DefaultMinSamples is gates.min_samples when not set.
	DefaultMinSamples = 100
	// DefaultMinFeedback is gates.min_feedback when not set.
	DefaultMinFeedback = 20
	// minLatencySamples is how many latency samples each side needs before
	// max_latency_ratio is judged.
	minLatencySamples = 20
)

// deltaEdges bins the confidence deltas (candidate minus primary).
var deltaEdges = []float64{-1, -0.5, -0.2, -0.1, -0.05, -0.01, 0.01, 0.05, 0.1, 0.2, 0.5, 1}

// pair is one policy's life: a candidate compared with its name's primary.
type pair struct {
	name, candidate string
	policy          api.TrafficPolicy
	since           time.Time
	seed            maphash.Seed

	requests, canary, dropped, errors atomic.Int64

	mu                                 sync.Mutex
	state, verdict, primary            string
	events                             []api.TrafficEvent
	compared, agree                    int64
	deltaSum, deltaAbs                 float64
	deltas                             ring
	hist                               []int64
	primLat, candLat                   ring
	feedback, primCorrect, candCorrect int64
}

func newPair(name string, policy api.TrafficPolicy) *pair {
	return &pair{name: name, candidate: policy.Candidate, policy: policy, since: time.Now().UTC(),
		seed: maphash.MakeSeed(), state: api.TrafficRunning,
		deltas: newRing(4096), hist: make([]int64, len(deltaEdges)-1), primLat: newRing(2048), candLat: newRing(2048)}
}

func (p *pair) getState() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// book adds one compared text. Caller holds p.mu.
func (p *pair) book(delta float64, same bool) {
	p.compared++
	if same {
		p.agree++
	}
	p.deltaSum += delta
	if delta < 0 {
		p.deltaAbs -= delta
	} else {
		p.deltaAbs += delta
	}
	p.deltas.add(delta)
	i, _ := slices.BinarySearch(deltaEdges, delta)
	p.hist[min(max(i-1, 0), len(p.hist)-1)]++
}

// verdictLocked is the gates' verdict: promoted or rolled_back with why,
// or "" while they wait (or none is set). Caller holds p.mu.
func (p *pair) verdictLocked() (state, detail string) {
	g := p.policy.Gates
	if p.state != api.TrafficRunning || !g.Any() {
		return "", ""
	}
	if p.compared < int64(minSamples(g)) {
		return "", ""
	}
	var pass, fail, wait []string
	if g.MinAgreement != nil {
		a := float64(p.agree) / float64(p.compared)
		if a >= *g.MinAgreement {
			pass = append(pass, fmt.Sprintf("agreement %.4f >= %g", a, *g.MinAgreement))
		} else {
			fail = append(fail, fmt.Sprintf("agreement %.4f < min_agreement %g", a, *g.MinAgreement))
		}
	}
	if g.MaxLatencyRatio != nil {
		if p.primLat.len() < minLatencySamples || p.candLat.len() < minLatencySamples {
			wait = append(wait, fmt.Sprintf("latency samples (%d primary, %d candidate, need %d each)", p.primLat.len(), p.candLat.len(), minLatencySamples))
		} else if r := p.candLat.quantile(0.5) / p.primLat.quantile(0.5); r <= *g.MaxLatencyRatio {
			pass = append(pass, fmt.Sprintf("latency ratio %.3f <= %g", r, *g.MaxLatencyRatio))
		} else {
			fail = append(fail, fmt.Sprintf("latency ratio %.3f > max_latency_ratio %g", r, *g.MaxLatencyRatio))
		}
	}
	if g.MinLiveAccuracy != nil {
		if p.feedback < int64(minFeedback(g)) {
			wait = append(wait, fmt.Sprintf("feedback (%d of %d)", p.feedback, minFeedback(g)))
		} else if a := float64(p.candCorrect) / float64(p.feedback); a >= *g.MinLiveAccuracy {
			pass = append(pass, fmt.Sprintf("live accuracy %.4f >= %g", a, *g.MinLiveAccuracy))
		} else {
			fail = append(fail, fmt.Sprintf("live accuracy %.4f < min_live_accuracy %g", a, *g.MinLiveAccuracy))
		}
	}
	switch {
	case len(fail) > 0:
		return api.TrafficRolledBack, fmt.Sprintf("after %d texts: %s", p.compared, strings.Join(fail, "; "))
	case len(wait) > 0:
		return "", ""
	default:
		return api.TrafficPromoted, fmt.Sprintf("after %d texts: %s", p.compared, strings.Join(pass, "; "))
	}
}

// waiting says what a running policy's gates wait for. Caller holds p.mu.
func (p *pair) waiting() string {
	g := p.policy.Gates
	if !g.Any() {
		return "no gates set: comparing until stopped"
	}
	if n := minSamples(g); p.compared < int64(n) {
		return fmt.Sprintf("waiting for samples: %d of %d", p.compared, n)
	}
	var w []string
	if g.MaxLatencyRatio != nil && (p.primLat.len() < minLatencySamples || p.candLat.len() < minLatencySamples) {
		w = append(w, fmt.Sprintf("latency samples (%d primary, %d candidate, need %d each)", p.primLat.len(), p.candLat.len(), minLatencySamples))
	}
	if g.MinLiveAccuracy != nil && p.feedback < int64(minFeedback(g)) {
		w = append(w, fmt.Sprintf("feedback: %d of %d", p.feedback, minFeedback(g)))
	}
	if len(w) == 0 {
		return "deciding"
	}
	return "waiting for " + strings.Join(w, ", ")
}

func minSamples(g api.Gates) int {
	if g.MinSamples > 0 {
		return g.MinSamples
	}
	return DefaultMinSamples
}

func minFeedback(g api.Gates) int {
	if g.MinFeedback > 0 {
		return g.MinFeedback
	}
	return DefaultMinFeedback
}

// statsLocked are p's figures. Caller holds p.mu.
func (p *pair) statsLocked() api.TrafficStats {
	st := api.TrafficStats{Requests: p.requests.Load(), Canary: p.canary.Load(), Compared: p.compared,
		Dropped: p.dropped.Load(), Errors: p.errors.Load(), Feedback: p.feedback}
	if p.compared > 0 {
		n := float64(p.compared)
		st.Agreement = float64(p.agree) / n
		st.ConfidenceDelta = api.DeltaSummary{Mean: p.deltaSum / n, MeanAbs: p.deltaAbs / n,
			P10: p.deltas.quantile(0.1), P50: p.deltas.quantile(0.5), P90: p.deltas.quantile(0.9)}
	}
	st.ConfidenceDelta.Edges, st.ConfidenceDelta.Histogram = deltaEdges, slices.Clone(p.hist)
	st.PrimaryLatencyMS = p.primLat.summary()
	st.CandidateLatencyMS = p.candLat.summary()
	if st.PrimaryLatencyMS.P50 > 0 && st.CandidateLatencyMS.N > 0 {
		st.LatencyRatio = st.CandidateLatencyMS.P50 / st.PrimaryLatencyMS.P50
	}
	if p.feedback > 0 {
		pa, ca := float64(p.primCorrect)/float64(p.feedback), float64(p.candCorrect)/float64(p.feedback)
		st.PrimaryLiveAccuracy, st.CandidateLiveAccuracy = &pa, &ca
	}
	return st
}

// ring keeps the last values added.
type ring struct {
	v    []float64
	next int
	full bool
}

func newRing(n int) ring { return ring{v: make([]float64, n)} }

func (r *ring) add(x float64) {
	r.v[r.next] = x
	r.next++
	if r.next == len(r.v) {
		r.next, r.full = 0, true
	}
}

func (r *ring) len() int {
	if r.full {
		return len(r.v)
	}
	return r.next
}

// quantile is the q-quantile of the values kept (nearest rank), 0 when
// there are none.
func (r *ring) quantile(q float64) float64 {
	n := r.len()
	if n == 0 {
		return 0
	}
	s := slices.Clone(r.v[:n])
	slices.Sort(s)
	return s[min(int(q*float64(n)), n-1)]
}

func (r *ring) summary() api.LatencySummary {
	return api.LatencySummary{N: r.len(), P50: r.quantile(0.5), P99: r.quantile(0.99)}
}
