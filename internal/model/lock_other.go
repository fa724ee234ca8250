//go:build !unix

package model

// lockFile is a no-op where flock(2) does not exist: the registry's own
// admin lock still serialises one process's writers.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
