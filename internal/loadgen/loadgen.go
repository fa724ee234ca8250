package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
)

// ErrConfig is wrapped by the errors Run returns for an unusable Config.
var ErrConfig = errors.New("invalid load configuration")

// hotTexts is how many texts repeated requests draw from.
const hotTexts = 32

// Config says what load to send and where.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8000.
	URL string
	// Model is sent as model_version; empty lets the server choose.
	Model string
	// Batch is 0 for /predict with one text, or K ≥ 1 for /batch-predict
	// with K texts per request.
	Batch int
	// Texts are the texts to send; nil means Corpus().
	Texts []string
	// RepeatRatio is the share of texts drawn from a small hot set of exact
	// repeats (cache hits once seen); the others are made unique, so they
	// miss any cache.
	RepeatRatio float64
	// Concurrency is the number of clients (and connections).
	Concurrency int
	// Requests stops the run after that many requests; 0 means no limit.
	Requests int
	// Duration stops the run after that long; 0 means no limit. One of
	// Requests and Duration must be set.
	Duration time.Duration
	// Warmup is sent first and not counted.
	Warmup time.Duration
	// Rate, when above zero, starts requests at that many per second (open
	// loop); zero means each client sends when its last request answered.
	Rate float64
	// HTTPClient picks the client that sends the load: by default the
	// lean client for http:// URLs and net/http for https://.
	HTTPClient ClientKind
	// Client is the net/http client, when that one is used; nil means
	// NewHTTPClient(Concurrency).
	Client *http.Client
	// Conns, when set, keeps the lean client's connections after the run,
	// for the next run with the same Conns; nil closes them at the end.
	Conns *Conns
	// Timeout bounds each request; 0 means Client's Timeout when net/http
	// is used, or 60 s.
	Timeout time.Duration
	// Progress, when set, is called about ten times a second with the
	// requests done so far (warm-up excluded).
	Progress func(done int64)
	// Protocol is the door the load goes through ("" is ProtocolPredict);
	// every protocol but /predict needs Model, a model name or id.
	Protocol Protocol
	// GRPCAddr is the gRPC door's host:port, for ProtocolGRPC.
	GRPCAddr string
	// GRPCClient picks the client of ProtocolGRPC: by default (ClientAuto)
	// and with ClientLean the generator's own HTTP/2 client, with
	// ClientStd grpc-go's.
	GRPCClient ClientKind
}

// Validate reports an unusable configuration, wrapping ErrConfig.
func (c *Config) Validate() error {
	switch {
	case c.URL == "":
		return fmt.Errorf("%w: no server URL", ErrConfig)
	case c.Concurrency < 1:
		return fmt.Errorf("%w: concurrency %d, need at least 1", ErrConfig, c.Concurrency)
	case c.Batch < 0 || c.Batch > 100:
		return fmt.Errorf("%w: batch %d, need 0 (single /predict) to 100", ErrConfig, c.Batch)
	case c.RepeatRatio < 0 || c.RepeatRatio > 1:
		return fmt.Errorf("%w: repeat ratio %g, need 0..1", ErrConfig, c.RepeatRatio)
	case c.Requests < 0 || c.Duration < 0 || c.Warmup < 0 || c.Rate < 0 || c.Timeout < 0:
		return fmt.Errorf("%w: negative requests, duration, warm-up, rate or timeout", ErrConfig)
	case c.HTTPClient != ClientAuto && c.HTTPClient != ClientLean && c.HTTPClient != ClientStd:
		return fmt.Errorf("%w: HTTP client %q, want lean or std", ErrConfig, c.HTTPClient)
	case c.GRPCClient != ClientAuto && c.GRPCClient != ClientLean && c.GRPCClient != ClientStd:
		return fmt.Errorf("%w: gRPC client %q, want lean or std", ErrConfig, c.GRPCClient)
	case c.Requests == 0 && c.Duration == 0:
		return fmt.Errorf("%w: set a number of requests or a duration", ErrConfig)
	}
	return c.validProtocol()
}

