package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/cache"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/payloadlog"
	"github.com/mlserve/mlserve/internal/traffic"
	"github.com/mlserve/mlserve/internal/ui"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	// AdminToken, when set, is the bearer token the admin API requires;
	// without one the admin API answers loopback clients only.
	AdminToken string
	// MaxBodyBytes limits prediction request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxTextChars limits one text, in Unicode code points (default 100,000).
	MaxTextChars int
	// MaxUploadBytes limits model uploads (default 512 MiB).
	MaxUploadBytes int64
	// RequestTimeout bounds a prediction when the request names no
	// timeout_ms (default 30 s).
	RequestTimeout time.Duration
	// Logger receives one line per request (default slog.Default()).
	Logger *slog.Logger
	// Monitor books request metrics, the prediction distribution, drift,
	// feedback and the monitoring figures of /stats; nil is monitoring off
	// (no metrics, POST /feedback and GET /models/{id}/drift answer 404).
	Monitor *monitoring.Monitor
	// Version is reported in the OpenAPI document.
	Version string
	// Engine runs predictions (queueing, dynamic batching); nil calls the
	// model directly. A version's queue is released by the engine's own
	// subscription to the registry's events, not by the server.
	Engine Engine
	// Cache, when not nil, answers repeated texts without the model.
	Cache *cache.Cache
	// UploadTimeout bounds reading a model upload (POST /models), in place
	// of the http.Server's ReadTimeout (default 10 min).
	UploadTimeout time.Duration
	// UI, when not nil, is the dashboard served at GET /ui (ui.go).
	UI *ui.Dashboard
	// Traffic routes and compares shadow/canary/mirror traffic between a
	// name's default and a candidate; nil is none (GET and PUT
	// /models/{name}/traffic answer 404). New attaches it to the registry.
	Traffic *traffic.Manager
	// Tracer, when not nil, traces every request (trace.go); nil is
	// tracing off.
	Tracer trace.Tracer
	// Payloads, when not nil, receives every prediction for the payload
	// log (payload.go), which samples them.
	Payloads *payloadlog.Logger
}

// Engine runs a model's predictions: the inference engine's queue and
// batcher. Its errors go through StatusOf like the registry's.
type Engine interface {
	// Predict classifies texts with m, the loaded version id.
	Predict(ctx context.Context, id string, m model.Model, texts []string) ([]model.Prediction, error)
}

func (o *Options) defaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxTextChars <= 0 {
		o.MaxTextChars = 100_000
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 512 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = 10 * time.Minute
	}
}

// Server is the HTTP API over a Registry.
type Server struct {
	reg     Registry
	opts    Options
	log     *slog.Logger
	api     huma.API
	mux     *http.ServeMux
	handler http.Handler
	stats   *statsBook
	mon     *monitoring.Monitor
	// oodScorers caches each version's OOD scorer by its manifest (a
	// version's manifest pointer never changes); see ood.go.
	oodScorers sync.Map
	idBase     string
	idSeq      atomic.Uint64
	// draining is set by Drain: responses close their connection.
	draining atomic.Bool
	// leaving is set by Leave: not ready, still serving (leave.go).
	leaving atomic.Bool
	// predictOp and batchOp are the prediction operations as registered,
	// for the fast path's responses; noFast sends every prediction through
	// huma (tests compare the two paths).
	predictOp, batchOp huma.Operation
	// oipInferOp and v1PredictOp are the protocol doors' operations, for
	// the answers of their fast path (oipfast.go).
	oipInferOp, v1PredictOp huma.Operation
	noFast                  bool
	onFast                  func(endpoint string) // tests: told of each request the fast path served
}

// Drain prepares a graceful shutdown: from now on every response carries
// Connection: close, so keep-alive clients move off their connections after
// the answer in flight instead of racing a request against the connection's
// close, and /health/ready answers 503.
func (s *Server) Drain() { s.draining.Store(true) }

