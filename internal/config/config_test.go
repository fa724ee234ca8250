package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	seed := `models_dir: ./models
default_model: sentiment-v2
max_batch_size: 32
batch_timeout_ms: 50
cache:
  enabled: true
  ttl_seconds: 3600
  max_size: 10000
monitoring:
  enabled: true
  port: 9090
`
	tests := []struct {
		name    string
		file    string // "" → no file
		env     map[string]string
		check   func(*testing.T, *Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if c.ModelsDir != "./models" || c.ListenAddr != "127.0.0.1:8000" || c.MetricsAddr() != "127.0.0.1:9090" {
				t.Errorf("defaults: %q %q %q", c.ModelsDir, c.ListenAddr, c.MetricsAddr())
			}
			if c.Versions.KeepLoaded != 2 {
				t.Errorf("keep_loaded = %d", c.Versions.KeepLoaded)
			}
		}},
		{name: "seed file", file: seed, check: func(t *testing.T, c *Config) {
			if c.DefaultModel != "sentiment-v2" || c.MaxBatchSize != 32 || c.Cache.TTLSeconds != 3600 || c.Monitoring.Port != 9090 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "empty file", file: "\n", check: func(t *testing.T, c *Config) {
			if c.ListenAddr != "127.0.0.1:8000" {
				t.Errorf("listen_addr = %q", c.ListenAddr)
			}
		}},
		{name: "monitoring port moves metrics addr", file: "monitoring:\n  port: 9191\n", check: func(t *testing.T, c *Config) {
			if c.MetricsAddr() != "127.0.0.1:9191" {
				t.Errorf("metrics addr = %q", c.MetricsAddr())
			}
		}},
		{name: "durations", file: "repository:\n  poll_interval: 1m30s\ndrain_timeout: 5s\n", check: func(t *testing.T, c *Config) {
			if time.Duration(c.Repository.PollInterval) != 90*time.Second || time.Duration(c.DrainTimeout) != 5*time.Second {
				t.Errorf("durations %s %s", c.Repository.PollInterval, c.DrainTimeout)
			}
		}},
		{name: "poll disabled", file: "repository:\n  poll_interval: 0\n", check: func(t *testing.T, c *Config) {
			if c.Repository.PollInterval != 0 {
				t.Errorf("poll = %s", c.Repository.PollInterval)
			}
		}},
		{name: "env overrides file", file: seed, env: map[string]string{
			"MLSERVE_CACHE_TTL_SECONDS": "60", "MLSERVE_ADMIN_TOKEN": "s3cret", "MLSERVE_MODELS_DIR": "/srv/models",
			"MLSERVE_CACHE_ENABLED": "false", "MLSERVE_REPOSITORY_POLL_INTERVAL": "2s", "MLSERVE_LIMITS_MAX_BODY_BYTES": "4096",
		}, check: func(t *testing.T, c *Config) {
			if c.Cache.TTLSeconds != 60 || c.AdminToken != "s3cret" || c.ModelsDir != "/srv/models" || c.Cache.Enabled ||
				time.Duration(c.Repository.PollInterval) != 2*time.Second || c.Limits.MaxBodyBytes != 4096 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "monitoring drift block", file: "monitoring:\n  pending: 50\n  pending_ttl: 10m\n  drift:\n    window: 200\n    warn: 0.2\n    alert: 0.4\n    tolerance: 0.1\n",
			check: func(t *testing.T, c *Config) {
				m := c.Monitoring
				if m.Pending != 50 || time.Duration(m.PendingTTL) != 10*time.Minute || m.Drift.Window != 200 ||
					m.Drift.Warn != 0.2 || m.Drift.Alert != 0.4 || m.Drift.Tolerance != 0.1 || m.Drift.Bootstrap != 1000 {
					t.Errorf("got %+v", m)
				}
			}},
		{name: "drift env overrides", env: map[string]string{"MLSERVE_MONITORING_DRIFT_ALERT": "0.3", "MLSERVE_MONITORING_DRIFT_FEEDBACK_WINDOW": "20"},
			check: func(t *testing.T, c *Config) {
				if c.Monitoring.Drift.Alert != 0.3 || c.Monitoring.Drift.FeedbackWindow != 20 {
					t.Errorf("got %+v", c.Monitoring.Drift)
				}
			}},
		{name: "drift alert below warn", file: "monitoring:\n  drift:\n    warn: 0.3\n    alert: 0.2\n", wantErr: "monitoring.drift.alert"},
		{name: "drift window 0", file: "monitoring:\n  drift:\n    window: 0\n", wantErr: "monitoring.drift.window"},
		{name: "drift min_samples over window", file: "monitoring:\n  drift:\n    window: 10\n    min_samples: 11\n", wantErr: "monitoring.drift.min_samples"},
		{name: "drift tolerance over 1", file: "monitoring:\n  drift:\n    tolerance: 2\n", wantErr: "monitoring.drift.tolerance"},
		{name: "drift epsilon 0", file: "monitoring:\n  drift:\n    epsilon: 0\n", wantErr: "monitoring.drift.epsilon"},
		{name: "pending ttl 0", file: "monitoring:\n  pending_ttl: 0s\n", wantErr: "monitoring.pending_ttl"},
		{name: "bad env float", env: map[string]string{"MLSERVE_MONITORING_DRIFT_WARN": "NaN"}, wantErr: "MLSERVE_MONITORING_DRIFT_WARN"},
		{name: "unknown key", file: "models_dir: x\ncache:\n  ttl: 3\n", wantErr: "ttl"},
		{name: "unknown top key", file: "modles_dir: x\n", wantErr: "modles_dir"},
		{name: "wrong type", file: "max_batch_size: lots\n", wantErr: "lots"},
		{name: "bad duration", file: "drain_timeout: 10\n", wantErr: "not a duration"},
		{name: "batch size 0", file: "max_batch_size: 0\n", wantErr: "max_batch_size"},
		{name: "negative ttl", file: "cache:\n  ttl_seconds: -1\n", wantErr: "cache.ttl_seconds"},
		{name: "bad listen addr", file: "listen_addr: localhost\n", wantErr: "listen_addr"},
		{name: "bad port", file: "monitoring:\n  port: 70000\n", wantErr: "monitoring.port"},
		{name: "same addrs", file: "listen_addr: 127.0.0.1:9090\n", wantErr: "monitoring.addr"},
		{name: "keep_loaded 0", file: "versions:\n  keep_loaded: 0\n", wantErr: "versions.keep_loaded"},
		{name: "bad log level", file: "log:\n  level: loud\n", wantErr: "log.level"},
		{name: "model bytes per file byte 0", file: "limits:\n  model_bytes_per_file_byte: 0\n", wantErr: "limits.model_bytes_per_file_byte"},
		{name: "model bytes per file byte", env: map[string]string{"MLSERVE_LIMITS_MODEL_BYTES_PER_FILE_BYTE": "2048"}, check: func(t *testing.T, c *Config) {
			if c.Limits.ModelBytesPerFileByte != 2048 {
				t.Errorf("limits.model_bytes_per_file_byte = %d", c.Limits.ModelBytesPerFileByte)
			}
		}},
		{name: "bad redis url", file: "cache:\n  redis_url: http://x\n", wantErr: "cache.redis_url"},
		{name: "grpc defaults", check: func(t *testing.T, c *Config) {
			if c.GRPC != (GRPC{Enabled: true, Addr: "127.0.0.1:8001"}) {
				t.Errorf("grpc = %+v", c.GRPC)
			}
		}},
		{name: "grpc off", file: "grpc:\n  enabled: false\n  addr: nonsense\n", check: func(t *testing.T, c *Config) {
			if c.GRPC.Enabled {
				t.Error("grpc.enabled: false was not read")
			}
		}},
		{name: "grpc addr from env", env: map[string]string{"MLSERVE_GRPC_ADDR": "127.0.0.1:46201"}, check: func(t *testing.T, c *Config) {
			if c.GRPC.Addr != "127.0.0.1:46201" {
				t.Errorf("grpc.addr = %q", c.GRPC.Addr)
			}
		}},
		{name: "grpc kernel port", file: "listen_addr: 127.0.0.1:0\ngrpc:\n  addr: 127.0.0.1:0\n", check: func(t *testing.T, c *Config) {
			if c.GRPC.Addr != "127.0.0.1:0" {
				t.Errorf("grpc.addr = %q", c.GRPC.Addr)
			}
		}},
		{name: "every listener on a kernel port", file: "listen_addr: 127.0.0.1:0\nmonitoring:\n  addr: 127.0.0.1:0\ngrpc:\n  addr: 127.0.0.1:0\n",
			check: func(t *testing.T, c *Config) {
				if c.ListenAddr != "127.0.0.1:0" || c.MetricsAddr() != "127.0.0.1:0" || c.GRPC.Addr != "127.0.0.1:0" {
					t.Errorf("addrs = %q %q %q", c.ListenAddr, c.MetricsAddr(), c.GRPC.Addr)
				}
			}},
		{name: "bad grpc addr", file: "grpc:\n  addr: localhost\n", wantErr: "grpc.addr"},
		{name: "grpc addr is the api's", file: "grpc:\n  addr: 127.0.0.1:8000\n", wantErr: "grpc.addr"},
		{name: "grpc addr is the metrics'", env: map[string]string{"MLSERVE_GRPC_ADDR": "127.0.0.1:9090"}, wantErr: "grpc.addr"},
		{name: "bad env int", env: map[string]string{"MLSERVE_MAX_BATCH_SIZE": "x"}, wantErr: "MLSERVE_MAX_BATCH_SIZE"},
		{name: "onnx defaults", check: func(t *testing.T, c *Config) {
			if c.ONNX != (ONNX{ExecutionProvider: "cpu"}) {
				t.Errorf("onnx = %+v", c.ONNX)
			}
		}},
		{name: "onnx block", file: "onnx:\n  library_path: /opt/ort/libonnxruntime.so\n  intra_op_threads: 2\n  execution_provider: cuda\n",
			check: func(t *testing.T, c *Config) {
				if c.ONNX != (ONNX{LibraryPath: "/opt/ort/libonnxruntime.so", IntraOpThreads: 2, ExecutionProvider: "cuda"}) {
					t.Errorf("onnx = %+v", c.ONNX)
				}
			}},
		{name: "onnx env overrides", file: "onnx:\n  library_path: /a.so\n", env: map[string]string{
			"MLSERVE_ONNX_LIBRARY_PATH": "/b.so", "MLSERVE_ONNX_INTRA_OP_THREADS": "3"},
			check: func(t *testing.T, c *Config) {
				if c.ONNX.LibraryPath != "/b.so" || c.ONNX.IntraOpThreads != 3 {
					t.Errorf("onnx = %+v", c.ONNX)
				}
			}},
		{name: "onnx negative threads", file: "onnx:\n  intra_op_threads: -1\n", wantErr: "onnx.intra_op_threads"},
		{name: "onnx unknown provider", file: "onnx:\n  execution_provider: tpu\n", wantErr: "onnx.execution_provider"},
		{name: "onnx unknown key", file: "onnx:\n  library: x\n", wantErr: "library"},
		{name: "bad env duration", env: map[string]string{"MLSERVE_DRAIN_TIMEOUT": "soon"}, wantErr: "drain_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := load(path, envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("err %v does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestLoadRepoConfig(t *testing.T) {
	c, err := load("../../config.yaml", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultModel != "sentiment-v2" {
		t.Errorf("default_model = %q", c.DefaultModel)
	}
}

func TestSetAndKeys(t *testing.T) {
	c := Default()
	tests := []struct{ key, val, wantErr string }{
		{"listen_addr", "0.0.0.0:8080", ""},
		{"monitoring.addr", "0.0.0.0:9999", ""},
		{"queue.max_size", "12", ""},
		{"nope", "1", "unknown key"},
		{"queue.max_size", "many", "integer"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.val, func(t *testing.T) {
			err := c.Set(tt.key, tt.val)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if c.ListenAddr != "0.0.0.0:8080" || c.MetricsAddr() != "0.0.0.0:9999" || c.Queue.MaxSize != 12 {
		t.Errorf("after Set: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	keys := strings.Join(Keys(), ",")
	for _, k := range []string{"models_dir", "cache.ttl_seconds", "cache.redis_url", "limits.max_upload_bytes", "repository.poll_interval", "versions.keep_loaded", "log.format"} {
		if !strings.Contains(","+keys+",", ","+k+",") {
			t.Errorf("Keys() lacks %s: %s", k, keys)
		}
	}
	if got := EnvKey("cache.ttl_seconds"); got != "MLSERVE_CACHE_TTL_SECONDS" {
		t.Errorf("EnvKey = %q", got)
	}
}

// TestDriftDefaultsAndValidate: the one place drift defaults and checks are
// written. As the monitor runs (WithDefaults, then Validate) zero fields
// take their defaults; as the file gives them (Validate alone) only the
// derived min_samples and min_feedback may be 0.
func TestDriftDefaultsAndValidate(t *testing.T) {
	tests := []struct {
		name    string
		d       Drift
		ok      bool   // after WithDefaults
		wantKey string // the key the error names
	}{
		{"defaults", Drift{}, true, ""},
		{"small window", Drift{Window: 10}, true, ""},
		{"min samples above window", Drift{Window: 10, MinSamples: 11}, false, "monitoring.drift.min_samples"},
		{"alert below warn", Drift{Warn: .3, Alert: .2}, false, "monitoring.drift.alert"},
		{"negative warn", Drift{Warn: -1}, false, "monitoring.drift.warn"},
		{"NaN warn", Drift{Warn: math.NaN()}, false, "monitoring.drift.warn"},
		{"huge epsilon", Drift{Epsilon: .5}, false, "monitoring.drift.epsilon"},
		{"negative bootstrap", Drift{Bootstrap: -1}, false, "monitoring.drift.bootstrap"},
		{"min feedback above window", Drift{FeedbackWindow: 10, MinFeedback: 20}, false, "monitoring.drift.min_feedback"},
		{"tolerance above one", Drift{Tolerance: 2}, false, "monitoring.drift.tolerance"},
		{"NaN tolerance", Drift{Tolerance: math.NaN()}, false, "monitoring.drift.tolerance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.WithDefaults().Validate()
			if (err == nil) != tt.ok || (err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantKey))) {
				t.Errorf("Validate = %v, want ok=%v naming %q", err, tt.ok, tt.wantKey)
			}
		})
	}
	// The file's defaults leave the derived fields 0 and pass as given.
	if err := Default().Monitoring.Validate(); err != nil {
		t.Errorf("Default().Monitoring.Validate: %v", err)
	}
	// Given as such, a zero window is refused, a zero min_samples is not.
	if err := (Drift{}).Validate(); err == nil || !strings.Contains(err.Error(), "monitoring.drift.window") ||
		strings.Contains(err.Error(), "min_samples") || strings.Contains(err.Error(), "min_feedback") {
		t.Errorf("zero Drift as given: %v", err)
	}
	got := Drift{Window: 10, FeedbackWindow: 20}.WithDefaults()
	want := Drift{Window: 10, MinSamples: 5, Bootstrap: 1000, Warn: .1, Alert: .25, Epsilon: 1e-4,
		FeedbackWindow: 20, MinFeedback: 20, Tolerance: .05}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

// TestMonitoringWithDefaults: the monitoring block as the monitor runs it;
// its own fields and the drift block's are filled where zero, set ones kept.
func TestMonitoringWithDefaults(t *testing.T) {
	got := Monitoring{Enabled: true, Port: 1, Pending: 10, Drift: Drift{Window: 500, Tolerance: .1}}.WithDefaults()
	want := Monitoring{Enabled: true, Port: 1, Pending: 10, PendingTTL: Duration(time.Hour),
		Drift: Drift{Window: 500, MinSamples: 250, Bootstrap: 1000, Warn: .1, Alert: .25, Epsilon: 1e-4,
			FeedbackWindow: 200, MinFeedback: 50, Tolerance: .1},
		Fleet: Fleet{Window: Duration(10 * time.Minute), Flush: Duration(time.Second), Queue: 65536}}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
	if got := (Monitoring{}).WithDefaults(); got.Pending != 100_000 || got.Validate() != nil {
		t.Errorf("zero Monitoring: %+v, %v", got, got.Validate())
	}
	for name, m := range map[string]Monitoring{"pending -1": {Pending: -1}, "negative ttl": {PendingTTL: -1}} {
		if err := m.WithDefaults().Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUIConfig(t *testing.T) {
	c := Default()
	if !c.UI.Enabled || time.Duration(c.UI.Refresh) != 2*time.Second || time.Duration(c.UI.Resolution) != 10*time.Second {
		t.Errorf("ui defaults: %+v", c.UI)
	}
	cases := []struct {
		name string
		ui   UI
		bad  string
	}{
		{"defaults", defaultUI, ""},
		{"refresh too fast", UI{Refresh: Duration(time.Millisecond), Resolution: defaultUIRes}, "ui.refresh"},
		{"resolution zero", UI{Refresh: defaultUIRefresh}, "ui.resolution"},
		{"resolution past 5m", UI{Refresh: defaultUIRefresh, Resolution: Duration(time.Hour)}, "ui.resolution"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.ui.Validate()
			if c.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("error %v, want one naming %s", err, c.bad)
			}
		})
	}
	got, err := load("", func(k string) (string, bool) {
		v, ok := map[string]string{"MLSERVE_UI_ENABLED": "false", "MLSERVE_UI_RESOLUTION": "30s"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.UI.Enabled || time.Duration(got.UI.Resolution) != 30*time.Second {
		t.Errorf("environment overrides: %+v", got.UI)
	}
}