// NewHTTPClient returns a client that keeps up to conns connections to one
// host alive, without compression or proxies, for load generation.
func NewHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// Result is what one run measured.
type Result struct {
	// Concurrency, Batch and Rate repeat the run's configuration.
	Concurrency int
	Batch       int
	Rate        float64
	// Requests counts answers with status 200; Texts the texts they carried.
	Requests int64
	Texts    int64
	// Cached counts texts the server answered from its cache.
	Cached int64
	// Errors counts failed requests by HTTP status ("503") or "transport".
	Errors map[string]int64
	// FirstError describes the first failure, if any.
	FirstError string
	// Elapsed is the measured run's wall time.
	Elapsed time.Duration
	// Latencies are the successful requests' round trips, sorted.
	Latencies []time.Duration
	// ServerLatency sums the latency the server reported (latency_ms or
	// total_latency_ms) over successful requests.
	ServerLatency time.Duration
	// Client names the client that sent the load: "lean HTTP/1.1",
	// "net/http", "lean gRPC" or "grpc-go".
	Client string
}

// Throughput is successful requests per second.
func (r *Result) Throughput() float64 { return perSecond(r.Requests, r.Elapsed) }

// TextsPerSecond is classified texts per second.
func (r *Result) TextsPerSecond() float64 { return perSecond(r.Texts, r.Elapsed) }

// CacheHitShare is the share of classified texts answered from the cache.
func (r *Result) CacheHitShare() float64 {
	if r.Texts == 0 {
		return 0
	}
	return float64(r.Cached) / float64(r.Texts)
}

// ErrorCount is the number of failed requests.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Percentile returns the q-quantile (0..1) of the latencies.
func (r *Result) Percentile(q float64) time.Duration { return Percentile(r.Latencies, q) }

// MeanServerLatency is the server-reported latency per successful request.
func (r *Result) MeanServerLatency() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.ServerLatency / time.Duration(r.Requests)
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Percentile returns the nearest-rank q-quantile (0 < q ≤ 1) of sorted: the
// smallest value with at least a q share of values at or below it. It
// returns 0 for no values; q ≤ 0 gives the minimum.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(ceil(q * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// ceil rounds up, treating values within 1e-9 of an integer as that integer,
// so 0.95*100 is 95 and not 96.
func ceil(x float64) float64 {
	i := float64(int64(x))
	if x-i <= 1e-9 {
		return i
	}
	return i + 1
}

// Run sends the configured load and returns what it measured. It stops at
// the request count, the duration or when ctx ends; on ctx's end it returns
// what was measured so far with ctx's error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g, err := newGen(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Conns == nil {
		defer g.conns.Close()
	}
	for _, cc := range g.grpcConns {
		defer cc.Close()
	}
	defer func() {
		for _, c := range g.h2 {
			if c != nil {
				c.nc.Close()
			}
		}
	}()
	if cfg.Warmup > 0 {
		w := cfg
		w.Requests, w.Duration, w.Progress = 0, cfg.Warmup, nil
		if _, err := g.run(ctx, w); err != nil {
			return nil, err
		}
	}
	res, err := g.run(ctx, cfg)
	if err == nil {
		err = ctx.Err()
	}
	return res, err
}

// gen holds what all runs of one Config share.
type gen struct {
	client  *http.Client // net/http, when target is nil
	target  *target      // the lean client's, when used
	conns   *Conns       // the lean client's idle connections
	timeout time.Duration
	url     string
	prefix  []byte   // request JSON up to the first text
	suffix  []byte   // request JSON after the last text; nil is /predict's
	texts   [][]byte // JSON-escaped texts, without quotes
	raw     []string // the texts as they are, for gRPC
	// grpc holds the gRPC door's clients (ProtocolGRPC), one connection
	// per concurrent client as the HTTP doors have; model is the name sent.
	grpcConns []*grpc.ClientConn
	model     string
	// h2 holds the lean gRPC client's connections between runs, one slot
	// per worker; h2Fields are its request headers, grpcAddr where it
	// connects. h2 is nil when the lean gRPC client is not used.
	h2         []*h2conn
	h2Fields   []hpack.HeaderField
	grpcAddr   string
	clientName string // names the client, for Result.Client
	batch      int
	repeat     float64
	nonce      []byte        // random per generator, so runs do not share texts
	seq        atomic.Uint64 // unique-text counter
}

