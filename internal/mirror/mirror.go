package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mlserve/mlserve/internal/model"
)

// Errors of the mirror and its stores; wrapped with detail.
var (
	// ErrUnavailable: the store did not answer (network, credentials, a 5xx).
	ErrUnavailable = errors.New("model store unavailable")
	// ErrGone: an object listed a moment ago is not there any more.
	ErrGone = errors.New("object gone from the model store")
	// ErrTooMany: the store holds more objects than Options.MaxObjects.
	ErrTooMany = errors.New("too many objects in the model store")
)

// Object is one object of the store; Key is relative to the repository's prefix.
type Object struct {
	// Key is the object's key below the repository prefix ("sentiment/v2/model.joblib").
	Key string
	// ETag identifies the object's content.
	ETag string
	// Size is its length in bytes.
	Size int64
}

// Store is an object store holding a model repository under one prefix.
type Store interface {
	// List returns the objects whose keys start with under (relative to
	// the prefix), at most max (ErrTooMany past it).
	List(ctx context.Context, under string, max int) ([]Object, error)
	// Get copies an object into w and returns its ETag.
	Get(ctx context.Context, key string, w io.Writer) (string, error)
	// Put stores an object and returns its ETag.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error)
	// Delete removes an object; one that is not there is no error.
	Delete(ctx context.Context, key string) error
}

// Marker is the object written last by an upload, in its version's folder:
// the version's files and their ETags, as JSON.
const Marker = ".mlserve-version"

// etagsFile keeps, in the local folder, the ETag of each object's copy, so a
// restart on the same folder fetches only what changed.
const etagsFile = ".mlserve-mirror.json"

// DefaultMaxObjects is Options.MaxObjects when it is 0.
const DefaultMaxObjects = 100_000

// Options configure a Mirror.
type Options struct {
	// Store is where the repository lives.
	Store Store
	// Dir is the local folder it is mirrored into (created if missing).
	Dir string
	// MaxObjects bounds one listing; 0 means DefaultMaxObjects.
	MaxObjects int
	// Logger receives the mirror's few lines; nil means slog.Default().
	Logger *slog.Logger
}

// Mirror copies a Store's repository into a local folder and publishes
// uploads to the store. It implements model.Publisher.
type Mirror struct {
	store Store
	dir   string
	max   int
	log   *slog.Logger

	mu        sync.Mutex        // serialises Sync and the Publish calls
	etags     map[string]string // key → ETag of the local copy
	published map[string]string // key → ETag uploaded by this process, not yet in the folder
	down      bool              // the last Sync failed to reach the store
	skipped   map[string]bool   // keys logged as breaking the layout
	markers   map[string]marker // marker key → its content at an ETag
}

// marker is a marker object read (or written) once: file name → ETag.
type marker struct {
	etag  string
	files map[string]string
}

var _ model.Publisher = (*Mirror)(nil)

// New opens the local folder and the ETags of what it already holds.
func New(o Options) (*Mirror, error) {
	if o.Store == nil || o.Dir == "" {
		return nil, errors.New("mirror: a store and a folder are required")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	m := &Mirror{store: o.Store, dir: o.Dir, max: o.MaxObjects, log: o.Logger,
		etags: map[string]string{}, published: map[string]string{}, skipped: map[string]bool{}, markers: map[string]marker{}}
	if m.max <= 0 {
		m.max = DefaultMaxObjects
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if b, err := os.ReadFile(filepath.Join(o.Dir, etagsFile)); err == nil {
		if err := json.Unmarshal(b, &m.etags); err != nil || m.etags == nil {
			m.etags = map[string]string{} // a damaged record: fetch everything again
		}
	}
	return m, nil
}

// Dir is the local folder the registry reads.
func (m *Mirror) Dir() string { return m.dir }

// Run syncs every interval until ctx ends. Failures are logged by Sync.
func (m *Mirror) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = m.Sync(ctx)
		}
	}
}

