package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/payloadlog"
)

// receiver is an OTLP trace receiver built on the official OTLP protobuf
// service definitions (go.opentelemetry.io/proto/otlp): the gRPC
// TraceService and the HTTP/protobuf POST /v1/traces, on loopback. It keeps
// every span the real exporter sends, with its resource's service.name.
type receiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service string
	span    *tracepb.Span
}

func (r *receiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, receivedSpan{service: service, span: s})
			}
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

// ServeHTTP is OTLP/HTTP's binary protobuf encoding of the same call.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, _ := r.Export(req.Context(), &msg)
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *receiver) got() []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedSpan(nil), r.spans...)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOTLPEndToEnd runs the whole server (app.Run) with tracing on against
// a real OTLP receiver on loopback, over gRPC (endpoint from the config)
// and over HTTP/protobuf (endpoint and protocol from the standard OTEL_*
// variables): a /predict with a given traceparent produces spans in that
// trace that reach the receiver, under the configured service name; the
// request's log line carries the trace and span ids; and the payload
// log's events carry the trace.
func TestOTLPEndToEnd(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			rcv := &receiver{}
			c := config.Default()
			c.Tracing.Enabled, c.Tracing.ServiceName = true, "mlserve-e2e"
			switch protocol {
			case "grpc":
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				g := grpc.NewServer()
				coltrace.RegisterTraceServiceServer(g, rcv)
				go g.Serve(ln)
				defer g.Stop()
				c.Tracing.Endpoint, c.Tracing.Protocol = "http://"+ln.Addr().String(), "grpc"
			default:
				hs := httptest.NewServer(rcv)
				defer hs.Close()
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", hs.URL)
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
			}
			sink := &eventSink{}
			ss := httptest.NewServer(sink)
			defer ss.Close()
			c.Logging.Payloads.Enabled, c.Logging.Payloads.SinkURL = true, ss.URL
			root := t.TempDir()
			putVersion(t, root, "spam", "v1", "label=spam")
			c.ModelsDir, c.DefaultModel, c.ListenAddr = root, "spam", "127.0.0.1:0"
			c.Monitoring.Enabled, c.GRPC.Enabled = false, false
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addr := make(chan net.Addr, 1)
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, c, Parts{Loaders: map[string]model.Loader{"sklearn": labelLoader{}}, Log: log,
					Ready: func(a, _ net.Addr) { addr <- a }})
			}()
			var base string
			select {
			case a := <-addr:
				base = "http://" + a.String()
			case err := <-done:
				t.Fatal(err)
			case <-time.After(20 * time.Second):
				t.Fatal("the server did not start")
			}
			waitReady(t, base)

			const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
			req, _ := http.NewRequest("POST", base+"/predict", strings.NewReader(`{"text": "hello"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"label":"spam"`) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			cancel() // shutdown flushes the batched spans to the receiver
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no shutdown")
			}

			var server *tracepb.Span
			names := map[string]bool{}
			for _, s := range rcv.got() {
				if hex.EncodeToString(s.span.TraceId) != traceID {
					continue
				}
				if s.service != "mlserve-e2e" {
					t.Errorf("span %s from service %q", s.span.Name, s.service)
				}
				names[s.span.Name] = true
				if s.span.Name == "POST /predict" {
					server = s.span
				}
			}
			if server == nil {
				t.Fatalf("no POST /predict span in trace %s reached the receiver; got %d spans", traceID, len(rcv.got()))
			}
			if hex.EncodeToString(server.ParentSpanId) != parentID || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("server span parent %x kind %v", server.ParentSpanId, server.Kind)
			}
			for _, n := range []string{"cache.lookup", "inference.batch", "cache.store"} {
				if !names[n] {
					t.Errorf("no %s span in the trace: %v", n, names)
				}
			}
			spanID := hex.EncodeToString(server.SpanId)
			found := false
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"trace_id":"`+traceID+`"`) &&
					strings.Contains(line, `"span_id":"`+spanID+`"`) {
					found = true
				}
			}
			if !found {
				t.Errorf("no request log line with trace_id %s and span_id %s:\n%s", traceID, spanID, logs)
			}
			evs := sink.got()
			if len(evs) != 2 {
				t.Fatalf("payload events %d, want 2", len(evs))
			}
			for _, e := range evs {
				if e.TraceParent != "00-"+traceID+"-"+spanID+"-01" {
					t.Errorf("event %s traceparent %q", e.Type, e.TraceParent)
				}
			}
		})
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatal("never ready")
}

// eventSink keeps the batched CloudEvents posted to it.
type eventSink struct {
	mu     sync.Mutex
	events []payloadlog.Event
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var evs []payloadlog.Event
	if err := json.NewDecoder(r.Body).Decode(&evs); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
}

func (s *eventSink) got() []payloadlog.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]payloadlog.Event(nil), s.events...)
}