// New returns a server answering for reg.
func New(reg Registry, opts Options) (*Server, error) {
	opts.defaults()
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &Server{
		reg:    reg,
		opts:   opts,
		log:    opts.Logger.With("component", "server"),
		mux:    http.NewServeMux(),
		stats:  newStatsBook(time.Now()),
		mon:    opts.Monitor,
		idBase: hex.EncodeToString(b[:]),
	}
	cfg := huma.DefaultConfig("mlserve", opts.Version)
	cfg.Info.Description = "Text classification with scikit-learn and ONNX models, read natively in Go."
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = ""     // served by docsHandler from embedded assets
	cfg.CreateHooks = nil // no $schema links in responses: keep the seed's shapes
	cfg.Transformers = append(cfg.Transformers, encodable)
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "Admin token (admin_token in the config)."},
	}
	s.api = humago.New(exactRoot{s.mux}, cfg)
	s.register()
	s.registerOIP()
	s.mux.Handle("GET /docs", docsHandler())
	s.mux.Handle("GET /docs/", docsHandler())
	s.mountUI()
	s.handler = s.middleware(s.mux)
	opts.Traffic.Attach(reg, s.runOffPath)
	if opts.Tracer != nil {
		s.handler = s.traced(s.handler)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI 3.1 document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func (s *Server) register() {
	predictOp := huma.Operation{
		OperationID: "predict", Method: http.MethodPost, Path: "/predict",
		Summary: "Classify one text", Tags: []string{"predict"},
		MaxBodyBytes: s.opts.MaxBodyBytes, DefaultStatus: http.StatusOK,
		Errors: []int{400, 404, 413, 422, 503, 504},
	}
	huma.Register(s.api, predictOp, s.predict)
	s.predictOp = predictOp
	batchOp := huma.Operation{
		OperationID: "batch-predict", Method: http.MethodPost, Path: "/batch-predict",
		Summary: "Classify 1 to 100 texts", Tags: []string{"predict"},
		MaxBodyBytes: s.opts.MaxBodyBytes, DefaultStatus: http.StatusOK,
		Errors: []int{400, 404, 413, 422, 503, 504},
	}
	huma.Register(s.api, batchOp, s.batchPredict)
	s.batchOp = batchOp
	s.registerAdmin()
	s.registerCacheAdmin()
	s.registerHealth()
	s.registerMonitoring()
	s.registerTraffic()
}

// reqInfo travels in the request context so handlers can tell the
// middleware which model answered.
type reqInfo struct {
	start time.Time
	model string
	texts int
	key   string // the X-Traffic-Key header (canary stickiness)
}

type ctxKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{start: time.Now()}
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	// override, when set, replaces the status the handler writes next
	// (encodable: the body it is about to write became a 500 problem).
	override int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.override != 0 && w.status == 0 {
		code = w.override
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware times and logs every request, records its metrics, guards the
// admin API, and checks prediction bodies (size, UTF-8) before huma sees
// them. A prediction the fast path can serve (fast.go) does not reach huma.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &reqInfo{start: time.Now()}
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		sw := &statusWriter{ResponseWriter: w}
		endpoint := s.route(r)
		defer s.finish(r, endpoint, ri, sw)
		if s.opts.Traffic != nil {
			ri.key = r.Header.Get(api.TrafficKeyHeader) // canary stickiness, every door
		}
		if oipPrefix(r.URL.Path) {
			s.serveOIP(sw, r, next, endpoint, ri)
			return
		}
		switch {
		case endpoint == "/predict" || endpoint == "/batch-predict" || endpoint == "/feedback":
			// The seed's clients (curl -d) often send no JSON media type.
			if ct := r.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "text/plain") {
				r.Header.Set("Content-Type", "application/json")
			}
			if endpoint == "/feedback" {
				break
			}
			body, ok := s.checkBody(sw, r)
			if !ok {
				return
			}
			if r.Method == http.MethodPost && s.serveFast(sw, r, endpoint, ri, body) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		case endpoint == "/models":
			if !s.authorize(sw, r) {
				return
			}
			if r.Method == http.MethodPost {
				// An upload may take longer to arrive than a prediction:
				// it gets its own read deadline instead of the server's.
				_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.UploadTimeout))
				if r.ContentLength > s.opts.MaxUploadBytes {
					s.drain(w, r, r.Body, s.opts.MaxUploadBytes)
					writeProblem(sw, http.StatusRequestEntityTooLarge,
						fmt.Sprintf("the upload is larger than the limit of %d bytes", s.opts.MaxUploadBytes))
					return
				}
				r.Body = http.MaxBytesReader(sw, r.Body, s.opts.MaxUploadBytes)
				// huma parses the multipart form into the request it is
				// given, the copy below: net/http only cleans up the form
				// of the request it made, so the temp files of a large
				// upload are removed here.
				r2 := r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
				defer func() {
					if r2.MultipartForm != nil {
						_ = r2.MultipartForm.RemoveAll()
					}
				}()
				next.ServeHTTP(sw, r2)
				return
			}
		}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
	})
}

// Bounds of the drain before a 413 (drain).
const (
	drainMinBytes = 1 << 20
	drainMaxBytes = 64 << 20
	drainTime     = 5 * time.Second
)

// drain reads and discards what is left of an oversized body, up to eight
// times the limit (at least 1 MiB, at most 64 MiB) and for at most 5 s,
// and marks the connection to close after the answer. Many clients (Python's
// urllib and requests among them) write the whole body before they read
// the response: a server that answers and closes while the body is still
// arriving resets the connection, and those clients report "connection
// reset by peer" instead of the 413. A client that asked for
// "100-continue" has not sent the body and is answered at once.
func (s *Server) drain(w http.ResponseWriter, r *http.Request, body io.Reader, limit int64) {
	w.Header().Set("Connection", "close")
	if strings.EqualFold(r.Header.Get("Expect"), "100-continue") || body == nil {
		return
	}
	n := min(max(8*limit, drainMinBytes), drainMaxBytes)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(drainTime))
	_, _ = io.CopyN(io.Discard, body, n)
}