// version is one <name>/<vN>/ folder of a listing.
type version struct {
	prefix string            // "<name>/<vN>/"
	files  map[string]Object // file name → object
	marker *Object
}

// Sync fetches what changed in the store since the last Sync. When the
// store cannot be listed it returns an error wrapping ErrUnavailable, and
// logs it only when the previous Sync succeeded.
func (m *Mirror) Sync(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, err := m.store.List(ctx, "", m.max)
	if err != nil {
		m.failed(err)
		return err
	}
	versions, state := m.group(objs)
	var errs []error
	if state != nil && m.etags[model.StateFile] != state.ETag && m.published[model.StateFile] != state.ETag {
		if err := m.fetchFile(ctx, *state, filepath.Join(m.dir, model.StateFile)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, v := range versions {
		if err := m.syncVersion(ctx, v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.saveETags(); err != nil {
		errs = append(errs, err)
	}
	err = errors.Join(errs...)
	if err != nil && errors.Is(err, ErrUnavailable) {
		m.failed(err)
		return err
	}
	if m.down {
		m.log.Info("model store reachable again")
		m.down = false
	}
	if err != nil {
		m.log.Warn("mirroring the model store", "err", err)
	}
	return err
}

// failed logs a store failure once per outage.
func (m *Mirror) failed(err error) {
	if !m.down {
		m.log.Error("model store unreachable: serving what the local copy holds", "err", err)
		m.down = true
	}
}

// group sorts a listing into version folders and the state file, skipping
// (and logging once) keys that break the layout.
func (m *Mirror) group(objs []Object) (map[string]*version, *Object) {
	versions := map[string]*version{}
	var state *Object
	for _, o := range objs {
		if o.Key == model.StateFile {
			state = &o
			continue
		}
		parts := strings.Split(o.Key, "/")
		if strings.HasSuffix(o.Key, "/") && o.Size == 0 {
			continue // a folder placeholder some tools create
		}
		if len(parts) != 3 || model.ValidName(parts[0]) != nil || !validVersion(parts[1]) ||
			!plainFile(parts[2]) && parts[2] != Marker {
			if !strings.HasPrefix(o.Key, ".") && !m.skipped[o.Key] {
				m.skipped[o.Key] = true
				m.log.Warn("object skipped: the repository holds <name>/v<N>/<file> only", "key", o.Key)
			}
			continue
		}
		p := parts[0] + "/" + parts[1] + "/"
		v := versions[p]
		if v == nil {
			v = &version{prefix: p, files: map[string]Object{}}
			versions[p] = v
		}
		if parts[2] == Marker {
			v.marker = &o
		} else {
			v.files[parts[2]] = o
		}
	}
	return versions, state
}

func validVersion(s string) bool { _, err := model.ParseVersion(s); return err == nil }

// plainFile is a visible file name (no dot first, no separator).
func plainFile(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.ContainsAny(s, `/\`)
}

// syncVersion brings one version folder up to date with the store.
func (m *Mirror) syncVersion(ctx context.Context, v *version) error {
	if v.marker != nil {
		want, err := m.readMarker(ctx, *v.marker)
		if err != nil {
			return err
		}
		for name, tag := range want {
			if o, ok := v.files[name]; !ok || o.ETag != tag {
				return nil // an upload still on its way, or being replaced: later
			}
		}
		for name := range v.files {
			if _, ok := want[name]; !ok {
				delete(v.files, name) // not part of the version its uploader wrote
			}
		}
	}
	folder := filepath.Join(m.dir, filepath.FromSlash(v.prefix))
	if _, err := os.Lstat(folder); errors.Is(err, os.ErrNotExist) {
		if m.publishedHere(v) {
			return nil // this process's upload, being committed into the folder
		}
		return m.fetchVersion(ctx, v, folder)
	}
	var errs []error
	for name, o := range v.files {
		path := filepath.Join(folder, name)
		if m.etags[o.Key] == o.ETag {
			if _, err := os.Lstat(path); err == nil {
				continue
			}
		}
		if err := m.fetchFile(ctx, o, path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// publishedHere reports whether every file of v is one this process uploaded.
func (m *Mirror) publishedHere(v *version) bool {
	if len(v.files) == 0 {
		return false
	}
	for _, o := range v.files {
		if m.published[o.Key] != o.ETag {
			return false
		}
	}
	return true
}

// readMarker returns a marker's content (file name → ETag), fetched only
// when its ETag is new.
func (m *Mirror) readMarker(ctx context.Context, o Object) (map[string]string, error) {
	if c, ok := m.markers[o.Key]; ok && c.etag == o.ETag {
		return c.files, nil
	}
	var b bytes.Buffer
	if _, err := m.store.Get(ctx, o.Key, &limitWriter{w: &b, n: 1 << 20}); err != nil {
		return nil, err
	}
	var want map[string]string
	if err := json.Unmarshal(b.Bytes(), &want); err != nil {
		return nil, fmt.Errorf("mirror: %s: %w", o.Key, err)
	}
	m.markers[o.Key] = marker{etag: o.ETag, files: want}
	return want, nil
}

// fetchVersion fetches a version new to the folder into a temporary folder
// and renames it into place whole.
func (m *Mirror) fetchVersion(ctx context.Context, v *version, folder string) error {
	if len(v.files) == 0 {
		return nil
	}
	top, err := os.MkdirTemp(m.dir, model.TempPrefix+"mirror-")
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	defer os.RemoveAll(top)
	tmp := filepath.Join(top, "v")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	got := map[string]string{}
	for name, o := range v.files {
		tag, err := m.get(ctx, o, filepath.Join(tmp, name))
		if errors.Is(err, ErrGone) {
			return nil // changing under us: next Sync
		}
		if err != nil {
			return err
		}
		got[o.Key] = tag
	}
	if v.marker != nil {
		// Its uploader's marker vouched for every file: the version is
		// whole, and the registry may load it on first sight.
		if err := os.WriteFile(filepath.Join(tmp, model.WholeMarker), nil, 0o644); err != nil {
			return fmt.Errorf("mirror: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(folder), 0o755); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	if err := os.Rename(tmp, folder); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	for k, tag := range got {
		m.etags[k] = tag
	}
	m.log.Info("fetched a version from the model store", "version", strings.TrimSuffix(v.prefix, "/"))
	return nil
}

// fetchFile replaces one file of the folder with the object's content.
func (m *Mirror) fetchFile(ctx context.Context, o Object, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	f, err := os.CreateTemp(m.dir, model.TempPrefix+"mirror-file-")
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	tag, err := m.get(ctx, o, tmp)
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	m.etags[o.Key] = tag
	return nil
}

// get copies an object into the file path (created or truncated), fsynced.
func (m *Mirror) get(ctx context.Context, o Object, path string) (string, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("mirror: %w", err)
	}
	tag, err := m.store.Get(ctx, o.Key, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (m *Mirror) saveETags() error {
	b, err := json.Marshal(m.etags)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(m.dir, model.TempPrefix+"etags-")
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("mirror: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	return os.Rename(f.Name(), filepath.Join(m.dir, etagsFile))
}

// PublishVersion uploads a staged version: its manifest, its other files,
// its artifact, then the marker. It refuses a version the store already
// holds (model.ErrExists).
func (m *Mirror) PublishVersion(ctx context.Context, v model.Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := v.Name + "/" + v.Version + "/"
	have, err := m.store.List(ctx, prefix, m.max)
	if err != nil {
		return err
	}
	if len(have) > 0 {
		return fmt.Errorf("%w: %s is already in the model store", model.ErrExists, v.ID())
	}
	ents, err := os.ReadDir(v.Dir)
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && plainFile(e.Name()) {
			names = append(names, e.Name())
		}
	}
	// model.yaml first and the artifact last: until the artifact lands, no
	// reader of the store takes the objects for a version.
	rank := func(n string) int {
		switch n {
		case model.ManifestFile:
			return 0
		case v.Artifact:
			return 2
		}
		return 1
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	tags := map[string]string{}
	var tried []string // keys a failed upload may have left in the store
	for _, n := range names {
		tried = append(tried, prefix+n)
		tag, err := m.putFile(ctx, prefix+n, filepath.Join(v.Dir, n))
		if err != nil {
			return m.abandon(ctx, prefix, tried, nil, err)
		}
		tags[n] = tag
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	tag, err := m.store.Put(ctx, prefix+Marker, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return m.abandon(ctx, prefix, append(tried, prefix+Marker), b, err)
	}
	m.markers[prefix+Marker] = marker{etag: tag, files: tags}
	for n, tag := range tags {
		m.published[prefix+n] = tag
		m.etags[prefix+n] = tag
	}
	return m.saveETags()
}

// abandonTimeout bounds the clean-up of a failed upload (each call is also
// bounded by the store's own stall timeout).
const abandonTimeout = time.Minute

// abandon removes from the store what a failed upload may have left under
// prefix (tried: every key it put or was putting, the failed one included:
// a store that stalled may have kept it without saying so), then returns
// err. Left there, the files without their marker would be taken, by this
// replica's next Sync and by every other, for a version copied in by hand:
// the upload the client was told failed would serve, and its retry would
// find its version taken. A marker in the store means another replica
// finished the same version meanwhile: its files are left alone, unless it
// is the marker this upload was putting (the same bytes). The first call
// that fails ends the clean-up (a store that stalls it too holds it one
// more timeout, abandonTimeout at most), and what is left is logged.
func (m *Mirror) abandon(ctx context.Context, prefix string, tried []string, ours []byte, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
	defer cancel()
	have, lerr := m.store.List(ctx, prefix+Marker, m.max)
	for _, o := range have {
		if o.Key != prefix+Marker {
			continue
		}
		if ours == nil {
			return err // not ours: another replica's version
		}
		var got bytes.Buffer
		_, lerr = m.store.Get(ctx, o.Key, &limitWriter{w: &got, n: int64(len(ours))})
		if lerr == nil && !bytes.Equal(got.Bytes(), ours) {
			return err
		}
	}
	left := tried
	if lerr == nil { // else the store is not answering: try no more
		for len(left) > 0 && m.store.Delete(ctx, left[0]) == nil {
			left = left[1:]
		}
	}
	if len(left) > 0 {
		m.log.Warn("a failed upload's objects may be left in the model store; remove them before uploading this version again",
			"store", m.store, "keys", left)
	}
	return err
}

func (m *Mirror) putFile(ctx context.Context, key, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("mirror: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("mirror: %w", err)
	}
	return m.store.Put(ctx, key, f, fi.Size())
}

// RefreshState fetches the store's state file when it changed since this
// mirror last had it, without a whole Sync: the repository calls it before
// it changes the state, so that a change made through another replica
// since the last Sync is kept, not overwritten. A store without a state
// file leaves the local one as it is.
func (m *Mirror) RefreshState(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, err := m.store.List(ctx, model.StateFile, m.max)
	if err != nil {
		m.failed(err)
		return err
	}
	for _, o := range objs {
		if o.Key != model.StateFile || m.etags[o.Key] == o.ETag || m.published[o.Key] == o.ETag {
			continue
		}
		if err := m.fetchFile(ctx, o, filepath.Join(m.dir, model.StateFile)); err != nil {
			return err
		}
		return m.saveETags()
	}
	return nil
}

var _ model.StateRefresher = (*Mirror)(nil)

// PublishState uploads the registry's state file.
func (m *Mirror) PublishState(ctx context.Context, content []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tag, err := m.store.Put(ctx, model.StateFile, bytes.NewReader(content), int64(len(content)))
	if err != nil {
		return err
	}
	m.published[model.StateFile] = tag
	m.etags[model.StateFile] = tag
	return m.saveETags()
}

// limitWriter writes at most n bytes, then fails.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errors.New("mirror: marker too large")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}
