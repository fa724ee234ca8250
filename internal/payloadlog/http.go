package payloadlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTPSink posts events to a URL as CloudEvents over HTTP: batched content
// mode (one application/cloudevents-batch+json POST per batch) or binary
// content mode (one POST per event, attributes as ce-* headers).
type HTTPSink struct {
	url    string
	binary bool
	client *http.Client
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink returns a sink posting to url, each POST bounded by timeout.
func NewHTTPSink(url string, binary bool, timeout time.Duration) *HTTPSink {
	return &HTTPSink{url: url, binary: binary, client: &http.Client{Timeout: timeout}}
}

// Send posts events; any status but 2xx is an error.
func (s *HTTPSink) Send(ctx context.Context, events []Event) error {
	if !s.binary {
		b, err := json.Marshal(events)
		if err != nil {
			return err
		}
		return s.post(ctx, b, http.Header{"Content-Type": {"application/cloudevents-batch+json"}})
	}
	for _, e := range events {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return err
		}
		h := http.Header{
			"Content-Type":   {e.DataContentType},
			"Ce-Specversion": {e.SpecVersion},
			"Ce-Id":          {e.ID},
			"Ce-Source":      {e.Source},
			"Ce-Type":        {e.Type},
			"Ce-Time":        {e.Time.Format(time.RFC3339Nano)},
		}
		if e.TraceParent != "" {
			h.Set("Ce-Traceparent", e.TraceParent)
		}
		if err := s.post(ctx, b, h); err != nil {
			return err
		}
	}
	return nil
}

func (s *HTTPSink) post(ctx context.Context, body []byte, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("payload sink %s answered %s", s.url, resp.Status)
	}
	return nil
}

// Close releases idle connections.
func (s *HTTPSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
