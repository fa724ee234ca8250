package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors of the repository and registry; wrapped with detail.
var (
	// ErrNotFound: no such model name, version or id.
	ErrNotFound = errors.New("model not found")
	// ErrNotLoaded: the version exists in the repository but is not loaded
	// (unloaded, evicted by the version policy, or failed). It wraps ErrNotFound.
	ErrNotLoaded = fmt.Errorf("%w: version not loaded", ErrNotFound)
	// ErrExists: the version already exists (HTTP 409).
	ErrExists = errors.New("model version already exists")
	// ErrInvalidName: a name, version or file name breaks the repository's rules.
	ErrInvalidName = errors.New("invalid model name")
	// ErrInUse: the operation would leave a name without its serving default.
	ErrInUse = errors.New("model version in use")
	// ErrReadOnly: the repository takes no new versions (HTTP 409): models_dir
	// is not writable (a read-only volume, a folder the server's user does
	// not own), or it holds a single model directly (the flat layout).
	ErrReadOnly = errors.New("model repository is read-only")
)

// artifactExt maps an artifact file extension to its framework.
var artifactExt = map[string]string{".joblib": "sklearn", ".pkl": "sklearn", ".pickle": "sklearn", ".onnx": "onnx"}

// FrameworkOf returns the framework an artifact's file name implies, or "".
func FrameworkOf(filename string) string {
	return artifactExt[strings.ToLower(filepath.Ext(filename))]
}

// ValidName reports whether name is a valid model name.
func ValidName(name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: %q (want [a-z0-9][a-z0-9_.-]*, at most 128 characters)", ErrInvalidName, name)
	}
	return nil
}

// ParseVersion returns N of "vN".
func ParseVersion(v string) (int, error) {
	n, ok := versionNumber(v)
	if !ok {
		return 0, fmt.Errorf("%w: version %q (want v<N>)", ErrInvalidName, v)
	}
	return n, nil
}

// validName is ValidName's test: [a-z0-9][a-z0-9_.-]*, at most 128 bytes.
// Names and versions are checked on every request that names a model, so
// these two are loops, not regular expressions, and allocate nothing.
func validName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// versionNumber returns N of "vN" (1 to 9 digits).
func versionNumber(v string) (int, bool) {
	if len(v) < 2 || len(v) > 10 || v[0] != 'v' {
		return 0, false
	}
	n := 0
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// ID returns the model id "<name>-<version>".
func ID(name, version string) string { return name + "-" + version }

// SplitID splits "sentiment-v2" into ("sentiment", "v2").
func SplitID(id string) (name, version string, err error) {
	i := strings.LastIndex(id, "-")
	if i <= 0 {
		return "", "", fmt.Errorf("%w: id %q (want <name>-v<N>)", ErrInvalidName, id)
	}
	name, version = id[:i], id[i+1:]
	if err := ValidName(name); err != nil {
		return "", "", err
	}
	if _, err := ParseVersion(version); err != nil {
		return "", "", err
	}
	return name, version, nil
}

// Repository is the model folder tree models_dir/<name>/<vN>/, each version
// folder holding one artifact and an optional model.yaml, plus the registry's
// persisted state in models_dir/.mlserve-state.json. Entries whose names start
// with a dot are never models (temporary folders, state).
//
// A folder that holds an artifact directly (model.joblib or model.onnx, and
// an optional model.yaml: what KServe's storage initializer leaves in
// /mnt/models for a single model) is the flat layout: one version, v1, of
// the model named by RepositoryOptions.ModelName. A repository that is flat
// or not writable is read-only: it serves what it holds and refuses new
// versions with ErrReadOnly.
type Repository struct {
	dir       string
	flatName  string
	writeable bool
	pub       Publisher
	changed   func()
}

// Publisher keeps what the repository commits somewhere else as well: an
// object store that models_dir is a local mirror of (internal/mirror). The
// repository calls it before the local step, so a version or a state the
// store did not take is not committed here either, and a restart that
// mirrors the store again finds every committed upload.
type Publisher interface {
	// PublishVersion stores the files of v (a staged version: v.Dir is its
	// temporary folder) under <name>/<version>/. It refuses a version the
	// store already holds with an error wrapping ErrExists.
	PublishVersion(ctx context.Context, v Version) error
	// PublishState stores the registry's state file's new content.
	PublishState(ctx context.Context, content []byte) error
}

// PublishTimeout bounds one call of the Publisher. Commit and SaveState are
// called under the registry's admin lock, where no request context reaches;
// this bound keeps a store that stalls from holding that lock for good.
const PublishTimeout = 10 * time.Minute

// SetPublisher makes every later Commit and SaveState go to p first. Call it
// before the registry starts.
func (r *Repository) SetPublisher(p Publisher) { r.pub = p }

// OnChange makes the repository call fn each time it committed a change
// (a version renamed into place, a state file written), after the change
// is in place: the other replicas can be told to look (internal/nudge).
// fn must not block. Call it before the registry starts.
func (r *Repository) OnChange(fn func()) { r.changed = fn }

// didChange calls the OnChange function, if any.
func (r *Repository) didChange() {
	if r.changed != nil {
		r.changed()
	}
}

// publish runs fn with a context bounded by PublishTimeout; nil publisher: no-op.
func (r *Repository) publish(fn func(ctx context.Context, p Publisher) error) error {
	if r.pub == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), PublishTimeout)
	defer cancel()
	if err := fn(ctx, r.pub); err != nil {
		return fmt.Errorf("model repository: publishing to the store: %w", err)
	}
	return nil
}

