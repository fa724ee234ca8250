package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mlserve/mlserve/internal/preprocess"
	"github.com/mlserve/mlserve/internal/tracing"
)

// Loader builds a Model from a version folder. Backends (sklearn, onnx)
// implement it; the registry picks one by framework name.
type Loader interface {
	// Load reads the artifact in dir (named by m.Artifact) and returns a
	// ready model. m is never nil.
	Load(ctx context.Context, dir string, m *Manifest) (Model, error)
}

// Cleaner rewrites a text before the model sees it (the manifest's
// preprocessing steps). Implementations are safe for concurrent use.
type Cleaner interface {
	Clean(text string) string
}

// Options tune a Registry.
type Options struct {
	// DefaultModel is the configured default_model: a name ("sentiment") or
	// a full id ("sentiment-v2"). Its name is the model a request without
	// model_version gets; a full id also sets that name's initial default
	// version, used until an admin sets another.
	DefaultModel string
	// KeepLoaded is how many versions of each name stay loaded: the name's
	// default plus the newest others (default 2).
	KeepLoaded int
	// PollInterval is how often the repository is rescanned; 0 disables.
	PollInterval time.Duration
	// DrainTimeout bounds how long a retired version waits for in-flight
	// requests before it is closed anyway (default 30s).
	DrainTimeout time.Duration
	// WarmupTexts are predicted once before a version serves when its
	// manifest has no warmup list; nil means a built-in set.
	WarmupTexts []string
	// LoadTimeout bounds loading and warming one version (limits.load_timeout,
	// default 2m); past it the version fails to load and is not served.
	LoadTimeout time.Duration
	// Subscribers are told each step of every version's life (Loaded,
	// DefaultChanged, Retiring, Retired, LoadFailed): they are fixed at
	// construction, so none misses the start-up loads. Delivery is
	// synchronous and in order, one event at a time to each subscriber in
	// turn, and never under a lock of the registry: a subscriber may call
	// List, Get or Resolve, and even an admin method (its events follow
	// once the current ones are delivered). An admin call returns once its
	// events are delivered, unless another goroutine was delivering, which
	// then delivers them too. A subscriber that panics is logged and
	// skipped; a slow one delays only later events and the admin call that
	// delivers them, never routing or the other admin calls. Close tells
	// nothing: after it starts, no event is delivered.
	Subscribers []Subscriber
}

// ErrNotReady: the version is on its way (in the repository, loading or
// warming up, or the registry has not read the repository yet); ask again
// shortly (HTTP 503 with Retry-After). Unlike ErrNotLoaded it does not wrap
// ErrNotFound.
var ErrNotReady = errors.New("model version not ready")

// RetryAfter is how long a client is told to wait before asking again for a
// version that is not ready.
const RetryAfter = time.Second

// defaultWarmup is the built-in warm-up set.
var defaultWarmup = []string{
	"This is great, I love it!",
	"Terrible service, never again.",
	"The package arrived on Tuesday.",
	"",
	"FREE money!!! Click http://example.com now to claim your prize",
}

// State names of a version.
const (
	StateLoading  = "loading"
	StateReady    = "ready"
	StateFailed   = "failed"
	StateDraining = "draining"
	StateUnloaded = "unloaded"
)

// Status describes one known version.
type Status struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	Version      string        `json:"version"`
	State        string        `json:"state"`
	Default      bool          `json:"default"`
	LoadedAt     time.Time     `json:"loaded_at,omitzero"`
	LoadDuration time.Duration `json:"load_duration,omitempty"`
	Error        string        `json:"error,omitempty"`
	Info         *Info         `json:"info,omitempty"`
	Manifest     *Manifest     `json:"manifest,omitempty"`
	// Warnings are manifest keys that were ignored and similar non-fatal notes.
	Warnings []string `json:"warnings,omitempty"`
	Requests int64    `json:"requests"`
	Errors   int64    `json:"errors"`
	// InFlight is the number of requests holding this version now.
	InFlight int64 `json:"in_flight"`
	// Certificate is the parity certificate's status (nil while loading).
	Certificate *Certificate `json:"certificate,omitempty"`
}

// Handle is a loaded version held for the length of one request: the model
// is not closed before Release, even if the version is swapped out or
// unloaded meanwhile (up to Options.DrainTimeout).
type Handle struct {
	// ID, Name and Version identify the resolved version ("sentiment-v2").
	ID, Name, Version string
	// Model is the loaded model (with the manifest's preprocessing applied).
	Model Model
	// Manifest is the version's manifest (empty when it has none).
	Manifest *Manifest
	e        *entry
	release  func() // NewHandle's
	once     sync.Once
}

// NewHandle returns a handle on m that no Registry holds, for other
// sources of models (a fixed model in a benchmark, a test's registry):
// Release calls release once (nil: nothing). Name and Version are split
// from id when it is a model id.
func NewHandle(id string, m Model, man *Manifest, release func()) *Handle {
	h := &Handle{ID: id, Model: m, Manifest: man, release: release}
	if name, version, err := SplitID(id); err == nil {
		h.Name, h.Version = name, version
	}
	return h
}

// Release gives the handle back. It is safe to call more than once.
func (h *Handle) Release() {
	switch {
	case h == nil:
	case h.e != nil:
		h.once.Do(h.e.release)
	case h.release != nil:
		h.once.Do(h.release)
	}
}

// Fail counts a failed request against the version.
func (h *Handle) Fail() {
	if h != nil && h.e != nil {
		h.e.errors.Add(1)
	}
}

// entry is one version known to the registry.
type entry struct {
	r             *Registry
	name, version string
	n             int
	ver           Version
	manifest      *Manifest
	warnings      []string
	model         Model

	mu       sync.Mutex
	state    string
	err      string
	loadedAt time.Time
	loadDur  time.Duration
	refs     int64
	retired  bool
	closed   bool
	drained  chan struct{}

	requests, errors atomic.Int64
}

