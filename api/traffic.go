package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Traffic modes (TrafficPolicy.Mode).
const (
	// TrafficShadow: every request to the name also runs on the candidate,
	// off the response path; the primary answers.
	TrafficShadow = "shadow"
	// TrafficCanary: a share of requests is answered by the candidate
	// (sticky by the X-Traffic-Key header when given); the primary runs on
	// them off the response path, for comparison.
	TrafficCanary = "canary"
	// TrafficMirror: a sampled share of requests is shadowed.
	TrafficMirror = "mirror"
	// TrafficOff stops the name's traffic (PUT only).
	TrafficOff = "off"
)

// TrafficKeyHeader is the request header whose value keeps a client on
// one side of a canary: requests with the same key go to the same version.
const TrafficKeyHeader = "X-Traffic-Key"

// Traffic states (TrafficView.State).
const (
	TrafficRunning    = "running"     // comparing
	TrafficPromoted   = "promoted"    // the candidate became the default
	TrafficRolledBack = "rolled_back" // a gate failed: traffic stopped
	TrafficStopped    = "stopped"     // stopped by an admin or a version's retirement
)

// TrafficPolicy routes traffic between a model name's default version (the
// primary) and a candidate version: the body of PUT
// /models/{name}/traffic, and the traffic: section of a candidate's
// model.yaml (where the candidate is the version itself).
type TrafficPolicy struct {
	// Candidate is the candidate version, "v2" or "sentiment-v2"
	// (model.yaml: the version itself; leave it out).
	Candidate string `json:"candidate,omitempty" yaml:"candidate" doc:"Candidate version (v2 or sentiment-v2)."`
	// Mode is shadow, canary, mirror, or off to stop.
	Mode string `json:"mode" yaml:"mode" enum:"shadow,canary,mirror,off" doc:"shadow, canary, mirror, or off."`
	// Share is the share of requests for canary and mirror, 0 to 1
	// (model.yaml also takes "10%").
	Share float64 `json:"share,omitempty" yaml:"share" minimum:"0" maximum:"1" doc:"Share of requests (canary, mirror), 0 to 1."`
	// Gates decide promotion or rollback automatically when any is set.
	Gates Gates `json:"gates,omitzero" yaml:"gates"`
	// UnloadOnRollback unloads the candidate when a gate rolls it back.
	UnloadOnRollback bool `json:"unload_on_rollback,omitempty" yaml:"unload_on_rollback"`
}

// Gates are the promotion gates of a traffic policy. With none set the
// comparison runs until stopped; with any set, once MinSamples texts are
// compared, the candidate is promoted when every set gate passes and
// rolled back when one fails.
type Gates struct {
	// MinAgreement is the least share of texts on which the candidate must
	// give the primary's label.
	MinAgreement *float64 `json:"min_agreement,omitempty" yaml:"min_agreement" minimum:"0" maximum:"1"`
	// MaxLatencyRatio is the most the candidate's median model latency may
	// be, as a multiple of the primary's.
	MaxLatencyRatio *float64 `json:"max_latency_ratio,omitempty" yaml:"max_latency_ratio" minimum:"0"`
	// MinSamples is how many texts are compared before a verdict (100).
	MinSamples int `json:"min_samples,omitempty" yaml:"min_samples" minimum:"0"`
	// MinLiveAccuracy is the least accuracy of the candidate's labels on
	// the requests that got feedback.
	MinLiveAccuracy *float64 `json:"min_live_accuracy,omitempty" yaml:"min_live_accuracy" minimum:"0" maximum:"1"`
	// MinFeedback is how many fed-back requests MinLiveAccuracy needs (20).
	MinFeedback int `json:"min_feedback,omitempty" yaml:"min_feedback" minimum:"0"`
}

// Any says whether any gate is set.
func (g Gates) Any() bool {
	return g.MinAgreement != nil || g.MaxLatencyRatio != nil || g.MinLiveAccuracy != nil
}

// UnmarshalYAML reads a traffic: section, where share may be written as a
// percentage ("10%").
func (p *TrafficPolicy) UnmarshalYAML(n *yaml.Node) error {
	type plain TrafficPolicy
	if n.Kind == yaml.MappingNode {
		c := *n
		c.Content = append([]*yaml.Node(nil), n.Content...)
		for i := 0; i+1 < len(c.Content); i += 2 {
			k, v := c.Content[i], c.Content[i+1]
			if k.Value != "share" || v.Kind != yaml.ScalarNode || !strings.HasSuffix(v.Value, "%") {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v.Value, "%")), 64)
			if err != nil {
				return fmt.Errorf("line %d: traffic.share %q: want a number from 0 to 1 or a percentage", v.Line, v.Value)
			}
			nv := *v
			nv.Tag, nv.Value = "!!float", strconv.FormatFloat(f/100, 'g', -1, 64)
			c.Content[i+1] = &nv
		}
		n = &c
	}
	return n.Decode((*plain)(p))
}

