// Package config reads mlserve's configuration: a YAML file whose keys match
// the seed's config.yaml, overridden by MLSERVE_* environment variables, then
// by command-line flags applied by the CLI, and validated before start-up.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// s3Bucket is what S3 (and its imitators) accept as a bucket name.
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ErrInvalid is wrapped by every error that reports a bad configuration
// value; the message names the key and the reason.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole configuration. Field tags are the YAML keys; the
// environment variable for a key is MLSERVE_ followed by the key upper-cased
// with dots as underscores (cache.ttl_seconds → MLSERVE_CACHE_TTL_SECONDS).
type Config struct {
	// ModelsDir is the model repository root (models/<name>/<vN>/).
	ModelsDir string `yaml:"models_dir"`
	// DefaultModel is the model id or name served when a request names none.
	DefaultModel string `yaml:"default_model"`
	// MaxBatchSize is the most texts the batcher hands a model at once.
	MaxBatchSize int `yaml:"max_batch_size"`
	// BatchTimeoutMS is how long the batcher waits to fill a batch.
	BatchTimeoutMS int `yaml:"batch_timeout_ms"`
	// ListenAddr is the HTTP API's host:port.
	ListenAddr string `yaml:"listen_addr"`
	// AdminToken, when set, is the Bearer token the admin API requires;
	// when empty the admin API answers loopback clients only.
	AdminToken string `yaml:"admin_token"`
	// RequestTimeoutMS bounds one request from decode to response.
	RequestTimeoutMS int `yaml:"request_timeout_ms"`
	// DrainTimeout is how long shutdown (and an unloaded version) waits for
	// in-flight requests.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// ShutdownDelay is how long the server keeps serving after SIGTERM
	// while /health/ready already answers 503, before it drains: the time
	// a load balancer or an endpoints controller needs to stop sending it
	// requests (0: drain at once).
	ShutdownDelay Duration `yaml:"shutdown_delay"`

	Cache      Cache      `yaml:"cache"`
	Monitoring Monitoring `yaml:"monitoring"`
	Limits     Limits     `yaml:"limits"`
	HTTP       HTTP       `yaml:"http"`
	Queue      Queue      `yaml:"queue"`
	Repository Repository `yaml:"repository"`
	Versions   Versions   `yaml:"versions"`
	Log        Log        `yaml:"log"`
	ONNX       ONNX       `yaml:"onnx"`
	GRPC       GRPC       `yaml:"grpc"`
	UI         UI         `yaml:"ui"`
	// Traffic configures shadow/canary/mirror comparisons (traffic.go).
	Traffic Traffic `yaml:"traffic"`
	Tracing Tracing `yaml:"tracing"`
	Logging Logging `yaml:"logging"`

	// ModelName is the name KServe gives the model (its --model_name,
	// MLSERVE_MODEL_NAME): a flat models_dir (one artifact directly in it,
	// as KServe's storage initializer leaves a single model) is served as
	// <model_name>-v1, and it is the default model when default_model is
	// empty. Empty: a flat models_dir's model is named "model".
	ModelName string `yaml:"model_name"`
}

// DefaultModelRef is the model a request without model_version gets:
// default_model, else model_name.
func (c *Config) DefaultModelRef() string {
	if c.DefaultModel != "" {
		return c.DefaultModel
	}
	return c.ModelName
}

// Cache configures the prediction cache.
type Cache struct {
	// Enabled turns the cache on.
	Enabled bool `yaml:"enabled"`
	// TTLSeconds is how long an entry lives.
	TTLSeconds int `yaml:"ttl_seconds"`
	// MaxSize is the most entries the in-memory cache holds.
	MaxSize int `yaml:"max_size"`
	// RedisURL, when set, selects the Redis cache (redis://host:port/db).
	RedisURL string `yaml:"redis_url"`
}