func (e *entry) id() string { return ID(e.name, e.version) }

// acquire takes a reference unless the entry was retired, and returns its model.
func (e *entry) acquire() (Model, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.retired || e.model == nil {
		return nil, false
	}
	e.refs++
	return e.model, true
}

func (e *entry) release() {
	e.mu.Lock()
	e.refs--
	last := e.retired && e.refs == 0
	e.mu.Unlock()
	if last {
		e.close()
		e.r.flush() // Retired
	}
}

func (e *entry) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.state = StateUnloaded
	m := e.model
	e.model = nil
	close(e.drained)
	e.mu.Unlock()
	if m != nil {
		m.Close()
		e.r.emit(e.event(Retired))
	}
}

// table is an immutable routing snapshot.
type table struct {
	byID     map[string]*entry // ready versions
	defaults map[string]*entry // name → its default version
}

// Registry holds the loaded model versions and routes requests to them.
// Resolve is lock-free; admin operations (install, unload, set default,
// polling) are serialised.
type Registry struct {
	repo    *Repository
	loaders map[string]Loader
	opts    Options
	log     *slog.Logger

	route atomic.Pointer[table]

	admin   sync.Mutex // serialises changes
	mu      sync.Mutex // guards entries, state, seen
	entries map[string]*entry
	state   State
	// stateRaw is the state file's content as last read or written, so a
	// poll adopts the file only when it changed (a read-only repository's
	// in-memory changes hold until then).
	stateRaw string
	// stateWarn is the last unreadable-state error logged (guarded by mu).
	stateWarn string
	seen      map[string]string // id → stamp of the last load attempt (or first sighting)
	pending   map[string]string // id → stamp first seen by the poller, not yet loaded

	reserved map[string]bool // ids an Install is writing and loading (guarded by mu)
	warned   map[string]bool // repository problems already logged (guarded by admin)
	started  atomic.Bool     // the start-up scan has registered the repository's versions
	booted   atomic.Bool     // the start-up scan has loaded them

	defaultName, defaultVersion string

	stop    context.CancelFunc
	pollers sync.WaitGroup
	loads   sync.WaitGroup // loads in flight, abandoned ones (past their timeout) included
	// building counts the loaders running; the last to finish returns Go's
	// free heap to the kernel (releaseAfterLoads).
	building atomic.Int32
	closing  chan struct{} // closed by Close: cancels the loads in flight
	closed   atomic.Bool

	evMu       sync.Mutex // guards outbox, delivering
	outbox     []Event    // events not yet delivered, oldest first
	delivering bool       // a goroutine is in flush's loop
}

// newEntry returns the entry of version v in state.
func (r *Registry) newEntry(v Version, state string) *entry {
	return &entry{r: r, name: v.Name, version: v.Version, n: v.N, ver: v, state: state, drained: make(chan struct{})}
}

// NewRegistry returns a registry over repo using loaders keyed by framework
// name ("sklearn", "onnx"). Call Start to load the repository.
func NewRegistry(repo *Repository, loaders map[string]Loader, opts Options, log *slog.Logger) *Registry {
	if opts.KeepLoaded < 1 {
		opts.KeepLoaded = 2
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	if opts.WarmupTexts == nil {
		opts.WarmupTexts = defaultWarmup
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 2 * time.Minute
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{repo: repo, loaders: loaders, opts: opts, log: log.With("component", "registry"),
		entries: map[string]*entry{}, seen: map[string]string{}, pending: map[string]string{},
		reserved: map[string]bool{}, warned: map[string]bool{}, closing: make(chan struct{}),
		state: State{Defaults: map[string]string{}}}
	r.defaultName = opts.DefaultModel
	if name, version, err := SplitID(opts.DefaultModel); err == nil {
		r.defaultName, r.defaultVersion = name, version
	}
	r.route.Store(&table{byID: map[string]*entry{}, defaults: map[string]*entry{}})
	return r
}

// Start restores the persisted state, removes what a killed process left
// behind (staged uploads), registers every version of the repository, then
// loads those the version policy keeps (skipping those an admin unloaded),
// then polls the repository every Options.PollInterval until Close. While a
// version loads, requests for it get ErrNotReady, not ErrNotFound. Versions
// that fail to load are reported by List; Start returns an error only when
// the repository or its state cannot be read.
func (r *Registry) Start(ctx context.Context) error {
	st, raw, err := r.repo.readState()
	if err != nil {
		r.started.Store(true)
		r.booted.Store(true)
		return err
	}
	r.mu.Lock()
	r.state, r.stateRaw = st, raw
	r.mu.Unlock()
	removed, err := r.repo.CleanStale()
	for _, name := range removed {
		r.log.Warn("removed a stale temporary folder (an upload or removal that did not finish)", "path", name)
	}
	if err != nil {
		r.log.Error("removing stale temporary folders", "err", err)
	}
	err = r.scan(ctx, true)
	r.booted.Store(true)
	if err != nil {
		return err
	}
	r.admin.Lock()
	r.publish() // the defaults held back while they loaded
	r.admin.Unlock()
	r.flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil
	}
	pctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	if r.opts.PollInterval > 0 {
		r.pollers.Add(1)
		go r.poll(pctx)
	}
	return nil
}

func (r *Registry) poll(ctx context.Context) {
	defer r.pollers.Done()
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.scan(ctx, false); err != nil {
				r.log.Warn("repository poll", "err", err)
			}
		}
	}
}

// Poll rescans the repository once, as the poller does: a new version folder
// is loaded once it looks the same on two consecutive scans (so a folder
// still being copied is not half-loaded), and a failed version is retried
// only after its files change.
func (r *Registry) Poll(ctx context.Context) error {
	return r.scan(ctx, false)
}

