package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ResolvePath returns the file that a manifest's key names inside the
// version folder dir, or an error wrapping ErrInvalid that names the key: an
// absolute name, a name that climbs out of dir with "..", or one that
// reaches a file outside dir through a symbolic link (the link's target is
// resolved, and must still be inside dir with its own links resolved). A
// name that is inside dir but does not exist is returned as it is, so the
// caller's open reports it missing. The error never holds anything read
// from a file.
func ResolvePath(dir, key, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: %s %s: empty file name", ErrInvalid, ManifestFile, key)
	}
	if filepath.IsAbs(name) || strings.HasPrefix(name, `\`) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("%w: %s %s: %q is an absolute path; name a file inside the version folder", ErrInvalid, ManifestFile, key, name)
	}
	clean := filepath.Clean(name)
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("%w: %s %s: %q leaves the version folder", ErrInvalid, ManifestFile, key, name)
	}
	path := filepath.Join(dir, clean)
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Missing, or a link to nowhere: refuse a dangling link that points
		// out, let a plain missing file be reported by the caller.
		if target, lerr := os.Readlink(path); lerr == nil && !within(dir, filepath.Join(filepath.Dir(path), target), target) {
			return "", fmt.Errorf("%w: %s %s: %q is a link that leaves the version folder", ErrInvalid, ManifestFile, key, name)
		}
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s %s: %q: %v", ErrInvalid, ManifestFile, key, name, pathErr(err))
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("version folder: %w", err)
	}
	if !inside(root, real) {
		return "", fmt.Errorf("%w: %s %s: %q is a link that leaves the version folder", ErrInvalid, ManifestFile, key, name)
	}
	return real, nil
}

// within reports whether a dangling link's target stays in dir, judged on
// its text alone (it cannot be resolved).
func within(dir, joined, target string) bool {
	if filepath.IsAbs(target) {
		return inside(filepath.Clean(dir), filepath.Clean(target))
	}
	return inside(filepath.Clean(dir), filepath.Clean(joined))
}

// inside reports whether path is root or below it; both are clean.
func inside(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && filepath.IsLocal(rel)
}

// pathErr is a file-system error without the path it carries (the caller
// names the key and the file).
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// backquoted is a value that yaml.v3 quotes from the document in its type
// errors ("cannot unmarshal !!str `...` into ...").
var backquoted = regexp.MustCompile("`[^`]*`")

// ContentFreeError rewrites a YAML or JSON decoding error so it keeps the
// line (or offset) and what was expected, but no text of the document it
// read: a manifest may be a link to a file that is not the admin's to show.
func ContentFreeError(err error) string {
	msg := backquoted.ReplaceAllString(err.Error(), "a value")
	if i := strings.Index(msg, "invalid character "); i >= 0 {
		// encoding/json: "invalid character 'x' looking for ..." quotes a byte
		msg = msg[:i] + "invalid character" + afterQuoted(msg[i+len("invalid character "):])
	}
	return strings.ReplaceAll(msg, "\n  ", " ")
}

// afterQuoted drops a leading 'x' (single-quoted, possibly escaped) character.
func afterQuoted(s string) string {
	if !strings.HasPrefix(s, "'") {
		return " " + s
	}
	if j := strings.Index(s[1:], "' "); j >= 0 {
		return s[j+2:]
	}
	return ""
}