// Limits bounds what a client may send.
type Limits struct {
	// MaxBodyBytes bounds a predict request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxTextChars bounds one text.
	MaxTextChars int `yaml:"max_text_chars"`
	// MaxUploadBytes bounds an uploaded model artifact.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// MaxModelBytes bounds what loading one model may take: the bytes of its
	// decompressed stream and the memory its decoded objects hold. A file's
	// own budget is derived from its size and capped by this.
	MaxModelBytes int64 `yaml:"max_model_bytes"`
	// LoadTimeout bounds loading and warming one version; past it the load
	// is cancelled and the version is not served.
	LoadTimeout Duration `yaml:"load_timeout"`
	// ModelBytesPerFileByte is what loading a model file may take per byte
	// of the file on disk (above a 32 MiB base, and never more than
	// MaxModelBytes): a file that inflates further is refused as a bomb.
	ModelBytesPerFileByte int64 `yaml:"model_bytes_per_file_byte"`
}

// HTTP bounds the API listener's connections, so that slow or idle clients
// cannot hold the server's resources.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included (uploads
	// get UploadTimeout instead).
	ReadTimeout Duration `yaml:"read_timeout"`
	// UploadTimeout bounds reading a model upload (POST /models).
	UploadTimeout Duration `yaml:"upload_timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections caps the API listener's open connections; 0 means no cap.
	MaxConnections int `yaml:"max_connections"`
}

// Queue configures the per-model request queue.
type Queue struct {
	// MaxSize is the most texts waiting per model before 503.
	MaxSize int `yaml:"max_size"`
}

// Repository configures how the model repository is watched.
type Repository struct {
	// PollInterval is how often models_dir is rescanned; 0 disables.
	PollInterval Duration `yaml:"poll_interval"`
	// CacheDir is the local folder an s3:// models_dir is mirrored into (each
	// object kept with its ETag); empty means <temp dir>/mlserve-models/<bucket>/<prefix>.
	// Unused for a local models_dir.
	CacheDir string `yaml:"cache_dir"`
	// S3 configures an s3://bucket/prefix/ models_dir.
	S3 S3 `yaml:"s3"`
	// Nudge, with cache.redis_url set, tells the other replicas over Redis
	// pub/sub when this one changes the repository (an upload, a default,
	// an unload), so they rescan at once instead of at their next poll; the
	// poll stays the guarantee.
	Nudge bool `yaml:"nudge"`
}

// S3 configures the object store of an s3://bucket/prefix/ models_dir.
// Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, web identity,
// the container or instance role), never from this file.
type S3 struct {
	// Endpoint is the store's URL for a store that is not AWS S3 (MinIO,
	// Ceph, GCS's S3 interoperability: https://storage.googleapis.com);
	// when set, buckets are addressed path-style. Empty means AWS S3.
	Endpoint string `yaml:"endpoint"`
	// Region is the bucket's region; empty means the AWS chain's
	// (AWS_REGION, the profile), else us-east-1.
	Region string `yaml:"region"`
	// Timeout bounds how long a listing or a download waits on a store
	// that makes no progress (no answer, or a body that stops) before the
	// sync fails and the local copy keeps serving; 0 is 30 s.
	Timeout Duration `yaml:"timeout"`
}

// S3Prefix starts a models_dir that names an object store.
const S3Prefix = "s3://"

// S3Location returns the bucket and the key prefix (empty, or ending in
// "/") of an s3://bucket/prefix/ models_dir, and ok false for a local one.
func (c *Config) S3Location() (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(c.ModelsDir, S3Prefix)
	if !ok {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, true
}

// Versions is the version policy.
type Versions struct {
	// KeepLoaded is how many versions of each name stay loaded (newest first,
	// plus the name's default).
	KeepLoaded int `yaml:"keep_loaded"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// ONNX configures the ONNX Runtime that ONNX models run on. The runtime is
// loaded when the first ONNX model loads, never at start-up.
type ONNX struct {
	// LibraryPath is the ONNX Runtime shared library (libonnxruntime.so,
	// version 1.24 or later). Empty means .cache/onnxruntime/libonnxruntime.so
	// under the working directory (scripts/setup-onnxruntime.sh puts it
	// there), then libonnxruntime.so through the system loader.
	LibraryPath string `yaml:"library_path"`
	// IntraOpThreads is the threads one model run may use; 0 is ONNX
	// Runtime's default (one per core).
	IntraOpThreads int `yaml:"intra_op_threads"`
	// ExecutionProvider is cpu, or cuda to run on the GPU when the library
	// has the CUDA provider (otherwise a warning, and the CPU).
	ExecutionProvider string `yaml:"execution_provider"`
}