// scan loads what the repository holds and the registry does not. At start
// every version is considered stable. The versions to load are registered
// as loading under r.admin, then loaded without it (so admin calls and
// request routing do not wait on a slow load), each published as soon as it
// is warm.
func (r *Registry) scan(ctx context.Context, start bool) error {
	r.admin.Lock()
	todo, err := r.plan(start)
	if start {
		r.started.Store(true)
	}
	r.admin.Unlock()
	if err != nil {
		return err
	}
	for _, e := range todo {
		if ctx.Err() != nil || r.closed.Load() {
			r.abandon(e, errors.New("registry stopped before the version loaded"))
			continue
		}
		m, err := r.loadModel(ctx, e)
		r.admin.Lock()
		if err := r.finish(e, m, err); err != nil {
			r.log.Error("load failed", "id", e.id(), "err", err)
		}
		r.admin.Unlock()
		r.flush() // Loaded is told before the version routes
		r.admin.Lock()
		r.publish()
		r.admin.Unlock()
		r.flush()
	}
	// Stopping (shutdown during start-up) is not a failure to read the repository.
	return nil
}

// abandon marks a registered version failed without loading it.
func (r *Registry) abandon(e *entry, err error) {
	e.mu.Lock()
	if e.state == StateLoading {
		e.state, e.err = StateFailed, err.Error()
	}
	e.mu.Unlock()
}

// plan reads the repository and registers as loading the versions to load
// now. Caller holds r.admin.
func (r *Registry) plan(start bool) ([]*entry, error) {
	var todo []*entry
	if !start {
		todo = r.follow()
	}
	vs, errs := r.repo.Scan()
	r.logProblems(errs)
	if vs == nil && len(errs) > 0 && start {
		if _, err := os.Stat(r.repo.Dir()); err != nil {
			return nil, errs[0]
		}
	}
	r.mu.Lock()
	unloaded := slices.Clone(r.state.Unloaded)
	defaults := make(map[string]string, len(r.state.Defaults))
	for k, v := range r.state.Defaults {
		defaults[k] = v
	}
	r.mu.Unlock()

	byName := map[string][]Version{}
	for _, v := range vs {
		id := v.ID()
		r.mu.Lock()
		prev, seen := r.seen[id]
		e := r.entries[id]
		first, pend := r.pending[id]
		r.mu.Unlock()
		switch {
		case seen && prev == v.Stamp:
			continue // loaded, evicted or failed on these very files
		case seen && (e == nil || e.getState() != StateFailed):
			continue // known and not failed: a change in place is not a new version
		case slices.Contains(unloaded, id):
			continue
		}
		if !start && !v.Whole && (!pend || first != v.Stamp) {
			// first sighting (or still changing): wait for one more scan
			r.mu.Lock()
			r.pending[id] = v.Stamp
			r.mu.Unlock()
			continue
		}
		byName[v.Name] = append(byName[v.Name], v)
	}
	// Load per name only what the version policy keeps: the default and the newest.
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, list := range byName {
		keep := r.keepFor(name)
		slices.SortFunc(list, func(a, b Version) int { return b.N - a.N })
		want := defaults[name]
		if want == "" && name == r.defaultName {
			want = r.defaultVersion
		}
		for i, v := range list {
			state := StateUnloaded
			if i < keep || v.Version == want {
				state = StateLoading
			}
			e := r.newEntry(v, state)
			r.entries[v.ID()] = e
			r.seen[v.ID()] = v.Stamp
			delete(r.pending, v.ID())
			if state == StateLoading {
				todo = append(todo, e)
			}
		}
	}
	slices.SortFunc(todo, func(a, b *entry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.n - b.n
	})
	return todo, nil
}

// logProblems logs each repository problem once, until it goes away: a
// hostile or broken folder dropped into models_dir costs one line, not one
// per poll.
func (r *Registry) logProblems(errs []error) {
	now := make(map[string]bool, len(errs))
	for _, err := range errs {
		msg := err.Error()
		now[msg] = true
		if !r.warned[msg] {
			r.log.Warn("repository", "err", err)
		}
	}
	r.warned = now
}

func (e *entry) getState() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// register adds a version about to load to the entries, as loading: from
// now on a request for it gets ErrNotReady. Caller holds r.admin.
func (r *Registry) register(v Version) *entry {
	e := r.newEntry(v, StateLoading)
	r.mu.Lock()
	r.entries[v.ID()] = e
	r.seen[v.ID()] = v.Stamp
	delete(r.pending, v.ID())
	r.mu.Unlock()
	return e
}

// finish records the outcome of e's load: ready with m, or failed with err,
// and queues Loaded or LoadFailed. A version unloaded (or a registry closed)
// while it loaded does not become ready: its model is closed. Caller holds
// r.admin.
func (r *Registry) finish(e *entry, m Model, err error) error {
	if err != nil {
		r.emit(Event{Kind: LoadFailed, ID: e.id(), Name: e.name, Version: e.version, LoadDuration: e.getLoadDur(), Err: err})
	}
	e.mu.Lock()
	if err == nil && (e.state != StateLoading || r.closed.Load()) {
		err = fmt.Errorf("%w: %s was unloaded while it loaded", ErrNotLoaded, e.id())
	}
	if err != nil {
		if e.state == StateLoading {
			e.state = StateFailed
		}
		e.err = err.Error()
		e.mu.Unlock()
		if m != nil {
			m.Close()
		}
		return err
	}
	e.model, e.state, e.loadedAt, e.err = m, StateReady, time.Now(), ""
	dur := e.loadDur
	e.mu.Unlock()
	r.log.Info("loaded", "id", e.id(), "duration", dur)
	r.emit(e.event(Loaded))
	return nil
}

func (e *entry) getLoadDur() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loadDur
}