func newGen(cfg Config) (*gen, error) {
	texts := cfg.Texts
	if texts == nil {
		texts = Corpus()
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrConfig, ErrNoTexts)
	}
	g := &gen{client: cfg.Client, conns: cfg.Conns, batch: cfg.Batch, repeat: cfg.RepeatRatio}
	if g.conns == nil {
		g.conns = new(Conns)
	}
	g.nonce = strconv.AppendUint([]byte(" #"), rand.Uint64()>>16, 36)
	g.nonce = append(g.nonce, '-')
	if g.client == nil {
		g.client = NewHTTPClient(cfg.Concurrency)
	}
	g.timeout = cfg.Timeout
	if g.timeout == 0 {
		g.timeout = g.client.Timeout
	}
	if g.timeout == 0 {
		g.timeout = 60 * time.Second
	}
	if g.client.Timeout != g.timeout {
		c := *g.client
		c.Timeout = g.timeout
		g.client = &c
	}
	base := strings.TrimRight(cfg.URL, "/")
	path := "/predict"
	if cfg.Batch > 0 {
		path = "/batch-predict"
	}
	lean := cfg.HTTPClient == ClientLean || (cfg.HTTPClient == ClientAuto && strings.HasPrefix(strings.ToLower(base), "http://"))
	if lean {
		t, err := newTarget(base, path)
		if err != nil {
			return nil, err
		}
		g.target = t
	}
	var p bytes.Buffer
	p.WriteByte('{')
	if cfg.Model != "" {
		m, _ := json.Marshal(cfg.Model)
		p.WriteString(`"model_version":`)
		p.Write(m)
		p.WriteByte(',')
	}
	if cfg.Batch == 0 {
		g.url = base + "/predict"
		p.WriteString(`"text":`)
	} else {
		g.url = base + "/batch-predict"
		p.WriteString(`"texts":[`)
	}
	g.prefix = p.Bytes()
	if path := g.httpProtocol(base, cfg); path != "" {
		g.url = base + path
		if g.target != nil {
			t, err := newTarget(base, path)
			if err != nil {
				return nil, err
			}
			g.target = t
		}
	}
	g.raw = texts
	switch {
	case cfg.Protocol == ProtocolGRPC && cfg.GRPCClient == ClientStd:
		g.target = nil
		if err := g.dialGRPC(cfg); err != nil {
			return nil, err
		}
		g.clientName = "grpc-go"
	case cfg.Protocol == ProtocolGRPC:
		g.target = nil
		g.h2 = make([]*h2conn, max(cfg.Concurrency, 1))
		g.h2Fields = h2Fields(cfg.GRPCAddr)
		g.grpcAddr, g.model = cfg.GRPCAddr, cfg.Model
		g.clientName = "lean gRPC"
	case g.target != nil:
		g.clientName = "lean HTTP/1.1"
	default:
		g.clientName = "net/http"
	}
	for _, t := range texts {
		q, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		g.texts = append(g.texts, q[1:len(q)-1])
	}
	return g, nil
}

