package onnx

import (
	"errors"
	"fmt"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mlserve/mlserve/internal/model"
)

// ErrRuntimeMissing means ONNX Runtime could not be loaded: the shared
// library is not where the configuration (or the default search) says, or
// it is not a usable ONNX Runtime. The error that wraps it lists what was
// tried and says how to install it.
// It matches model.ErrUnsupported too: a server without ONNX Runtime cannot
// serve ONNX models, and says so (HTTP 422 with the message, not a 500).
var ErrRuntimeMissing error = runtimeMissing{}

type runtimeMissing struct{}

func (runtimeMissing) Error() string { return "ONNX Runtime not found" }
func (runtimeMissing) Unwrap() error { return model.ErrUnsupported }

// DefaultLibrary is where scripts/setup-onnxruntime.sh installs ONNX
// Runtime, relative to the working directory; it is tried first when no
// library path is configured, then SystemLibrary through the system loader.
const DefaultLibrary = ".cache/onnxruntime/libonnxruntime.so"

// SystemLibrary is the file name the system loader (ld.so: LD_LIBRARY_PATH,
// the ldconfig cache) is asked for when DefaultLibrary is absent.
const SystemLibrary = "libonnxruntime.so"

// Options say where ONNX Runtime is and how its sessions run. The zero value
// searches the default places and runs on the CPU with ONNX Runtime's
// default threads.
type Options struct {
	// LibraryPath is the ONNX Runtime shared library (version 1.24 or
	// later); empty means DefaultLibrary, then SystemLibrary.
	LibraryPath string
	// IntraOpThreads bounds the threads one run uses; 0 is ONNX Runtime's
	// default (one per physical core).
	IntraOpThreads int
	// ExecutionProvider is "cpu" (or empty) or "cuda": the CUDA provider
	// when the library has it and a GPU is present, else a warning and the
	// CPU.
	ExecutionProvider string
	// Log receives warnings (a CUDA fallback); nil means slog.Default().
	Log *slog.Logger
	// Classifier are the limits of loading a two-stage model's
	// scikit-learn classifier (limits.max_model_bytes and
	// limits.model_bytes_per_file_byte).
	Classifier sklearn.Options
}

func (o Options) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

// runtime is the process's ONNX Runtime environment: ONNX Runtime allows one
// per process, so it is shared by every model and set up by the first load.
var runtime struct {
	mu   sync.Mutex
	path string // the library in use; "" until initialised
}

// ensureRuntime loads ONNX Runtime on first use. A failure leaves nothing
// behind, so a later load retries (after the operator installs the library).
// Once loaded, the library stays for the life of the process; a later
// LibraryPath that names another file is ignored with a warning.
func ensureRuntime(o Options) error {
	runtime.mu.Lock()
	defer runtime.mu.Unlock()
	if runtime.path != "" {
		if o.LibraryPath != "" && o.LibraryPath != runtime.path {
			o.log().Warn("ONNX Runtime already loaded; library_path ignored", "loaded", runtime.path, "library_path", o.LibraryPath)
		}
		return nil
	}
	var tried []string
	for _, c := range candidates(o.LibraryPath) {
		if c.mustExist {
			if _, err := os.Stat(c.path); err != nil {
				tried = append(tried, fmt.Sprintf("%s: %s", c.path, statReason(err)))
				continue
			}
		}
		ort.SetSharedLibraryPath(c.path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %s", c.path, strings.TrimPrefix(initReason(err), c.path+": ")))
			continue
		}
		runtime.path = c.path
		tuneMalloc()
		return nil
	}
	return fmt.Errorf("%w (tried %s): run scripts/setup-onnxruntime.sh or set onnx.library_path",
		ErrRuntimeMissing, strings.Join(tried, "; "))
}

// RuntimeLoaded reports the ONNX Runtime library in use and its version, or
// ok false when no ONNX model has loaded it yet.
func RuntimeLoaded() (path, version string, ok bool) {
	runtime.mu.Lock()
	defer runtime.mu.Unlock()
	if runtime.path == "" {
		return "", "", false
	}
	return runtime.path, ort.GetVersion(), true
}

type candidate struct {
	path      string
	mustExist bool // a file path (checked first), not a name for the system loader
}

// candidates lists the libraries to try, in order.
func candidates(configured string) []candidate {
	if configured != "" {
		return []candidate{{path: configured, mustExist: strings.ContainsRune(configured, '/')}}
	}
	def := DefaultLibrary
	if abs, err := filepath.Abs(def); err == nil {
		def = abs
	}
	return []candidate{{path: def, mustExist: true}, {path: SystemLibrary}}
}

func statReason(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "no such file"
	}
	return err.Error()
}

// initReason shortens onnxruntime_go's initialisation error to its cause.
func initReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "\": "); i >= 0 && strings.Contains(s, "Error loading ONNX shared library") {
		s = s[i+3:]
	}
	s = strings.TrimPrefix(s, "Platform-specific initialization failed: ")
	if strings.Contains(s, "Error setting ORT API base") {
		s = "too old: onnxruntime_go " + bindingVersion + " needs ONNX Runtime 1.24 or later (" + s + ")"
	}
	return s
}

// bindingVersion is the onnxruntime_go release mlserve is built with.
const bindingVersion = "v1.27.0"

// sessionOptions builds the options every session of o is created with,
// and names the execution provider they select (cpu when CUDA was asked
// for but is not available). The caller destroys them.
func sessionOptions(o Options) (*ort.SessionOptions, string, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, "", err
	}
	fail := func(what string, err error) (*ort.SessionOptions, string, error) {
		so.Destroy()
		return nil, "", fmt.Errorf("session options: %s: %w", what, err)
	}
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail("intra_op_threads", err)
		}
	}
	// Idle intra-op threads sleep instead of spinning: the server's other
	// goroutines (HTTP, tokenizing the next batch) need the cores, and a
	// spinning pool per concurrent run starves them.
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return fail("allow_spinning", err)
	}
	// Runs are sequential inside one request; parallelism comes from the
	// intra-op threads and from concurrent requests.
	if err := so.SetInterOpNumThreads(1); err != nil {
		return fail("inter_op_threads", err)
	}
	// The CPU arena keeps the peak of every batch shape it has seen; with
	// dynamic batch and sequence sizes that is most of a server's memory,
	// so buffers go back to malloc after each run.
	if err := so.SetCpuMemArena(false); err != nil {
		return fail("cpu_mem_arena", err)
	}
	if err := so.SetMemPattern(false); err != nil {
		return fail("mem_pattern", err)
	}
	provider := "cpu"
	switch strings.ToLower(o.ExecutionProvider) {
	case "", "cpu":
	case "cuda":
		if err := appendCUDA(so); err != nil {
			o.log().Warn("CUDA execution provider unavailable; running on the CPU", "error", err)
		} else {
			provider = "cuda"
		}
	default:
		return fail("execution_provider", fmt.Errorf("%q is not cpu or cuda", o.ExecutionProvider))
	}
	return so, provider, nil
}

func appendCUDA(so *ort.SessionOptions) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	return so.AppendExecutionProviderCUDA(co)
}