// GRPC configures the Open Inference Protocol's gRPC listener
// (inference.GRPCInferenceService, gRPC health checking and reflection),
// a second door on the same models, queue, cache and limits as the HTTP API.
type GRPC struct {
	// Enabled opens the gRPC listener.
	Enabled bool `yaml:"enabled"`
	// Addr is its host:port (MLSERVE_GRPC_ADDR, serve --grpc-addr).
	Addr string `yaml:"addr"`
}

// Duration is a time.Duration read from a Go duration string ("30s", "1m").
// A bare integer is not accepted, so units are never guessed.
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// String returns the duration string.
func (d Duration) String() string { return time.Duration(d).String() }

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 30s or 1m", s)
	}
	return v, nil
}

// Default returns the configuration used when no file is named: serve
// ./models on 127.0.0.1:8000 with metrics on 127.0.0.1:9090.
func Default() *Config {
	return &Config{
		ModelsDir:        "./models",
		MaxBatchSize:     32,
		BatchTimeoutMS:   50,
		ListenAddr:       "127.0.0.1:8000",
		RequestTimeoutMS: 30_000,
		DrainTimeout:     Duration(30 * time.Second),
		Cache:            Cache{Enabled: true, TTLSeconds: 3600, MaxSize: 10_000},
		Monitoring: Monitoring{Enabled: true, Port: 9090, Pending: defaultPending, PendingTTL: defaultPendingTTL,
			Drift: defaultDrift, Fleet: Fleet{Enabled: true, Window: defaultFleetWindow, Flush: defaultFleetFlush,
				Queue: defaultFleetQueue}},
		Limits: Limits{MaxBodyBytes: 1 << 20, MaxTextChars: 100_000, MaxUploadBytes: 512 << 20,
			MaxModelBytes: 2 << 30, LoadTimeout: Duration(2 * time.Minute), ModelBytesPerFileByte: 128},
		HTTP: HTTP{ReadHeaderTimeout: Duration(10 * time.Second), ReadTimeout: Duration(30 * time.Second),
			UploadTimeout: Duration(10 * time.Minute), IdleTimeout: Duration(2 * time.Minute), MaxConnections: 4096},
		Queue:      Queue{MaxSize: 10_000},
		Repository: Repository{PollInterval: Duration(10 * time.Second), Nudge: true},
		Versions:   Versions{KeepLoaded: 2},
		Log:        Log{Level: "info", Format: "text"},
		ONNX:       ONNX{ExecutionProvider: "cpu"},
		GRPC:       GRPC{Enabled: true, Addr: "127.0.0.1:8001"},
		UI:         defaultUI,
		Tracing:    defaultTracing,
		Logging:    Logging{Payloads: defaultPayloads},
	}
}

// Load reads path over the defaults (path "" means defaults only), applies
// MLSERVE_* environment overrides, fills derived defaults and validates.
// A named file that does not exist is an error; so is an unknown key.
func Load(path string) (*Config, error) {
	return load(path, os.LookupEnv)
}

func load(path string, env func(string) (string, bool)) (*Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w: %v", path, ErrInvalid, err)
		}
	}
	if err := c.applyEnv(env); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// EnvKey returns the environment variable that overrides a YAML key
// ("cache.ttl_seconds" → "MLSERVE_CACHE_TTL_SECONDS").
func EnvKey(key string) string {
	return "MLSERVE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every configuration key in dotted form, in declaration order.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(Default()).Elem(), "", func(key string, _ reflect.Value) { keys = append(keys, key) })
	return keys
}

func walk(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
			walk(fv, key+".", fn)
			continue
		}
		fn(key, fv)
	}
}

