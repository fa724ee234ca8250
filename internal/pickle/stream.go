package pickle

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxBytes  = 1 << 30
	DefaultMaxDepth  = 1000
	DefaultMaxMemory = 2 << 30
	DefaultMaxSteps  = 1 << 30
)

// MaxIntDigits bounds the decimal text of an INT or LONG opcode, as
// Python's own sys.int_info.default_max_str_digits does: converting n
// decimal digits costs O(n²), so a few 1M-digit integers would take
// seconds each.
const MaxIntDigits = 4300

// checkEvery is how many opcodes run between two looks at the context and
// the step budget.
const checkEvery = 4096

// Options control Load.
type Options struct {
	// Allow resolves the globals the stream names. nil allows nothing, not
	// even builtins: use NewAllowList.
	Allow *AllowList
	// MaxBytes caps the bytes read from the input (default DefaultMaxBytes).
	// Since every allocation is bounded by the bytes actually read, it also
	// caps memory use to a small multiple of itself.
	MaxBytes int64
	// MaxDepth caps the nesting of MARKs and of nested pickles (default
	// DefaultMaxDepth).
	MaxDepth int
	// MaxMemory caps the memory the decoded values may hold (default
	// DefaultMaxMemory): every opcode that creates or stores a value
	// charges an estimate of the Go memory it takes, and the bytes read
	// count once more, since strings and arrays keep them. The input
	// stream is cut when the two together reach the cap, so a
	// decompression bomb stops while it streams.
	MaxMemory int64
	// MaxSteps caps the opcodes one load runs, nested pickles included
	// (default DefaultMaxSteps).
	MaxSteps int64
}

// Load decodes one pickle from r and returns its value. It reads exactly up
// to and including the STOP opcode, so that several pickles (or a pickle and
// raw bytes) can be read in a row from a reader that implements
// io.ByteReader; other readers are wrapped in a bufio.Reader that may read
// ahead.
func Load(r io.Reader, opts Options) (any, error) {
	return LoadContext(context.Background(), r, opts)
}

// LoadContext is Load that stops, with an error wrapping ctx.Err() and
// ErrLimit, when ctx is done. The context is looked at every few thousand
// opcodes and between the chunks of a long read.
func LoadContext(ctx context.Context, r io.Reader, opts Options) (any, error) {
	s := newStream(r, opts)
	s.ctx = ctx
	return s.Load()
}

// Stream is the input of a pickle with its limits. A StreamReader receives
// it to read the raw bytes, or the nested pickle, that follow its BUILD.
//
// A Stream lives for one LoadContext call, so it keeps that call's context
// (as an http.Request does) for the nested pickles that a StreamReader
// loads through it.
type Stream struct {
	r     io.ByteReader
	rd    io.Reader
	opts  Options
	read  int64
	depth int
	ctx   context.Context
	mem   int64 // estimated bytes held by decoded values, besides read
	steps int64 // opcodes run
	work  int64 // bytes of dict keys and set items hashed so far
}

type byteReader interface {
	io.Reader
	io.ByteReader
}

// newStream wraps r with the limits of opts.
func newStream(r io.Reader, opts Options) *Stream {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = DefaultMaxSteps
	}
	br, ok := r.(byteReader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Stream{r: br, rd: br, opts: opts, ctx: context.Background()}
}

// room is how many more bytes may be read: the input cap, less what the
// decoded values already hold against the memory cap.
func (s *Stream) room() int64 {
	return min(s.opts.MaxBytes-s.read, s.opts.MaxMemory-s.mem-s.read)
}

// limitErr says which cap reading more than room would pass.
func (s *Stream) limitErr() error {
	if s.read >= s.opts.MaxBytes {
		return fmt.Errorf("%w: input larger than %d bytes (MaxBytes)", ErrLimit, s.opts.MaxBytes)
	}
	return s.memErr()
}

func (s *Stream) memErr() error {
	return fmt.Errorf("%w: decoded values need more than the %d-byte memory limit (MaxMemory)", ErrLimit, s.opts.MaxMemory)
}

// charge adds n bytes to the memory the decoded values hold.
func (s *Stream) charge(n int64) error {
	s.mem += n
	if s.mem+s.read > s.opts.MaxMemory {
		return s.memErr()
	}
	return nil
}

// check looks at the context and the step budget.
func (s *Stream) check() error {
	if s.steps > s.opts.MaxSteps {
		return fmt.Errorf("%w: more than %d opcodes (MaxSteps)", ErrLimit, s.opts.MaxSteps)
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("%w: load cancelled after %d opcodes: %w", ErrLimit, s.steps, err)
	}
	return nil
}

// Options returns the stream's effective options.
func (s *Stream) Options() Options { return s.opts }

// Read reads raw bytes, counting them against MaxBytes.
func (s *Stream) Read(p []byte) (int, error) {
	if rem := s.room(); int64(len(p)) > rem {
		if rem <= 0 {
			return 0, s.limitErr()
		}
		p = p[:rem]
	}
	n, err := s.rd.Read(p)
	s.read += int64(n)
	return n, err
}

// ReadByte reads one raw byte, counting it against MaxBytes.
func (s *Stream) ReadByte() (byte, error) {
	if s.room() <= 0 {
		return 0, s.limitErr()
	}
	b, err := s.r.ReadByte()
	if err == nil {
		s.read++
	}
	return b, err
}

// ReadN reads exactly n raw bytes. Memory grows with the bytes actually
// read, so a claimed length larger than the input costs nothing.
func (s *Stream) ReadN(n int64) ([]byte, error) {
	if n > s.opts.MaxMemory-s.mem-s.read {
		return nil, fmt.Errorf("%d bytes claimed: %w", n, s.memErr())
	}
	if n < 0 || n > s.opts.MaxBytes-s.read {
		return nil, fmt.Errorf("%w: %d bytes claimed, more than the %d-byte input limit (MaxBytes)", ErrLimit, n, s.opts.MaxBytes)
	}
	// Up to a mebibyte is allocated at once; beyond, the buffer grows with
	// what is actually read.
	const chunk = 1 << 16
	if n <= 1<<20 {
		b := make([]byte, n)
		if _, err := io.ReadFull(s, b); err != nil {
			return nil, truncated(err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	buf.Grow(chunk)
	for left := n; left > 0; left -= chunk {
		if err := s.ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: load cancelled: %w", ErrLimit, err)
		}
		if _, err := io.CopyN(&buf, s, min(left, chunk)); err != nil {
			return nil, truncated(err)
		}
	}
	return buf.Bytes(), nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated stream", ErrMalformed)
	}
	return err
}

// Load decodes the next pickle in the stream (a nested pickle counts
// against MaxDepth).
func (s *Stream) Load() (any, error) {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > s.opts.MaxDepth {
		return nil, fmt.Errorf("%w: pickles nested deeper than %d", ErrLimit, s.opts.MaxDepth)
	}
	m := &machine{s: s}
	return m.run()
}