// run is one measured (or warm-up) pass.
func (g *gen) run(ctx context.Context, cfg Config) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, deadline.Add(g.timeout))
		defer stop()
	}
	var tickets atomic.Int64 // requests claimed
	var done atomic.Int64
	claim := func() bool {
		if cfg.Requests > 0 && tickets.Add(1) > int64(cfg.Requests) {
			return false
		}
		return deadline.IsZero() || time.Now().Before(deadline)
	}
	// Open loop: a pacer hands out scheduled start times.
	var sched chan time.Time
	if cfg.Rate > 0 {
		sched = make(chan time.Time, 1<<14)
		go pace(ctx, sched, cfg.Rate, start, claim)
	}
	if cfg.Progress != nil {
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					cfg.Progress(done.Load())
				}
			}
		}()
	}
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker(g, uint64(i))
		workers[i] = w
		wg.Go(func() {
			for {
				var t0 time.Time
				if sched != nil {
					var ok bool
					select {
					case t0, ok = <-sched:
					case <-ctx.Done():
					}
					if !ok {
						return
					}
				} else {
					if !claim() {
						return
					}
					t0 = time.Now()
				}
				if ctx.Err() != nil {
					return
				}
				switch {
				case g.h2 != nil:
					w.doLeanGRPC(ctx, i, t0)
				case g.grpcConns != nil:
					w.doGRPC(ctx, g.grpcConns[i%len(g.grpcConns)], t0)
				case g.target != nil:
					w.doLean(ctx, t0)
				default:
					w.do(ctx, t0)
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, w := range workers {
		w.release()
		w.releaseLean()
	}
	cancel()
	if cfg.Progress != nil {
		cfg.Progress(done.Load())
	}
	res := &Result{Concurrency: cfg.Concurrency, Batch: cfg.Batch, Rate: cfg.Rate, Elapsed: elapsed, Errors: map[string]int64{}, Client: g.clientName}
	for _, w := range workers {
		res.Requests += w.ok
		res.Texts += w.texts
		res.Cached += w.cached
		res.ServerLatency += w.server
		res.Latencies = append(res.Latencies, w.lat...)
		for k, v := range w.errs {
			res.Errors[k] += v
		}
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	slices.Sort(res.Latencies)
	return res, nil
}

// pace sends the scheduled start of each request, rate per second, until
// claim says stop; it closes sched when done.
func pace(ctx context.Context, sched chan<- time.Time, rate float64, start time.Time, claim func() bool) {
	defer close(sched)
	interval := time.Duration(float64(time.Second) / rate)
	next := start
	for {
		now := time.Now()
		for !next.After(now) {
			if !claim() {
				return
			}
			select {
			case sched <- next:
			case <-ctx.Done():
				return
			}
			next = next.Add(interval)
		}
		select {
		case <-time.After(next.Sub(now)):
		case <-ctx.Done():
			return
		}
	}
}

// worker is one client: its buffers, random source and tallies.
type worker struct {
	g    *gen
	rng  *rand.Rand
	body []byte
	rd   *bytes.Reader
	// rc is the request body over rd, made once. net/http recognises a
	// NopCloser over a *bytes.Reader as in-memory and sends headers and
	// body in one write (a custom type would get its headers flushed first:
	// two segments per request).
	rc   io.ReadCloser
	resp bytes.Buffer
	hdr  http.Header
	// tmpl is the request template for the current run's ctx (tmplCtx),
	// carrying a trace whose WroteRequest signals wrote: the transport has
	// finished reading the body, which may be after Do returns (a server
	// can answer before reading it all). pending says a signal is owed
	// before body and rd may be reused.
	tmpl    *http.Request
	tmplCtx context.Context
	wrote   chan struct{}
	pending bool
	// conn is the lean client's connection, stop undoes its tie to the
	// run's ctx; req and respBuf are its reused request and body buffers.
	conn     *conn
	stop     func() bool
	req      []byte
	respBuf  []byte
	lat      []time.Duration
	ok       int64
	texts    int64
	cached   int64
	server   time.Duration
	errs     map[string]int64
	firstErr string
	// call is the gRPC door's reused request and per-call bound.
	call *grpcCall
	// lean is the lean gRPC client's state; slot is the worker's index in
	// gen.h2.
	lean *leanGRPC
	slot int
}

func newWorker(g *gen, id uint64) *worker {
	w := &worker{
		g:    g,
		rng:  rand.New(rand.NewPCG(id, 0x6d6c7365727665)),
		hdr:  http.Header{"Content-Type": {"application/json"}},
		lat:  make([]time.Duration, 0, 1024),
		errs: map[string]int64{},
	}
	w.fresh()
	return w
}

// fresh gives the worker a new body buffer, reader and write signal, for a
// start or when a failed request may still have the old ones in use.
func (w *worker) fresh() {
	w.body = make([]byte, 0, max(cap(w.body), 4096))
	w.rd = bytes.NewReader(nil)
	w.rc = io.NopCloser(w.rd)
	w.wrote = make(chan struct{}, 1)
	w.tmpl, w.tmplCtx, w.pending = nil, nil, false
}

// appendBody appends one request's JSON to b.
func (g *gen) appendBody(b []byte, rng *rand.Rand) []byte {
	b = append(b, g.prefix...)
	n := max(g.batch, 1)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		if g.repeat > 0 && rng.Float64() < g.repeat {
			b = append(b, g.texts[rng.IntN(min(hotTexts, len(g.texts)))]...)
		} else {
			s := g.seq.Add(1)
			b = append(b, g.texts[s%uint64(len(g.texts))]...)
			// A unique tail makes the text a cache miss, in this run and
			// in any other.
			b = append(b, g.nonce...)
			b = strconv.AppendUint(b, s, 10)
		}
		b = append(b, '"')
	}
	if g.suffix != nil {
		return append(b, g.suffix...)
	}
	if g.batch > 0 {
		b = append(b, ']')
	}
	return append(b, '}')
}

// do sends one request that was due at t0 and tallies its outcome.
func (w *worker) do(ctx context.Context, t0 time.Time) {
	if w.pending {
		select {
		case <-w.wrote:
			w.pending = false
		case <-ctx.Done():
			w.fresh()
		}
	}
	w.body = w.g.appendBody(w.body[:0], w.rng)
	w.rd.Reset(w.body)
	if w.tmpl == nil || w.tmplCtx != ctx {
		wrote := w.wrote
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
			select {
			case wrote <- struct{}{}:
			default:
			}
		}}
		tmpl, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, w.g.url, nil)
		if err != nil {
			w.fail("transport", err.Error())
			return
		}
		tmpl.Header = w.hdr
		w.tmpl, w.tmplCtx = tmpl, ctx
	}
	// A shallow copy of the template: no URL parsing per request.
	req := new(http.Request)
	*req = *w.tmpl
	req.Body = w.rc
	req.ContentLength = int64(len(w.body))
	resp, err := w.g.client.Do(req)
	if err != nil {
		// The transport may or may not still hold the body: start afresh.
		w.fresh()
		if ctx.Err() == nil {
			w.fail("transport", err.Error())
		}
		return
	}
	w.pending = true
	w.resp.Reset()
	_, err = w.resp.ReadFrom(resp.Body)
	resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		if ctx.Err() == nil {
			w.fail("transport", err.Error())
		}
		return
	}
	var retry time.Duration
	if v := resp.Header.Get("Retry-After"); v != "" {
		retry = parseRetryAfter([]byte(v))
	}
	w.tally(resp.StatusCode, retry, w.resp.Bytes(), lat)
}