// TrafficView is GET /models/{name}/traffic: the name's latest traffic
// policy, primary and candidate side by side, and the gates' verdict.
type TrafficView struct {
	// Name is the model name.
	Name string `json:"name"`
	// Primary is the version that answers (the name's default when the
	// policy started); Candidate the version compared with it.
	Primary   string `json:"primary"`
	Candidate string `json:"candidate"`
	// Policy is the policy as set.
	Policy TrafficPolicy `json:"policy"`
	// State is running, promoted, rolled_back or stopped.
	State string `json:"state" enum:"running,promoted,rolled_back,stopped"`
	// Verdict says why the traffic ended, or what the gates wait for.
	Verdict string `json:"verdict,omitempty"`
	// Since is when the policy started.
	Since time.Time `json:"since"`
	// Stats compare the two versions.
	Stats TrafficStats `json:"stats"`
	// Events are the policy's steps (started, promoted, rolled back...).
	Events []TrafficEvent `json:"events"`
}

// TrafficStats compare a primary and a candidate on the same texts.
type TrafficStats struct {
	// Requests counts the requests routed under the policy; Canary those
	// the candidate answered.
	Requests int64 `json:"requests"`
	Canary   int64 `json:"canary"`
	// Compared counts texts both versions predicted; Agreement is the
	// share of them with the same label.
	Compared  int64   `json:"compared"`
	Agreement float64 `json:"agreement"`
	// ConfidenceDelta summarises candidate confidence minus primary
	// confidence per compared text.
	ConfidenceDelta DeltaSummary `json:"confidence_delta"`
	// PrimaryLatencyMS and CandidateLatencyMS are recent model latencies
	// per request (p50, p99); LatencyRatio is candidate p50 / primary p50.
	PrimaryLatencyMS   LatencySummary `json:"primary_latency_ms"`
	CandidateLatencyMS LatencySummary `json:"candidate_latency_ms"`
	LatencyRatio       float64        `json:"latency_ratio,omitempty"`
	// Dropped counts comparisons dropped because the off-path queue was
	// full; Errors the off-path predictions that failed.
	Dropped int64 `json:"dropped"`
	Errors  int64 `json:"errors"`
	// Feedback counts compared requests that got feedback; the accuracies
	// are each version's on them.
	Feedback              int64    `json:"feedback"`
	PrimaryLiveAccuracy   *float64 `json:"primary_live_accuracy,omitempty"`
	CandidateLiveAccuracy *float64 `json:"candidate_live_accuracy,omitempty"`
	// Drift is each version's drift status from monitoring (ok, warn,
	// alert), when monitoring tracks it.
	Drift map[string]string `json:"drift,omitempty"`
}

// DeltaSummary summarises a distribution of differences.
type DeltaSummary struct {
	Mean    float64 `json:"mean"`
	MeanAbs float64 `json:"mean_abs"`
	P10     float64 `json:"p10"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	// Histogram counts deltas per bin of Edges (len(Edges)-1 bins).
	Edges     []float64 `json:"edges"`
	Histogram []int64   `json:"histogram"`
}

// LatencySummary holds latency percentiles in milliseconds.
type LatencySummary struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// TrafficEvent is one step of a traffic policy.
type TrafficEvent struct {
	Time time.Time `json:"time"`
	// Kind is started, promoted, rolled_back, stopped or error.
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Traffic returns name's latest traffic policy and its comparison (GET
// /models/{name}/traffic).
func (c *Client) Traffic(ctx context.Context, name string) (*TrafficView, error) {
	var resp TrafficView
	if err := c.do(ctx, http.MethodGet, "/models/"+url.PathEscape(name)+"/traffic", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SetTraffic starts policy on name (PUT /models/{name}/traffic); mode off
// stops the running one.
func (c *Client) SetTraffic(ctx context.Context, name string, policy *TrafficPolicy) (*TrafficView, error) {
	var resp TrafficView
	if err := c.do(ctx, http.MethodPut, "/models/"+url.PathEscape(name)+"/traffic", policy, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