func (c *Config) applyEnv(env func(string) (string, bool)) error {
	var err error
	walk(reflect.ValueOf(c).Elem(), "", func(key string, fv reflect.Value) {
		s, ok := env(EnvKey(key))
		if !ok || err != nil {
			return
		}
		if e := setField(fv, s); e != nil {
			err = fmt.Errorf("%w: %s (from %s): %v", ErrInvalid, key, EnvKey(key), e)
		}
	})
	return err
}

// Set assigns a value given as a string to a dotted key, as the environment
// would; the CLI may use it for flags. Call Validate afterwards.
func (c *Config) Set(key, value string) error {
	found := false
	var err error
	walk(reflect.ValueOf(c).Elem(), "", func(k string, fv reflect.Value) {
		if k != key {
			return
		}
		found = true
		if e := setField(fv, value); e != nil {
			err = fmt.Errorf("%w: %s: %v", ErrInvalid, key, e)
		}
	})
	if !found {
		return fmt.Errorf("%w: unknown key %q", ErrInvalid, key)
	}
	return err
}

func setField(fv reflect.Value, s string) error {
	s = strings.TrimSpace(s)
	if fv.Type() == reflect.TypeOf(Duration(0)) {
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		fv.SetBool(b)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a finite number", s)
		}
		fv.SetFloat(f)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		fv.SetInt(n)
	default:
		return fmt.Errorf("unsupported kind %s", fv.Kind())
	}
	return nil
}

// MetricsAddr is the metrics listener's address: monitoring.addr, else
// 127.0.0.1:<monitoring.port>.
func (c *Config) MetricsAddr() string {
	if c.Monitoring.Addr != "" {
		return c.Monitoring.Addr
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Monitoring.Port))
}