// RepositoryOptions tune OpenRepositoryWith.
type RepositoryOptions struct {
	// ModelName is the name a flat repository's model is served under
	// (KServe's --model_name); empty means DefaultFlatName.
	ModelName string
}

// DefaultFlatName is a flat repository's model name when none is given.
const DefaultFlatName = "model"

// FlatVersion is the version a flat repository's model is served as.
const FlatVersion = "v1"

// OpenRepository opens (creating if needed) the repository rooted at dir.
func OpenRepository(dir string) (*Repository, error) {
	return OpenRepositoryWith(dir, RepositoryOptions{})
}

// OpenRepositoryWith opens (creating if needed) the repository rooted at dir
// and finds out whether it can be written: a folder that exists but cannot
// be written (a read-only volume) is served read-only, not refused.
func OpenRepositoryWith(dir string, o RepositoryOptions) (*Repository, error) {
	name := o.ModelName
	if name == "" {
		name = DefaultFlatName
	}
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("model repository: model_name: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if fi, serr := os.Stat(dir); serr != nil || !fi.IsDir() {
			return nil, fmt.Errorf("model repository: %w", err)
		}
	}
	return &Repository{dir: dir, flatName: name, writeable: probeWrite(dir)}, nil
}

// probeWrite reports whether a file can be created in dir (and removes it).
func probeWrite(dir string) bool {
	f, err := os.CreateTemp(dir, TempPrefix+"probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// Dir is the repository's root folder.
func (r *Repository) Dir() string { return r.dir }

// Writable returns nil when new versions and state can be written, else an
// error wrapping ErrReadOnly that says why.
func (r *Repository) Writable() error {
	if r.flat() {
		return fmt.Errorf("%w: %s holds one model directly (the flat layout, served as %s); "+
			"uploads need the <name>/v<N>/ layout", ErrReadOnly, r.dir, ID(r.flatName, FlatVersion))
	}
	if !r.writeable {
		return fmt.Errorf("%w: %s cannot be written by this server (a read-only volume?); "+
			"it serves what it holds, add versions to it from outside", ErrReadOnly, r.dir)
	}
	return nil
}

// flat reports whether the root holds an artifact or a manifest directly.
func (r *Repository) flat() bool {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if e.Name() == ManifestFile || FrameworkOf(e.Name()) != "" {
			return true
		}
	}
	return false
}

// Version is one version folder found in the repository.
type Version struct {
	// Name and Version ("sentiment", "v2").
	Name, Version string
	// N is the version number.
	N int
	// Dir is the version folder.
	Dir string
	// Artifact is the artifact's file name inside Dir.
	Artifact string
	// Manifest is model.yaml's content, nil when absent.
	Manifest []byte
	// Stamp changes whenever a file in the folder changes (names, sizes,
	// modification times); polling compares it to spot complete and changed folders.
	Stamp string
	// Whole says the folder was renamed into place complete (it holds
	// WholeMarker: an upload through any replica, or a version the mirror
	// fetched whole), so a poll may load it on first sight.
	Whole bool
}

// ID is the version's model id.
func (v Version) ID() string { return ID(v.Name, v.Version) }

// Scan lists every valid version folder, sorted by name then version number.
// Folders it cannot use are returned as errors beside the versions found.
func (r *Repository) Scan() ([]Version, []error) {
	if r.flat() {
		v, err := readVersionAt(r.dir, r.flatName, FlatVersion)
		if err != nil {
			return nil, []error{err}
		}
		return []Version{v}, nil
	}
	names, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, []error{fmt.Errorf("model repository: %w", err)}
	}
	var out []Version
	var errs []error
	for _, n := range names {
		if strings.HasPrefix(n.Name(), ".") {
			continue
		}
		if n.Type()&fs.ModeSymlink != 0 {
			errs = append(errs, fmt.Errorf("%s: %w: a symbolic link, skipped (a model folder must be a real folder inside models_dir)",
				filepath.Join(r.dir, n.Name()), ErrInvalid))
			continue
		}
		if !n.IsDir() {
			continue
		}
		if err := ValidName(n.Name()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(r.dir, n.Name()), err))
			continue
		}
		vs, err := os.ReadDir(filepath.Join(r.dir, n.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, v := range vs {
			if strings.HasPrefix(v.Name(), ".") {
				continue
			}
			if v.Type()&fs.ModeSymlink != 0 {
				errs = append(errs, fmt.Errorf("%s: %w: a symbolic link, skipped (a version folder must be a real folder inside its model folder)",
					filepath.Join(r.dir, n.Name(), v.Name()), ErrInvalid))
				continue
			}
			if !v.IsDir() {
				continue
			}
			ver, err := r.readVersion(n.Name(), v.Name())
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, ver)
		}
	}
	slices.SortFunc(out, func(a, b Version) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.N - b.N
	})
	return out, errs
}

