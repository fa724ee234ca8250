package payloadlog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// FileSink writes events as JSON lines to a file that rotates by size:
// when a write would take it past maxBytes, path.1 becomes path.2 (and so
// on, keeping maxFiles), path becomes path.1, and a new path starts. A
// single batch larger than maxBytes is written whole to a fresh file.
type FileSink struct {
	path     string
	maxBytes int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64
}

var _ Sink = (*FileSink)(nil)

// NewFileSink opens (appending) or creates path.
func NewFileSink(path string, maxBytes int64, maxFiles int) (*FileSink, error) {
	s := &FileSink{path: path, maxBytes: maxBytes, maxFiles: maxFiles}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSink) open() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("payload log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("payload log file: %w", err)
	}
	s.f, s.size = f, st.Size()
	return nil
}

// Send appends one line per event.
func (s *FileSink) Send(_ context.Context, events []Event) error {
	var b []byte
	for _, e := range events {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("payload log file %s: closed", s.path)
	}
	if s.size > 0 && s.size+int64(len(b)) > s.maxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(b)
	s.size += int64(n)
	return err
}

// rotate shifts the rotated files by one and starts a new file; s.mu held.
func (s *FileSink) rotate() error {
	if err := s.f.Close(); err != nil {
		return err
	}
	s.f = nil
	if s.maxFiles == 0 {
		if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return s.open()
	}
	_ = os.Remove(s.path + "." + strconv.Itoa(s.maxFiles))
	for i := s.maxFiles - 1; i >= 1; i-- {
		from := s.path + "." + strconv.Itoa(i)
		if err := os.Rename(from, s.path+"."+strconv.Itoa(i+1)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		return err
	}
	return s.open()
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
