package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultServer is the address clients use when none is configured.
const DefaultServer = "http://127.0.0.1:8000"

// ErrNoServer means nothing answers at the client's server address.
var ErrNoServer = errors.New("no mlserve server answers")

// defaultHTTP keeps enough idle connections for concurrent callers (the
// standard client keeps two per host).
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: t}
}()

// Client calls a running mlserve server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	http  *http.Client
	token string
}

// NewClient returns a client for the server at base (e.g.
// "http://127.0.0.1:8000"). token, when not empty, is sent as the admin
// bearer token. hc may be nil for a shared client that keeps connections alive.
func NewClient(base string, token string, hc *http.Client) (*Client, error) {
	if base == "" {
		base = DefaultServer
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server address %q: scheme must be http or https", base)
	}
	if hc == nil {
		hc = defaultHTTP
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{base: u, http: hc, token: token}, nil
}

// ClientFromEnvironment returns a client for MLSERVE_SERVER (default
// DefaultServer) with the admin token MLSERVE_ADMIN_TOKEN.
func ClientFromEnvironment() (*Client, error) {
	return NewClient(os.Getenv("MLSERVE_SERVER"), os.Getenv("MLSERVE_ADMIN_TOKEN"), nil)
}

// BaseURL returns the server address the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Predict classifies one text.
func (c *Client) Predict(ctx context.Context, req *PredictRequest) (*PredictResponse, error) {
	var resp PredictResponse
	if err := c.do(ctx, http.MethodPost, "/predict", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// BatchPredict classifies up to MaxBatchTexts texts in one call.
func (c *Client) BatchPredict(ctx context.Context, req *BatchPredictRequest) (*BatchPredictResponse, error) {
	var resp BatchPredictResponse
	if err := c.do(ctx, http.MethodPost, "/batch-predict", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ListModels lists every model version the server knows.
func (c *Client) ListModels(ctx context.Context) (*ModelList, error) {
	var resp ModelList
	if err := c.do(ctx, http.MethodGet, "/models", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// GetModel describes one model version.
func (c *Client) GetModel(ctx context.Context, id string) (*ModelInfo, error) {
	var resp ModelInfo
	if err := c.do(ctx, http.MethodGet, "/models/"+url.PathEscape(id), nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// UnloadModel unloads a model version.
func (c *Client) UnloadModel(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/models/"+url.PathEscape(id), nil, nil)
}

// FlushCache deletes the cached predictions of model version id.
func (c *Client) FlushCache(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/models/"+url.PathEscape(id)+"/cache", nil, nil)
}

// SetDefault makes version the default of the model called name.
func (c *Client) SetDefault(ctx context.Context, name, version string) (*ModelInfo, error) {
	var resp ModelInfo
	err := c.do(ctx, http.MethodPut, "/models/"+url.PathEscape(name)+"/default", &SetDefaultRequest{Version: version}, &resp)
	if err != nil {
		return nil, err
	}
	return &resp, nil
}

// Stats returns the server's in-process statistics.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var resp Stats
	if err := c.do(ctx, http.MethodGet, "/stats", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// FleetStats returns GET /stats?scope=fleet: per model version the
// requests, texts, errors and predictions summed over the replicas that
// share Redis, the fleet's live accuracy and drift.
func (c *Client) FleetStats(ctx context.Context) (*Stats, error) {
	var resp Stats
	if err := c.do(ctx, http.MethodGet, "/stats?scope=fleet", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Feedback reports the true label of the prediction answered with
// requestID (for a batch, "<request_id>/<index>").
func (c *Client) Feedback(ctx context.Context, requestID, label string) (*FeedbackResponse, error) {
	var resp FeedbackResponse
	if err := c.do(ctx, http.MethodPost, "/feedback", &FeedbackRequest{RequestID: requestID, Label: label}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Drift returns model version id's drift figures.
func (c *Client) Drift(ctx context.Context, id string) (*DriftStatus, error) {
	var resp DriftStatus
	if err := c.do(ctx, http.MethodGet, "/models/"+url.PathEscape(id)+"/drift", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Health reports readiness: nil when the server is ready to predict.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var resp Health
	if err := c.do(ctx, http.MethodGet, "/health/ready", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// LoadModel uploads an artifact (and optional manifest) as a new model
// version; the server loads and warms it before answering.
func (c *Client) LoadModel(ctx context.Context, req *LoadModelRequest) (*ModelInfo, error) {
	if req.ArtifactPath == "" {
		return nil, errors.New("load model: no artifact path")
	}
	art, err := os.Open(req.ArtifactPath)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer art.Close()
	var man *os.File
	if req.ManifestPath != "" {
		if man, err = os.Open(req.ManifestPath); err != nil {
			return nil, fmt.Errorf("load model: %w", err)
		}
		defer man.Close()
	}
	files := make([]*os.File, len(req.FilePaths))
	for i, p := range req.FilePaths {
		if files[i], err = os.Open(p); err != nil {
			return nil, fmt.Errorf("load model: %w", err)
		}
		defer files[i].Close()
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeLoadForm(mw, req, art, man, files))
	}()
	var resp ModelInfo
	if err := c.send(ctx, http.MethodPost, "/models", mw.FormDataContentType(), pr, &resp); err != nil {
		pr.CloseWithError(err)
		return nil, err
	}
	return &resp, nil
}

func writeLoadForm(mw *multipart.Writer, req *LoadModelRequest, art, man *os.File, files []*os.File) error {
	fields := [][2]string{{"name", req.Name}, {"version", req.Version}, {"make_default", strconv.FormatBool(req.MakeDefault)}}
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	add := func(field string, f *os.File) error {
		w, err := mw.CreateFormFile(field, filepath.Base(f.Name()))
		if err != nil {
			return err
		}
		_, err = io.Copy(w, f)
		return err
	}
	if err := add("file", art); err != nil {
		return err
	}
	if man != nil {
		if err := add("manifest", man); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := add("files", f); err != nil {
			return err
		}
	}
	return mw.Close()
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
		ctype = "application/json"
	}
	return c.send(ctx, method, path, ctype, body, out)
}

func (c *Client) send(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	u := *c.base
	if i := strings.IndexByte(path, '?'); i >= 0 { // a query, as in /stats?scope=fleet
		path, u.RawQuery = path[:i], path[i+1:]
	}
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w at %s: start one with `mlserve serve`, or point --server / MLSERVE_SERVER at a running one: %w", ErrNoServer, c.base, err)
		}
		return fmt.Errorf("%s %s: %w", method, u.String(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		e := &Error{StatusCode: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e.Problem) != nil || (e.Problem.Title == "" && e.Problem.Detail == "") {
			e.Problem = Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: strings.TrimSpace(string(b))}
		}
		return e
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the response: %w", method, u.String(), err)
	}
	return nil
}