// tally counts one answered request: its status, and for a 200 its texts,
// cached texts, server latency and round trip lat.
func (w *worker) tally(status int, retryAfter time.Duration, b []byte, lat time.Duration) {
	if status != http.StatusOK {
		if w.firstErr != "" {
			w.errs[strconv.Itoa(status)]++
			return
		}
		msg := string(b)
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if retryAfter > 0 {
			msg += " (Retry-After " + retryAfter.String() + ")"
		}
		w.fail(strconv.Itoa(status), msg)
		return
	}
	w.ok++
	w.texts += int64(max(w.g.batch, 1))
	w.cached += int64(bytes.Count(b, cachedTrue))
	w.server += serverLatency(b)
	w.lat = append(w.lat, lat)
}

func (w *worker) fail(key, msg string) {
	w.errs[key]++
	if w.firstErr == "" {
		w.firstErr = key + ": " + msg
	}
}

var (
	cachedTrue = []byte(`"cached":true`)
	latencyKey = []byte(`latency_ms":`)
)

// serverLatency reads the first latency_ms or total_latency_ms number of a
// response body without decoding it; 0 when there is none.
func serverLatency(b []byte) time.Duration {
	i := bytes.Index(b, latencyKey)
	if i < 0 {
		return 0
	}
	b = b[i+len(latencyKey):]
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	var whole, frac, scale float64 = 0, 0, 1
	seenDot := false
	j := 0
	for ; j < len(b); j++ {
		c := b[j]
		switch {
		case c >= '0' && c <= '9':
			if seenDot {
				scale /= 10
				frac += float64(c-'0') * scale
			} else {
				whole = whole*10 + float64(c-'0')
			}
		case c == '.' && !seenDot:
			seenDot = true
		case c == 'e' || c == 'E':
			// Rare: let strconv handle exponents.
			k := j
			for k < len(b) && b[k] != ',' && b[k] != '}' {
				k++
			}
			f, err := strconv.ParseFloat(string(b[:k]), 64)
			if err != nil {
				return 0
			}
			return time.Duration(f * float64(time.Millisecond))
		default:
			return time.Duration((whole + frac) * float64(time.Millisecond))
		}
	}
	return time.Duration((whole + frac) * float64(time.Millisecond))
}