// Lookup reads one version folder.
func (r *Repository) Lookup(name, version string) (Version, error) {
	if err := ValidName(name); err != nil {
		return Version{}, err
	}
	if _, err := ParseVersion(version); err != nil {
		return Version{}, err
	}
	if r.flat() {
		if name != r.flatName || version != FlatVersion {
			return Version{}, fmt.Errorf("%w: %s (the flat repository holds %s only)", ErrNotFound, ID(name, version), ID(r.flatName, FlatVersion))
		}
		return readVersionAt(r.dir, name, version)
	}
	fi, err := os.Lstat(filepath.Join(r.dir, name, version))
	if errors.Is(err, os.ErrNotExist) {
		return Version{}, fmt.Errorf("%w: %s", ErrNotFound, ID(name, version))
	}
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return Version{}, fmt.Errorf("%w: %s: the version folder is a symbolic link", ErrInvalid, ID(name, version))
	}
	return r.readVersion(name, version)
}

func (r *Repository) readVersion(name, version string) (Version, error) {
	return readVersionAt(filepath.Join(r.dir, name, version), name, version)
}

// readVersionAt reads the version folder dir as name's version (dir is its
// final place, or the temporary folder of a version being installed).
func readVersionAt(dir, name, version string) (out Version, err error) {
	n, err := ParseVersion(version)
	if err != nil {
		return Version{}, fmt.Errorf("%s: %w", dir, err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return Version{}, err
	}
	v := Version{Name: name, Version: version, N: n, Dir: dir}
	var stamp strings.Builder
	var candidates, links []string
	for _, f := range files {
		if strings.HasPrefix(f.Name(), ".") || f.IsDir() {
			continue
		}
		info, err := f.Info()
		if err != nil {
			return Version{}, err
		}
		fmt.Fprintf(&stamp, "%s:%d:%d;", f.Name(), info.Size(), info.ModTime().UnixNano())
		if f.Type()&fs.ModeSymlink != 0 {
			links = append(links, f.Name())
		}
		if f.Name() == ManifestFile {
			if _, err := ResolvePath(dir, ManifestFile, ManifestFile); err != nil {
				return Version{}, fmt.Errorf("%s: %w", dir, err)
			}
			if v.Manifest, err = os.ReadFile(filepath.Join(dir, f.Name())); err != nil {
				return Version{}, err
			}
			continue
		}
		if FrameworkOf(f.Name()) != "" {
			candidates = append(candidates, f.Name())
		}
	}
	v.Stamp = stamp.String()
	if fi, err := os.Lstat(filepath.Join(dir, WholeMarker)); err == nil && fi.Mode().IsRegular() {
		v.Whole = true
	}
	defer func() {
		// A link may point at a file of the same folder, never outside it:
		// the manifest, the artifact and every file a loader reads stay
		// inside the version folder.
		if err != nil {
			return
		}
		for _, l := range links {
			if _, lerr := ResolvePath(dir, "file "+l, l); lerr != nil {
				out, err = Version{}, fmt.Errorf("%s: %w", dir, lerr)
				return
			}
		}
	}()
	if v.Manifest != nil {
		if m, _, err := ParseManifest(v.Manifest); err == nil && m.Artifact != "" {
			path, err := ResolvePath(dir, "artifact", m.Artifact)
			if err != nil {
				return Version{}, fmt.Errorf("%s: %w", dir, err)
			}
			if !slices.Contains(candidates, m.Artifact) {
				if _, err := os.Stat(path); err != nil {
					return Version{}, fmt.Errorf("%w: %s: manifest names artifact %q, which is missing", ErrNotFound, dir, m.Artifact)
				}
			}
			v.Artifact = filepath.Clean(m.Artifact)
			return v, nil
		}
	}
	switch len(candidates) {
	case 1:
		v.Artifact = candidates[0]
	case 0:
		return Version{}, fmt.Errorf("%w: %s: no artifact (.joblib, .pkl, .onnx)", ErrNotFound, dir)
	default:
		return Version{}, fmt.Errorf("%w: %s: several artifacts %v; name one in %s", ErrInvalid, dir, candidates, ManifestFile)
	}
	return v, nil
}

// NextVersion returns the version after the highest one of name on disk ("v1" for a new name).
func (r *Repository) NextVersion(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	vs, err := os.ReadDir(filepath.Join(r.dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	top := 0
	for _, v := range vs {
		if n, err := ParseVersion(v.Name()); err == nil && n > top {
			top = n
		}
	}
	return "v" + strconv.Itoa(top+1), nil
}

// File is a file that a version needs beside its artifact and manifest: an
// ONNX model's vocabulary or tokenizer.json, a two-stage model's classifier.
type File struct {
	// Name is the plain file name it gets in the version folder.
	Name string
	// Content is what it holds.
	Content io.Reader
}

// MaxFiles is the most files a version may be written with besides its
// artifact and manifest.
const MaxFiles = 32

// Write stores a new version atomically: Stage, then Commit. A reader (or a
// crash) never sees half a version. It refuses to replace an existing
// version (ErrExists), and file names that are not plain, visible names
// distinct from the artifact's and the manifest's (ErrInvalidName).
func (r *Repository) Write(name, version, artifactName string, artifact io.Reader, manifest []byte, files ...File) (Version, error) {
	st, err := r.Stage(name, version, artifactName, artifact, manifest, files...)
	if err != nil {
		return Version{}, err
	}
	v, err := r.Commit(st)
	if err != nil {
		r.Discard(st)
		return Version{}, err
	}
	return v, nil
}

// TempPrefix starts the name of every temporary folder the repository
// writes into models_dir: a staged upload, a version being removed, the
// state file being replaced. Scans skip them (they start with a dot) and
// CleanStale removes those a killed process left behind.
const TempPrefix = ".tmp-"

// removingPrefix names a version folder on its way out (Remove).
const removingPrefix = ".rm-"

// Staged is a version written into a temporary folder inside the
// repository, not yet in place: it can be loaded and warmed from there, then
// Commit moves it into <name>/<version>/ in one rename, or Discard removes
// it. Until then no scan, poll or restart sees it.
type Staged struct {
	v   Version
	top string // the .tmp-* folder holding <name>/<version>/
}

// Version is the staged version; its Dir is the temporary folder.
func (s *Staged) Version() Version { return s.v }

// Stage writes a new version's files (the artifact, the manifest if not
// nil, the other files) into a fresh temporary folder inside the
// repository and fsyncs them. It refuses a version that already exists
// (ErrExists) and the file names Write refuses. Nothing is left behind when
// it fails.
func (r *Repository) Stage(name, version, artifactName string, artifact io.Reader, manifest []byte, files ...File) (*Staged, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if _, err := ParseVersion(version); err != nil {
		return nil, err
	}
	if artifactName != filepath.Base(artifactName) || strings.HasPrefix(artifactName, ".") ||
		artifactName == ManifestFile || FrameworkOf(artifactName) == "" {
		return nil, fmt.Errorf("%w: artifact file name %q (want a plain .joblib, .pkl or .onnx name)", ErrInvalidName, artifactName)
	}
	if err := checkFiles(artifactName, manifest, files); err != nil {
		return nil, err
	}
	if err := r.Writable(); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(r.dir, name, version)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, ID(name, version))
	}
	// The files go into .tmp-*/<name>/<version>/: a loader sees a folder
	// named like the final one, and Commit is one rename on one file system.
	top, err := os.MkdirTemp(r.dir, TempPrefix+name+"-"+version+"-")
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(top)
		}
	}()
	if err := os.Chmod(top, 0o755); err != nil {
		return nil, err
	}
	tmp := filepath.Join(top, name, version)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	if err := writeFileSync(filepath.Join(tmp, artifactName), artifact); err != nil {
		return nil, fmt.Errorf("model repository: writing artifact: %w", err)
	}
	if manifest != nil {
		if err := writeFileSync(filepath.Join(tmp, ManifestFile), strings.NewReader(string(manifest))); err != nil {
			return nil, fmt.Errorf("model repository: writing manifest: %w", err)
		}
	}
	for _, f := range files {
		if err := writeFileSync(filepath.Join(tmp, f.Name), f.Content); err != nil {
			return nil, fmt.Errorf("model repository: writing %s: %w", f.Name, err)
		}
	}
	if err := writeFileSync(filepath.Join(tmp, WholeMarker), strings.NewReader("")); err != nil {
		return nil, fmt.Errorf("model repository: writing %s: %w", WholeMarker, err)
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	v, err := readVersionAt(tmp, name, version)
	if err != nil {
		return nil, err
	}
	done = true
	return &Staged{v: v, top: top}, nil
}