// Validate checks every value; the error names the key and the reason.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, a...)))
	}
	if strings.TrimSpace(c.ModelsDir) == "" {
		bad("models_dir", "must not be empty")
	}
	if c.MaxBatchSize < 1 {
		bad("max_batch_size", "must be at least 1, got %d", c.MaxBatchSize)
	}
	if c.BatchTimeoutMS < 0 {
		bad("batch_timeout_ms", "must not be negative, got %d", c.BatchTimeoutMS)
	}
	if err := checkAddr(c.ListenAddr); err != nil {
		bad("listen_addr", "%v", err)
	}
	if c.RequestTimeoutMS < 0 {
		bad("request_timeout_ms", "must not be negative, got %d", c.RequestTimeoutMS)
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout", "must not be negative, got %s", c.DrainTimeout)
	}
	if c.ShutdownDelay < 0 {
		bad("shutdown_delay", "must not be negative, got %s", c.ShutdownDelay)
	}
	if c.Cache.TTLSeconds < 0 {
		bad("cache.ttl_seconds", "must not be negative, got %d", c.Cache.TTLSeconds)
	}
	if c.Cache.MaxSize < 0 || (c.Cache.Enabled && c.Cache.RedisURL == "" && c.Cache.MaxSize == 0) {
		bad("cache.max_size", "must be positive when the memory cache is enabled, got %d", c.Cache.MaxSize)
	}
	if u := c.Cache.RedisURL; u != "" && !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") && !strings.HasPrefix(u, "unix://") {
		bad("cache.redis_url", "%q is not a redis://, rediss:// or unix:// URL", u)
	}
	if c.Monitoring.Port < 0 || c.Monitoring.Port > 65535 {
		bad("monitoring.port", "must be a port number 0-65535, got %d", c.Monitoring.Port)
	}
	if c.Monitoring.Addr != "" {
		if err := checkAddr(c.Monitoring.Addr); err != nil {
			bad("monitoring.addr", "%v", err)
		}
	}
	// Port 0 is the kernel's choice, a different free port for each
	// listener (tests run the binary so), so equal ":0" addresses differ.
	if c.Monitoring.Enabled && c.MetricsAddr() == c.ListenAddr && !kernelPort(c.ListenAddr) {
		bad("monitoring.addr", "must differ from listen_addr %s", c.ListenAddr)
	}
	if err := c.Traffic.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Monitoring.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.UI.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Tracing.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Logging.Payloads.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Limits.MaxBodyBytes < 1 {
		bad("limits.max_body_bytes", "must be positive, got %d", c.Limits.MaxBodyBytes)
	}
	if c.Limits.MaxTextChars < 1 {
		bad("limits.max_text_chars", "must be positive, got %d", c.Limits.MaxTextChars)
	}
	if c.Limits.MaxUploadBytes < 1 {
		bad("limits.max_upload_bytes", "must be positive, got %d", c.Limits.MaxUploadBytes)
	}
	if c.Limits.MaxModelBytes < 1<<20 {
		bad("limits.max_model_bytes", "must be at least 1 MiB, got %d", c.Limits.MaxModelBytes)
	}
	if c.Limits.ModelBytesPerFileByte < 1 || c.Limits.ModelBytesPerFileByte > 1<<20 {
		bad("limits.model_bytes_per_file_byte", "must be between 1 and 1048576, got %d", c.Limits.ModelBytesPerFileByte)
	}
	if c.Limits.LoadTimeout <= 0 {
		bad("limits.load_timeout", "must be positive, got %s", c.Limits.LoadTimeout)
	}
	for _, t := range []struct {
		key string
		d   Duration
	}{{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout}, {"http.read_timeout", c.HTTP.ReadTimeout},
		{"http.upload_timeout", c.HTTP.UploadTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}} {
		if t.d <= 0 {
			bad(t.key, "must be positive, got %s", t.d)
		}
	}
	if c.HTTP.MaxConnections < 0 {
		bad("http.max_connections", "must not be negative (0: no cap), got %d", c.HTTP.MaxConnections)
	}
	if c.Queue.MaxSize < 1 {
		bad("queue.max_size", "must be positive, got %d", c.Queue.MaxSize)
	}
	if c.Repository.PollInterval < 0 {
		bad("repository.poll_interval", "must not be negative (0 disables), got %s", c.Repository.PollInterval)
	}
	if bucket, prefix, ok := c.S3Location(); ok {
		if !s3Bucket.MatchString(bucket) {
			bad("models_dir", "%q: the bucket name %q is not a valid S3 bucket name (3-63 of a-z 0-9 . -)", c.ModelsDir, bucket)
		}
		if strings.Contains(prefix, "//") || strings.Contains("/"+prefix, "/../") || strings.Contains("/"+prefix, "/./") {
			bad("models_dir", "%q: the key prefix has an empty, . or .. segment", c.ModelsDir)
		}
	}
	if c.Repository.S3.Timeout < 0 {
		bad("repository.s3.timeout", "must not be negative (0 is 30 s), got %s", c.Repository.S3.Timeout)
	}
	if e := c.Repository.S3.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("repository.s3.endpoint", "%q is not an http:// or https:// URL", e)
		}
	}
	if c.Versions.KeepLoaded < 1 {
		bad("versions.keep_loaded", "must be at least 1, got %d", c.Versions.KeepLoaded)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if c.ONNX.IntraOpThreads < 0 {
		bad("onnx.intra_op_threads", "must not be negative (0 is ONNX Runtime's default), got %d", c.ONNX.IntraOpThreads)
	}
	switch c.ONNX.ExecutionProvider {
	case "cpu", "cuda":
	default:
		bad("onnx.execution_provider", "must be cpu or cuda, got %q", c.ONNX.ExecutionProvider)
	}
	if c.GRPC.Enabled {
		if err := checkAddr(c.GRPC.Addr); err != nil {
			bad("grpc.addr", "%v", err)
		} else if !kernelPort(c.GRPC.Addr) && (c.GRPC.Addr == c.ListenAddr || (c.Monitoring.Enabled && c.GRPC.Addr == c.MetricsAddr())) {
			bad("grpc.addr", "must differ from listen_addr and the metrics listener, got %s", c.GRPC.Addr)
		}
	}
	return errors.Join(errs...)
}

// kernelPort says addr asks the kernel for a free port (port 0).
func kernelPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q has an invalid host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}
