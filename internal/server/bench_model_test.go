package server_test

import (
	"io"
	"log/slog"
	"testing"
)

// benchRegistry is the registry the benchmark serves and the id it asks for.
func benchRegistry(b *testing.B) (*fakeRegistry, string) {
	return newFakeRegistry(), "spam-v1"
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