// loadModel loads and warms e's version under the load budget: ctx, cut
// short by Options.LoadTimeout and by Close. It does not hold r.admin. A
// loader that ignores its context is abandoned when the budget runs out (its
// model, if it ever comes, is closed), and a loader that panics is a failed
// load, not a dead server.
func (r *Registry) loadModel(ctx context.Context, e *entry) (_ Model, err error) {
	// Traced under an admin request's span (no span for repository polls).
	ctx, span := tracing.Child(ctx, "model.load", trace.WithAttributes(
		tracing.ModelKey.String(e.ver.Name), tracing.VersionKey.String(e.ver.Version)))
	defer func() {
		tracing.Fail(span, err)
		span.End()
	}()
	ctx, cancel := context.WithTimeout(ctx, r.opts.LoadTimeout)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-r.closing:
			cancel()
		case <-stop:
		}
	}()
	type result struct {
		m        Model
		man      *Manifest
		warnings []string
		err      error
	}
	done := make(chan result, 1)
	v := e.ver
	start := time.Now()
	r.loads.Add(1)
	r.building.Add(1)
	go func() {
		defer r.loads.Done()
		var res result
		defer func() { done <- res }()
		defer r.releaseAfterLoads() // before the result: a load returns with its garbage given back
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("loader panicked", "id", v.ID(), "panic", p, "stack", string(debug.Stack()))
				res = result{err: fmt.Errorf("%s: %w: the loader failed unexpectedly (%s)", v.ID(), ErrInvalid, short(fmt.Sprint(p)))}
			}
		}()
		res.m, res.man, res.warnings, res.err = r.build(ctx, v)
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		go func() {
			if late := <-done; late.m != nil {
				late.m.Close()
			}
		}()
		res.err = fmt.Errorf("%s: %w", v.ID(), ctx.Err())
	}
	if res.err == nil && ctx.Err() != nil {
		res.m.Close()
		res.m, res.err = nil, fmt.Errorf("%s: %w", v.ID(), ctx.Err())
	}
	if errors.Is(res.err, context.DeadlineExceeded) && ctx.Err() == context.DeadlineExceeded {
		res.err = fmt.Errorf("%w (load and warm-up took longer than limits.load_timeout, %s)", res.err, r.opts.LoadTimeout)
	}
	select {
	case <-r.closing:
		if res.err == nil {
			res.m.Close()
			res.m, res.err = nil, fmt.Errorf("%s: %w: registry closed", v.ID(), ErrNotLoaded)
		}
	default:
	}
	e.mu.Lock()
	e.loadDur = time.Since(start)
	if res.man != nil {
		e.manifest, e.warnings = res.man, res.warnings
	}
	e.mu.Unlock()
	return res.m, res.err
}

// releaseAfterLoads runs when a loader returns: when it was the last one
// running, it returns Go's free heap to the kernel. Parsing a pickle or a
// tokenizer.json leaves several times the model's size as garbage, which a
// server that loads its models and then idles would keep resident until
// the scavenger got to it (a scikit-learn-only sample server had 33.5 MB of
// heap in use for about 20 MB live). It runs once per burst of loads (the
// start-up scan loads versions side by side), never on the request path;
// the forced collection costs a few milliseconds.
func (r *Registry) releaseAfterLoads() {
	if r.building.Add(-1) == 0 {
		debug.FreeOSMemory()
	}
}

// short caps a panic's text for an error message (the log has it whole).
func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// build loads and warms v. It does not touch the registry's entries.
func (r *Registry) build(ctx context.Context, v Version) (m Model, man *Manifest, warnings []string, err error) {
	man = &Manifest{}
	if v.Manifest != nil {
		if man, warnings, err = ParseManifest(v.Manifest); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", v.ID(), err)
		}
		for _, w := range warnings {
			r.log.Warn("manifest", "id", v.ID(), "warning", w)
		}
	}
	if man.Artifact == "" {
		man.Artifact = v.Artifact
	}
	if _, err := ResolvePath(v.Dir, "artifact", man.Artifact); err != nil {
		return nil, man, warnings, fmt.Errorf("%s: %w", v.ID(), err)
	}
	fw := man.Framework
	if fw == "" {
		fw = FrameworkOf(v.Artifact)
	}
	loader := r.loaders[fw]
	if loader == nil {
		return nil, man, warnings, fmt.Errorf("%s: %w: no loader for framework %q", v.ID(), ErrUnsupported, fw)
	}
	var cleaner Cleaner
	if len(man.Preprocessing) > 0 {
		c, err := preprocess.NewCleaner(man.Preprocessing)
		if err != nil {
			return nil, man, warnings, fmt.Errorf("%s: %w: %w", v.ID(), ErrInvalid, err)
		}
		cleaner = c
	}
	m, err = loader.Load(ctx, v.Dir, man)
	if err != nil {
		return nil, man, warnings, fmt.Errorf("%s: %w", v.ID(), err)
	}
	if cleaner != nil {
		m = &cleaned{Model: m, c: cleaner}
	}
	if err := r.warm(ctx, m, man); err != nil {
		return nil, man, warnings, fmt.Errorf("%s: warm-up: %w", v.ID(), err)
	}
	if err := r.certify(ctx, m, man); err != nil {
		return nil, man, warnings, fmt.Errorf("%s: %w", v.ID(), err)
	}
	return m, man, warnings, nil
}

// warm predicts the warm-up texts once; m is closed when that fails (or panics).
func (r *Registry) warm(ctx context.Context, m Model, man *Manifest) (err error) {
	warm := man.Warmup
	if len(warm) == 0 {
		warm = r.opts.WarmupTexts
	}
	if len(warm) == 0 {
		return nil
	}
	ctx, span := tracing.Child(ctx, "model.warmup", trace.WithAttributes(tracing.BatchSizeKey.Int(len(warm))))
	ok := false
	defer func() {
		tracing.Fail(span, err)
		span.End()
		if !ok {
			m.Close()
		}
	}()
	preds, err := m.Predict(ctx, warm)
	if err == nil && len(preds) != len(warm) {
		err = fmt.Errorf("%w: %d predictions for %d texts", ErrInvalid, len(preds), len(warm))
	}
	ok = err == nil
	return err
}