// finish books a request in the metrics and logs it.
func (s *Server) finish(r *http.Request, endpoint string, ri *reqInfo, sw *statusWriter) {
	d := time.Since(ri.start)
	s.observe(endpoint, ri, sw.status, d)
	lvl := slog.LevelDebug
	if sw.status >= 500 {
		lvl = slog.LevelWarn
	} else if sw.status >= 400 {
		lvl = slog.LevelInfo
	}
	if !s.log.Enabled(r.Context(), lvl) {
		return // spare the arguments' allocations
	}
	s.log.Log(r.Context(), lvl, "request", "method", r.Method, "path", r.URL.Path,
		"status", sw.status, "model", ri.model, "duration_ms", float64(d.Microseconds())/1000,
		"remote", r.RemoteAddr)
}

// route names the endpoint for metrics and middleware without the
// high-cardinality parts of the path.
func (s *Server) route(r *http.Request) string {
	p := r.URL.Path
	if e := oipRoute(p); e != "" {
		return e
	}
	switch {
	case r.Method == http.MethodGet && isDriftPath(r.URL.EscapedPath()):
		return "/models/{id}/drift"
	case p == "/models" || strings.HasPrefix(p, "/models/"):
		return "/models"
	case p == "/predict", p == "/batch-predict", p == "/stats", p == "/feedback", p == "/health/live", p == "/health/ready", p == "/openapi.json":
		return p
	case p == "/docs" || strings.HasPrefix(p, "/docs/"):
		return "/docs"
	case p == "/ui" || strings.HasPrefix(p, "/ui/"):
		return "/ui"
	default:
		return "other"
	}
}

// isDriftPath says the escaped path p is /models/{id}/drift, which is not
// admin API: drift figures are monitoring, as public as /stats. It splits
// the escaped path, as the mux does when it matches a pattern, so an
// encoded slash (/models/x%2Fdrift, the mux's /models/{id} with id
// "x/drift") or dot segment is not mistaken for the drift route and keeps
// the admin check.
func isDriftPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/models/")
	if !ok {
		return false
	}
	id, tail, ok := strings.Cut(rest, "/")
	return ok && tail == "drift" && id != "" && !strings.Contains(id, "%") && id != "." && id != ".."
}

// checkBody reads a prediction body, answering 413 when it is over the limit
// and 422 when it is not UTF-8, and returns the bytes it read.
func (s *Server) checkBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > s.opts.MaxBodyBytes {
		s.drain(w, r, r.Body, s.opts.MaxBodyBytes)
		writeProblem(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than the limit of %d bytes", s.opts.MaxBodyBytes),
			api.ErrorDetail{Location: "body", Message: "too large", Value: r.ContentLength})
		return nil, false
	}
	var b []byte
	var err error
	if r.ContentLength > 0 {
		// The announced length, read in one buffer: net/http's body ends there.
		b = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "cannot read request body: "+err.Error())
		return nil, false
	}
	if int64(len(b)) > s.opts.MaxBodyBytes {
		s.drain(w, r, r.Body, s.opts.MaxBodyBytes)
		writeProblem(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than the limit of %d bytes", s.opts.MaxBodyBytes),
			api.ErrorDetail{Location: "body", Message: "too large"})
		return nil, false
	}
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			_, n := utf8.DecodeRune(b[off:])
			if n == 1 && b[off] >= utf8.RuneSelf {
				break
			}
			off += n
		}
		writeProblem(w, http.StatusUnprocessableEntity, "request body is not valid UTF-8",
			api.ErrorDetail{Location: "body", Message: "invalid UTF-8 at byte offset " + strconv.Itoa(off)})
		return nil, false
	}
	return b, true
}

// authorize guards the admin API: the bearer token when one is configured,
// else loopback clients only.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.AdminToken == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			writeProblem(w, http.StatusForbidden,
				"the admin API answers loopback clients only when no admin_token is configured")
			return false
		}
		return true
	}
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if h == "" || !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mlserve admin"`)
		writeProblem(w, http.StatusUnauthorized, "the admin API needs Authorization: Bearer <admin token>")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.opts.AdminToken)) != 1 {
		writeProblem(w, http.StatusForbidden, "wrong admin token")
		return false
	}
	return true
}

// requestID echoes the client's X-Request-ID or makes one.
func (s *Server) requestID(given string) string {
	if given != "" && len(given) <= 128 {
		return given
	}
	return s.idBase + "-" + strconv.FormatUint(s.idSeq.Add(1), 36)
}

// deadline bounds ctx by the server's default timeout, or by the request's
// timeout_ms when that is shorter (a request may ask for less, never more).
func (s *Server) deadline(ctx context.Context, timeoutMS int) (context.Context, context.CancelFunc) {
	d := s.opts.RequestTimeout
	if timeoutMS > 0 && time.Duration(timeoutMS)*time.Millisecond < d {
		d = time.Duration(timeoutMS) * time.Millisecond
	}
	return context.WithTimeout(ctx, d)
}

func sinceMS(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
