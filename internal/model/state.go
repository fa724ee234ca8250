package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StateFile is the registry's persisted state inside models_dir.
const StateFile = ".mlserve-state.json"

// stateLockFile is the file whose lock serialises the state's writers that
// share a folder (several replicas on one volume); it is never published.
const stateLockFile = ".mlserve-state.lock"

// WholeMarker is an empty file that a version folder holds when it was
// renamed into place complete: written by Stage (every upload, through any
// replica) and by the mirror for a version it fetched whole. A poll loads
// such a version the first time it sees it; a folder without it (copied in
// by hand) is loaded once it looks the same on two consecutive scans.
const WholeMarker = ".mlserve-whole"

// State is what the registry persists in the repository, the one view of
// versions that every replica sharing the repository follows: each name's
// chosen default version, the versions an admin unloaded, and how many
// versions of a name stay loaded. Each replica re-reads it on every poll.
type State struct {
	// Defaults maps a name to the version an admin (or install) made its default.
	Defaults map[string]string `json:"defaults"`
	// Unloaded lists the ids an admin unloaded; they are not loaded at start-up.
	Unloaded []string `json:"unloaded"`
	// KeepLoaded overrides versions.keep_loaded for a name: how many of its
	// versions stay loaded (its default and the newest others).
	KeepLoaded map[string]int `json:"keep_loaded,omitempty"`
}

// LoadState reads the persisted state; a missing file is an empty state.
func (r *Repository) LoadState() (State, error) {
	s, _, err := r.readState()
	return s, err
}

// readState reads the persisted state and returns it with the file's
// content ("" when there is none), which tells a poll whether it changed.
func (r *Repository) readState() (State, string, error) {
	s := State{Defaults: map[string]string{}}
	b, err := os.ReadFile(filepath.Join(r.dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return s, "", nil
	}
	if err != nil {
		return s, "", fmt.Errorf("model repository state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{Defaults: map[string]string{}}, "", fmt.Errorf("model repository state %s: %w", StateFile, err)
	}
	if s.Defaults == nil {
		s.Defaults = map[string]string{}
	}
	for name, n := range s.KeepLoaded {
		if n < 1 {
			return State{Defaults: map[string]string{}}, "", fmt.Errorf("model repository state %s: keep_loaded of %s is %d (want at least 1)", StateFile, name, n)
		}
	}
	return s, string(b), nil
}

// SaveState writes the state atomically (temp file, fsync, rename, fsync dir).
// In a repository that cannot be written it writes nothing and returns an
// error wrapping ErrReadOnly: the state then lives as long as the process.
func (r *Repository) SaveState(s State) error {
	_, err := r.saveState(s)
	return err
}

// saveState is SaveState; it returns the content written.
func (r *Repository) saveState(s State) (string, error) {
	if !r.writeable {
		return "", fmt.Errorf("%w: %s not saved in %s", ErrReadOnly, StateFile, r.dir)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	b = append(b, '\n')
	if err := r.publish(func(ctx context.Context, p Publisher) error { return p.PublishState(ctx, b) }); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(r.dir, TempPrefix+"state-")
	if err != nil {
		return "", fmt.Errorf("model repository state: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), filepath.Join(r.dir, StateFile)); err != nil {
		return "", fmt.Errorf("model repository state: %w", err)
	}
	if err := syncDir(r.dir); err != nil {
		return "", err
	}
	r.didChange()
	return string(b), nil
}

// StateRefresher is a Publisher that can bring the local state file up to
// date with its store (internal/mirror) before UpdateState reads it.
type StateRefresher interface {
	// RefreshState fetches the store's state file if it changed.
	RefreshState(ctx context.Context) error
}

// UpdateState changes the state as the repository holds it now: it reads
// the state file, applies fn, and writes the result atomically, all under
// an exclusive lock on models_dir/.mlserve-state.lock, so that replicas
// sharing the folder never lose each other's changes (a replica's stale
// copy of the state is never written back). It returns the state written
// and its content. A repository that cannot be written returns an error
// wrapping ErrReadOnly and writes nothing. For an s3:// repository the
// state is first fetched again from the store (StateRefresher), so only two
// changes within the same few milliseconds, through two replicas, can race
// in the store (object stores have no lock).
func (r *Repository) UpdateState(fn func(*State)) (State, string, error) {
	if !r.writeable {
		return State{}, "", fmt.Errorf("%w: %s not saved in %s", ErrReadOnly, StateFile, r.dir)
	}
	unlock, err := lockFile(filepath.Join(r.dir, stateLockFile))
	if err != nil {
		return State{}, "", fmt.Errorf("model repository state: locking: %w", err)
	}
	defer unlock()
	if sr, ok := r.pub.(StateRefresher); ok {
		if err := r.publish(func(ctx context.Context, _ Publisher) error { return sr.RefreshState(ctx) }); err != nil {
			return State{}, "", err
		}
	}
	s, _, err := r.readState()
	if err != nil {
		return State{}, "", err
	}
	fn(&s)
	raw, err := r.saveState(s)
	if err != nil {
		return State{}, "", err
	}
	return s, raw, nil
}

// clone returns a deep copy of s.
func (s State) clone() State {
	c := State{Defaults: make(map[string]string, len(s.Defaults)), Unloaded: append([]string(nil), s.Unloaded...)}
	for k, v := range s.Defaults {
		c.Defaults[k] = v
	}
	if s.KeepLoaded != nil {
		c.KeepLoaded = make(map[string]int, len(s.KeepLoaded))
		for k, v := range s.KeepLoaded {
			c.KeepLoaded[k] = v
		}
	}
	return c
}

// Holds reports whether the repository has a version folder name/version
// (any version of name when version is ""), without reading it: a request
// for a version another replica just added is "not ready", not "not
// found", until this replica's next poll loads it.
func (r *Repository) Holds(name, version string) bool {
	if ValidName(name) != nil {
		return false
	}
	if version == "" {
		vs, err := os.ReadDir(filepath.Join(r.dir, name))
		if err != nil {
			return false
		}
		for _, v := range vs {
			if _, err := ParseVersion(v.Name()); err == nil && v.IsDir() {
				return true
			}
		}
		return false
	}
	if _, err := ParseVersion(version); err != nil {
		return false
	}
	fi, err := os.Lstat(filepath.Join(r.dir, name, version))
	return err == nil && fi.IsDir()
}