// cleaned applies a manifest's preprocessing before the model.
type cleaned struct {
	Model
	c Cleaner
}

func (m *cleaned) Predict(ctx context.Context, texts []string) ([]Prediction, error) {
	out := make([]string, len(texts))
	for i, t := range texts {
		out[i] = m.c.Clean(t)
	}
	return m.Model.Predict(ctx, out)
}

// Unwrap splits a model handed out by the registry into its manifest
// preprocessing and the model that takes preprocessed text. Callers that key
// on the cleaned text (the prediction cache) clean once with clean and predict
// with inner; clean is nil when the manifest declares no steps.
func Unwrap(m Model) (clean func(string) string, inner Model) {
	if c, ok := m.(*cleaned); ok {
		return c.c.Clean, c.Model
	}
	return nil, m
}

// WithCleaner wraps m so every text passes through c before m sees it.
func WithCleaner(m Model, c Cleaner) Model {
	if c == nil {
		return m
	}
	return &cleaned{Model: m, c: c}
}

// publish recomputes the routing table from the entries, applies the version
// policy (retiring versions it no longer keeps) and stores the new table in
// one atomic step. Caller holds r.admin.
func (r *Registry) publish() {
	if r.closed.Load() {
		return // Close has taken every version out of service
	}
	old := r.route.Load()
	r.mu.Lock()
	byName := map[string][]*entry{}
	for _, e := range r.entries {
		if e.getState() == StateReady {
			byName[e.name] = append(byName[e.name], e)
		}
	}
	t := &table{byID: map[string]*entry{}, defaults: map[string]*entry{}}
	var retire []*entry
	for name, list := range byName {
		slices.SortFunc(list, func(a, b *entry) int { return b.n - a.n })
		def := newestNotCandidate(list)
		want := r.state.Defaults[name]
		if want == "" && name == r.defaultName {
			want = r.defaultVersion
		}
		if !r.booted.Load() && r.defaultLoading(name, want, def) {
			// Start-up: the name's default is still loading. Its loaded
			// versions serve by id; the name answers "not ready" rather
			// than route to a version that is not its default.
			for _, e := range list {
				t.byID[e.id()] = e
			}
			continue
		}
		for _, e := range list {
			if e.version == want {
				def = e
			}
		}
		t.defaults[name] = def
		t.byID[def.id()] = def
		kept := 1
		for _, e := range list {
			if e == def {
				continue
			}
			if kept < r.keepFor(name) {
				t.byID[e.id()] = e
				kept++
			} else {
				retire = append(retire, e)
			}
		}
	}
	r.route.Store(t)
	r.mu.Unlock()
	names := make([]string, 0, len(t.defaults))
	for name, def := range t.defaults {
		if old.defaults[name] != def {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ev := t.defaults[name].event(DefaultChanged)
		if prev := old.defaults[name]; prev != nil {
			ev.Previous = prev.id()
		}
		r.emit(ev)
	}
	for _, e := range retire {
		r.retire(e)
	}
}

// defaultLoading reports whether name's default is loading: the chosen
// version want, or with none chosen a version newer than the newest ready
// one. Caller holds r.mu.
func (r *Registry) defaultLoading(name, want string, newestReady *entry) bool {
	for _, e := range r.entries {
		if e.name != name || e.getState() != StateLoading {
			continue
		}
		if (want != "" && e.version == want) || (want == "" && e.n > newestReady.n) {
			return true
		}
	}
	return false
}

// retire removes e from service: it must already be out of the routing
// table. It is closed when its last request releases it, or after the drain
// timeout.
func (r *Registry) retire(e *entry) {
	e.mu.Lock()
	if e.retired {
		e.mu.Unlock()
		return
	}
	e.retired = true
	e.state = StateDraining
	idle := e.refs == 0
	e.mu.Unlock()
	r.log.Info("unloading", "id", e.id())
	r.emit(e.event(Retiring))
	if idle {
		e.close()
		return
	}
	go func() {
		t := time.NewTimer(r.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-e.drained:
		case <-t.C:
			r.log.Warn("drain timeout: closing with requests in flight", "id", e.id())
			e.close()
			r.flush() // Retired
		}
	}()
}

// Resolve finds the version a request's model_version names and holds it
// until Handle.Release: "" is the configured default model's name at its
// default version; "name-vN" is that version; "name" is that name's default
// version; "vN" is version N of the default model's name.
func (r *Registry) Resolve(modelVersion string) (*Handle, error) {
	for {
		t := r.route.Load()
		e, err := r.lookup(t, modelVersion)
		if err != nil {
			if errors.Is(err, ErrNotFound) && r.route.Load() != t {
				// A version was published while t was read: ask the new table.
				continue
			}
			return nil, err
		}
		m, ok := e.acquire()
		if !ok {
			if r.closed.Load() {
				return nil, fmt.Errorf("%w: registry closed", ErrNotLoaded)
			}
			continue // retired between the snapshot and now: the next snapshot no longer has it
		}
		e.requests.Add(1)
		return &Handle{ID: e.id(), Name: e.name, Version: e.version, Model: m, Manifest: e.manifest, e: e}, nil
	}
}

func (r *Registry) lookup(t *table, ref string) (*entry, error) {
	switch {
	case ref == "":
		if r.defaultName == "" {
			// With no default_model configured, a repository holding a single
			// model name serves it; with several, a request must name one.
			if len(t.defaults) == 1 {
				for _, e := range t.defaults {
					return e, nil
				}
			}
			if len(t.defaults) == 0 {
				if err := r.onItsWay(""); err != nil {
					return nil, err
				}
			}
			return nil, fmt.Errorf("%w: no model_version given and no default_model configured (%d models loaded: name one)", ErrNotFound, len(t.defaults))
		}
		if e := t.defaults[r.defaultName]; e != nil {
			return e, nil
		}
		if err := r.onItsWay(r.defaultName); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: default model %q is not loaded", ErrNotLoaded, r.defaultName)
	case isBareVersion(ref):
		if r.defaultName == "" {
			return nil, fmt.Errorf("%w: bare version %q but no default_model configured", ErrNotFound, ref)
		}
		return r.byID(t, ID(r.defaultName, ref))
	case strings.Contains(ref, "-") && IsID(ref):
		return r.byID(t, ref)
	default:
		if e := t.defaults[ref]; e != nil {
			return e, nil
		}
		if err := ValidName(ref); err != nil {
			return nil, fmt.Errorf("%w: %q is neither a model id, a name nor a version", ErrNotFound, ref)
		}
		if err := r.onItsWay(ref); err != nil {
			return nil, err
		}
		if !r.knows(ref) && r.repo.Holds(ref, "") {
			return nil, fmt.Errorf("%w: %s is in the repository and loads at the next poll", ErrNotReady, ref)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
}

// onItsWay returns ErrNotReady when a version of name (of any name when
// name is "") is on its way: the registry has not read the repository yet,
// or a version is loading, or loaded and not yet routed (its Loaded event
// is being delivered), or the poller has seen it and loads it next.
func (r *Registry) onItsWay(name string) error {
	if !r.started.Load() {
		return fmt.Errorf("%w: the model repository is still being read", ErrNotReady)
	}
	routed := r.route.Load().byID
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range r.entries {
		if name != "" && e.name != name {
			continue
		}
		switch e.getState() {
		case StateLoading:
			return fmt.Errorf("%w: %s is loading", ErrNotReady, id)
		case StateReady:
			if routed[id] == nil {
				// Loaded: its subscribers are being told, and the table
				// that routes to it built, before it routes.
				return fmt.Errorf("%w: %s is being published", ErrNotReady, id)
			}
		}
	}
	for id := range r.pending {
		if n, _, err := SplitID(id); err == nil && (name == "" || n == name) {
			return fmt.Errorf("%w: %s was found in the repository and loads next", ErrNotReady, id)
		}
	}
	return nil
}

// IsID reports whether s is a model id "<name>-v<N>", as SplitID would
// accept it, without building an error when it is not.
func IsID(s string) bool {
	i := strings.LastIndex(s, "-")
	_, ok := versionNumber(s[i+1:])
	return i > 0 && validName(s[:i]) && ok
}

// IsVersion reports whether v is a version label ParseVersion accepts,
// without building an error when it is not.
func IsVersion(v string) bool { _, ok := versionNumber(v); return ok }

// isBareVersion reports whether s is a version label "vN" of any length of
// digits (a bare version in a request; ParseVersion bounds the digits).
func isBareVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (r *Registry) byID(t *table, id string) (*entry, error) {
	if e := t.byID[id]; e != nil {
		return e, nil
	}
	if !r.started.Load() {
		return nil, fmt.Errorf("%w: %s: the model repository is still being read", ErrNotReady, id)
	}
	r.mu.Lock()
	e, known := r.entries[id]
	_, pending := r.pending[id]
	r.mu.Unlock()
	state := ""
	if known {
		state = e.getState()
	}
	switch {
	case state == StateLoading:
		return nil, fmt.Errorf("%w: %s is loading", ErrNotReady, id)
	case state == StateReady:
		// It became ready after t was read: the table that serves it is
		// published now, or in a moment.
		if e := r.route.Load().byID[id]; e != nil {
			return e, nil
		}
		return nil, fmt.Errorf("%w: %s is being published", ErrNotReady, id)
	case known:
		return nil, fmt.Errorf("%w: %s", ErrNotLoaded, id)
	case pending:
		return nil, fmt.Errorf("%w: %s was found in the repository and loads next", ErrNotReady, id)
	}
	if name, version, err := SplitID(id); err == nil && r.repo.Holds(name, version) {
		r.mu.Lock()
		unloaded := slices.Contains(r.state.Unloaded, id)
		r.mu.Unlock()
		if unloaded {
			return nil, fmt.Errorf("%w: %s (unloaded by an admin)", ErrNotLoaded, id)
		}
		// Another replica put it there; this one's next poll loads it.
		return nil, fmt.Errorf("%w: %s is in the repository and loads at the next poll", ErrNotReady, id)
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// List describes every known version, sorted by name then version.
func (r *Registry) List() []Status {
	t := r.route.Load()
	r.mu.Lock()
	es := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		es = append(es, e)
	}
	r.mu.Unlock()
	slices.SortFunc(es, func(a, b *entry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.n - b.n
	})
	out := make([]Status, len(es))
	for i, e := range es {
		out[i] = e.status(t.defaults[e.name] == e)
	}
	return out
}

func (e *entry) status(isDefault bool) Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{ID: e.id(), Name: e.name, Version: e.version, State: e.state, Default: isDefault,
		LoadedAt: e.loadedAt, LoadDuration: e.loadDur, Error: e.err, Manifest: e.manifest,
		Warnings: e.warnings, Requests: e.requests.Load(), Errors: e.errors.Load(), InFlight: e.refs}
	if e.model != nil {
		info := e.model.Info()
		s.Info = &info
		s.Certificate = CertificateOf(e.manifest)
	} else if e.manifest != nil && e.manifest.Golden != nil {
		s.Certificate = CertificateOf(e.manifest) // failed, or not checked yet
	}
	return s
}

// Get describes one version by id.
func (r *Registry) Get(id string) (Status, error) {
	r.mu.Lock()
	e := r.entries[id]
	r.mu.Unlock()
	if e == nil {
		if !r.started.Load() {
			return Status{}, fmt.Errorf("%w: %s: the model repository is still being read", ErrNotReady, id)
		}
		return Status{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e.status(r.route.Load().defaults[e.name] == e), nil
}

// InstallRequest is a new version to write into the repository and load.
type InstallRequest struct {
	// Name is the model name; Version is "vN", or "" for the next free version.
	Name, Version string
	// Filename is the artifact's file name (its extension names the
	// framework unless the manifest does).
	Filename string
	// Artifact is the artifact's content.
	Artifact io.Reader
	// Manifest is model.yaml's content, or nil.
	Manifest []byte
	// Files are the other files the version needs (a vocabulary, a
	// tokenizer.json, a two-stage model's classifier), written beside the
	// artifact.
	Files []File
	// MakeDefault makes the new version its name's default once it is warm.
	MakeDefault bool
}

// Install writes a new version into a temporary folder of the repository,
// loads it and warms it up there while the current versions keep serving,
// and only then moves it into <name>/<version>/ and, in one atomic step,
// routes to it (and makes it the default when asked, or when the name has
// no chosen default: a name's default is otherwise its newest version). A
// version that fails to load leaves nothing behind and nothing that serves
// changes; the error says why. A process killed during the load leaves
// only a temporary folder, which the next Start removes. The load runs
// without the admin lock: other admin calls and requests do not wait on it.
// A read-only repository (flat, or a folder this process cannot write)
// refuses it at once with ErrReadOnly.
func (r *Registry) Install(ctx context.Context, req InstallRequest) (Status, error) {
	if err := ValidName(req.Name); err != nil {
		return Status{}, err
	}
	if err := r.repo.Writable(); err != nil {
		return Status{}, err
	}
	if req.Manifest != nil {
		if _, _, err := ParseManifest(req.Manifest); err != nil {
			return Status{}, err
		}
	}
	id, err := r.reserve(&req)
	if err != nil {
		return Status{}, err
	}
	defer func() {
		r.mu.Lock()
		delete(r.reserved, id)
		r.mu.Unlock()
	}()
	staged, err := r.repo.Stage(req.Name, req.Version, req.Filename, req.Artifact, req.Manifest, req.Files...)
	if err != nil {
		return Status{}, err
	}
	committed := false
	defer func() {
		if !committed {
			if err := r.repo.Discard(staged); err != nil {
				r.log.Error("removing a failed upload", "id", id, "err", err)
			}
		}
	}()
	v := staged.Version()
	e := r.newEntry(v, StateLoading)
	r.mu.Lock()
	r.entries[id] = e
	r.mu.Unlock()
	forget := func() {
		r.mu.Lock()
		if r.entries[id] == e {
			delete(r.entries, id)
		}
		r.mu.Unlock()
	}
	m, err := r.loadModel(ctx, e)
	if err != nil {
		forget()
		r.emit(Event{Kind: LoadFailed, ID: id, Name: e.name, Version: e.version, LoadDuration: e.getLoadDur(), Err: err})
		r.flush()
		return Status{}, err
	}
	if err := r.commit(e, m, staged); err != nil {
		forget()
		return Status{}, err
	}
	committed = true
	r.flush() // Loaded is told before the version routes

	defer r.flush()
	r.admin.Lock()
	defer r.admin.Unlock()
	if e.getState() != StateReady || r.closed.Load() {
		return Status{}, fmt.Errorf("%w: %s was unloaded (or the registry closed) while it was published", ErrNotLoaded, id)
	}
	if req.MakeDefault {
		if err := r.setDefaultLocked(req.Name, req.Version); err != nil {
			return Status{}, err
		}
	} else {
		r.publish()
	}
	return e.status(r.route.Load().defaults[e.name] == e), nil
}

// commit moves an installed version, loaded as m, from staged to its final
// folder and marks it ready (not yet routed); m is closed when it fails.
func (r *Registry) commit(e *entry, m Model, staged *Staged) error {
	r.admin.Lock()
	defer r.admin.Unlock()
	id := e.id()
	if r.closed.Load() || e.getState() != StateLoading {
		m.Close()
		return fmt.Errorf("%w: %s was unloaded (or the registry closed) while it loaded", ErrNotLoaded, id)
	}
	final, err := r.repo.Commit(staged)
	if err != nil {
		m.Close()
		return err
	}
	e.mu.Lock()
	e.ver = final // the version now lives in its final folder
	e.mu.Unlock()
	r.mu.Lock()
	r.seen[id] = final.Stamp
	delete(r.pending, id)
	r.mu.Unlock()
	return r.finish(e, m, nil)
}

// reserve picks req's version (the next free one when empty) and reserves
// its id against other installs, refusing one that exists.
func (r *Registry) reserve(req *InstallRequest) (string, error) {
	r.admin.Lock()
	defer r.admin.Unlock()
	if r.closed.Load() {
		return "", errors.New("registry closed")
	}
	if req.Version == "" {
		v, err := r.repo.NextVersion(req.Name)
		if err != nil {
			return "", err
		}
		n, _ := ParseVersion(v)
		r.mu.Lock()
		for id := range r.reserved {
			if name, ver, err := SplitID(id); err == nil && name == req.Name {
				if k, _ := ParseVersion(ver); k >= n {
					n = k + 1
				}
			}
		}
		r.mu.Unlock()
		req.Version = "v" + strconv.Itoa(n)
	}
	if _, err := ParseVersion(req.Version); err != nil {
		return "", err
	}
	id := ID(req.Name, req.Version)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, known := r.entries[id]; known || r.reserved[id] {
		return "", fmt.Errorf("%w: %s", ErrExists, id)
	}
	r.reserved[id] = true
	return id, nil
}

// SetDefault makes version ("vN" or the full id) the default of name, loading
// it first if it is in the repository but not loaded (without holding the
// admin lock during the load). The choice persists, except in a
// repository that cannot be written: there it holds until the process ends.
func (r *Registry) SetDefault(ctx context.Context, name, version string) error {
	if n, v, err := SplitID(version); err == nil {
		if n != name {
			return fmt.Errorf("%w: id %s is not a version of %s", ErrInvalidName, version, name)
		}
		version = v
	}
	if err := ValidName(name); err != nil {
		return err
	}
	if _, err := ParseVersion(version); err != nil {
		return err
	}
	id := ID(name, version)
	ctx, span := tracing.Child(ctx, "model.swap", trace.WithAttributes(
		tracing.ModelKey.String(name), tracing.VersionKey.String(version)))
	defer span.End()
	defer r.flush()
	r.admin.Lock()
	if r.closed.Load() {
		r.admin.Unlock()
		return errors.New("registry closed")
	}
	r.mu.Lock()
	e := r.entries[id]
	r.mu.Unlock()
	if e != nil && e.getState() == StateReady {
		defer r.admin.Unlock()
		return r.setDefaultLocked(name, version)
	}
	if e != nil && e.getState() == StateLoading {
		r.admin.Unlock()
		return fmt.Errorf("%w: %s is loading", ErrNotReady, id)
	}
	v, err := r.repo.Lookup(name, version)
	if err != nil {
		r.admin.Unlock()
		return err
	}
	e = r.register(v)
	r.admin.Unlock()

	m, err := r.loadModel(ctx, e)
	r.admin.Lock()
	err = r.finish(e, m, err)
	if err != nil {
		r.publish()
	}
	r.admin.Unlock()
	if err != nil {
		return err
	}
	r.flush() // Loaded is told before the version routes
	r.admin.Lock()
	defer r.admin.Unlock()
	if e.getState() != StateReady || r.closed.Load() {
		return fmt.Errorf("%w: %s was unloaded (or the registry closed) while it was published", ErrNotLoaded, id)
	}
	return r.setDefaultLocked(name, version)
}

func (r *Registry) setDefaultLocked(name, version string) error {
	err := r.changeState(func(s *State) {
		s.Defaults[name] = version
		s.Unloaded = slices.DeleteFunc(s.Unloaded, func(x string) bool { return x == ID(name, version) })
	})
	if err != nil {
		return err
	}
	r.publish()
	r.log.Info("default set", "name", name, "version", version)
	return nil
}

// changeState applies fn to the repository's state as it is now (re-read
// under the repository's lock, so a change another replica made meanwhile
// is kept, not overwritten by this one's copy) and adopts the result. A
// read-only repository cannot be written: fn then changes this process's
// copy only, which holds until the process ends (or the file changes), and
// a warning says so. Caller holds r.admin.
func (r *Registry) changeState(fn func(*State)) error {
	st, raw, err := r.repo.UpdateState(fn)
	if errors.Is(err, ErrReadOnly) {
		r.log.Warn("the change holds until restart: the repository is read-only", "err", err)
		r.mu.Lock()
		st = r.state.clone()
		fn(&st)
		r.state = st
		r.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.state, r.stateRaw = st, raw
	r.mu.Unlock()
	return nil
}

// Unload takes a version out of service; it is closed once its in-flight
// requests finish (or after the drain timeout) and stays unloaded after a
// restart. A name's current default cannot be unloaded (ErrInUse): make
// another version the default first, so nothing that serves disappears by
// accident.
func (r *Registry) Unload(ctx context.Context, id string) error {
	if _, _, err := SplitID(id); err != nil {
		return err
	}
	defer r.flush() // after the unlock below: Retiring, and Retired when idle
	r.admin.Lock()
	defer r.admin.Unlock()
	r.mu.Lock()
	e := r.entries[id]
	r.mu.Unlock()
	if e == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	t := r.route.Load()
	if t.defaults[e.name] == e {
		return fmt.Errorf("%w: %s is the default of %s; set another default first", ErrInUse, id, e.name)
	}
	err := r.changeState(func(s *State) {
		if !slices.Contains(s.Unloaded, id) {
			s.Unloaded = append(s.Unloaded, id)
		}
	})
	if err != nil {
		return err
	}
	// Out of the routing table first, then retire.
	nt := &table{byID: make(map[string]*entry, len(t.byID)), defaults: t.defaults}
	for k, v := range t.byID {
		if v != e {
			nt.byID[k] = v
		}
	}
	r.route.Store(nt)
	if e.getState() == StateReady {
		r.retire(e)
	} else {
		e.mu.Lock()
		e.state = StateUnloaded
		e.mu.Unlock()
	}
	return nil
}

// Ready reports whether the registry can serve a request that names no
// model: the start-up loads are done and the configured default model is
// loaded or, with none configured, at least one model is.
func (r *Registry) Ready() bool {
	if !r.booted.Load() {
		return false // every version the start-up scan registered has loaded (or failed)
	}
	t := r.route.Load()
	if r.defaultName == "" {
		return len(t.defaults) > 0
	}
	_, err := r.lookup(t, "")
	return err == nil
}

// Close stops polling, takes every version out of service and waits for
// in-flight requests (until ctx ends or the drain timeout passes) before
// closing the models; models still held then are closed anyway.
func (r *Registry) Close(ctx context.Context) error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(r.closing) // cancels the loads in flight
	r.mu.Lock()
	stop := r.stop
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	r.pollers.Wait()
	loaded := make(chan struct{})
	go func() {
		r.loads.Wait()
		close(loaded)
	}()
	select {
	case <-loaded:
	case <-ctx.Done():
		r.log.Warn("closing with loads in flight (their loaders ignore cancellation)")
	}
	r.admin.Lock()
	defer r.admin.Unlock()
	r.route.Store(&table{byID: map[string]*entry{}, defaults: map[string]*entry{}})
	r.mu.Lock()
	es := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		es = append(es, e)
	}
	r.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		e.retired = true
		idle := e.refs == 0
		if e.state == StateReady {
			e.state = StateDraining
		}
		e.mu.Unlock()
		if idle {
			e.close()
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.DrainTimeout)
	defer cancel()
	var err error
	for _, e := range es {
		select {
		case <-e.drained:
		case <-ctx.Done():
			err = ctx.Err()
			e.close()
		}
	}
	return err
}