// Commit renames a staged version into <name>/<version>/ and returns it as
// found there. It refuses a version that appeared meanwhile (ErrExists); on
// any error the staged folder is still the caller's to Discard, and a name
// folder Commit created is removed again.
func (r *Repository) Commit(s *Staged) (Version, error) {
	name, version := s.v.Name, s.v.Version
	parent := filepath.Join(r.dir, name)
	final := filepath.Join(parent, version)
	_, err := os.Lstat(parent)
	created := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Version{}, fmt.Errorf("model repository: %w", err)
	}
	fail := func(err error) (Version, error) {
		if created {
			os.Remove(parent) // only if still empty
		}
		return Version{}, err
	}
	// A rename onto an existing empty folder would succeed: check just
	// before it (the registry serialises its own writers).
	if _, err := os.Lstat(final); err == nil {
		return fail(fmt.Errorf("%w: %s", ErrExists, ID(name, version)))
	}
	if err := r.publish(func(ctx context.Context, p Publisher) error { return p.PublishVersion(ctx, s.v) }); err != nil {
		return fail(err)
	}
	if err := os.Rename(s.v.Dir, final); err != nil {
		return fail(fmt.Errorf("model repository: %w", err))
	}
	os.RemoveAll(s.top)
	if err := syncDir(parent); err != nil {
		return Version{}, err
	}
	if err := syncDir(r.dir); err != nil {
		return Version{}, err
	}
	r.didChange()
	return r.readVersion(name, version)
}

// Discard removes a staged version that will not be committed. It is a
// no-op once the version was committed.
func (r *Repository) Discard(s *Staged) error {
	if s == nil || !strings.HasPrefix(filepath.Base(s.top), TempPrefix) || filepath.Dir(s.top) != r.dir {
		return nil
	}
	return os.RemoveAll(s.top)
}

// CleanStale removes what a killed process left in models_dir: staged
// uploads and state files (.tmp-*) and half-removed versions (.rm-*). Call
// it before the first scan, while no upload is in progress. It returns the
// names it removed.
func (r *Repository) CleanStale() ([]string, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), TempPrefix) && !strings.HasPrefix(e.Name(), removingPrefix) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// checkFiles refuses file names that could leave the version folder, hide,
// repeat, or stand for the artifact or the manifest, and a second
// artifact-like file (a two-stage model's classifier.joblib) unless the
// manifest names which one is the artifact.
func checkFiles(artifactName string, manifest []byte, files []File) error {
	if len(files) > MaxFiles {
		return fmt.Errorf("%w: %d files besides the artifact (at most %d)", ErrInvalidName, len(files), MaxFiles)
	}
	seen := map[string]bool{artifactName: true, ManifestFile: true}
	for _, f := range files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") ||
			strings.ContainsAny(f.Name, `/\`) || seen[f.Name] {
			return fmt.Errorf("%w: file name %q (want a plain file name, not the artifact's or %s, each once)",
				ErrInvalidName, f.Name, ManifestFile)
		}
		seen[f.Name] = true
		if FrameworkOf(f.Name) != "" {
			m, _, err := ParseManifest(manifest)
			if err != nil {
				return err
			}
			if m.Artifact != artifactName {
				return fmt.Errorf("%w: %s and %s are both model artifacts; %s must name the artifact (artifact: %s)",
					ErrInvalid, artifactName, f.Name, ManifestFile, artifactName)
			}
		}
	}
	return nil
}

// Remove deletes a version folder (used when a freshly written version fails
// to load); it is first renamed to a dot-name so pollers never see it half gone.
func (r *Repository) Remove(name, version string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if _, err := ParseVersion(version); err != nil {
		return err
	}
	final := filepath.Join(r.dir, name, version)
	tmp := filepath.Join(r.dir, removingPrefix+name+"-"+version)
	os.RemoveAll(tmp)
	if err := os.Rename(final, tmp); err != nil {
		return fmt.Errorf("model repository: %w", err)
	}
	err := os.RemoveAll(tmp)
	os.Remove(filepath.Join(r.dir, name)) // the name folder, if that was its last version
	return err
}

func writeFileSync(path string, src io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("model repository: fsync %s: %w", dir, err)
	}
	return nil
}
