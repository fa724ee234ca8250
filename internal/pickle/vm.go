package pickle

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
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
	s := NewStream(r, opts)
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

// NewStream wraps r with the limits of opts.
func NewStream(r io.Reader, opts Options) *Stream {
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

// machine is the state of one pickle program.
type machine struct {
	s       *Stream
	stack   []any
	marks   []int
	memo    []any         // dense memo: index i at memo[i]
	memoSet []bool        // which dense entries are set
	sparse  map[int64]any // memo entries far beyond the dense part
	proto   int
	scratch [1 << 12]byte
}

// maxHashWork bounds the bytes that hashing dict keys and set items may
// cost in one load: hashWorkPerByte per byte of input, plus a fixed
// allowance. A key is hashed each time it is stored, so a stream that
// reuses one long key through the memo would otherwise hash gigabytes from
// a few kilobytes.
const (
	hashWorkPerByte = 4
	hashWorkBase    = 1 << 25
)

// charge accounts for hashing items as dict keys or set members, at what
// hashing them costs (see keyCost): the work of one load is bounded by a
// multiple of its input, however often a stream reuses one long key
// through the memo.
func (m *machine) charge(items []any, stride int) error {
	s := m.s
	for i := 0; i < len(items); i += stride {
		s.work += keyCost(items[i], 0)
	}
	if s.work > hashWorkPerByte*s.read+hashWorkBase {
		return fmt.Errorf("%w: hashing dict keys and set items costs more than %d bytes (hash work)", ErrLimit, s.work)
	}
	return nil
}

// account charges the memory and step cost of opcode op before it runs:
// a fixed cost per value it creates or stores (opCost), and for the
// opcodes that take the items above a MARK, a cost per item (itemCost).
func (m *machine) account(op byte) error {
	s := m.s
	c := int64(opCost[op])
	if per := itemCost[op]; per != 0 && len(m.marks) > 0 {
		c += int64(per) * int64(len(m.stack)-m.marks[len(m.marks)-1])
	}
	s.steps++
	if s.steps%checkEvery == 0 {
		if err := s.check(); err != nil {
			return err
		}
	}
	return s.charge(c)
}

// errf returns an error wrapping ErrMalformed.
func (m *machine) errf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func (m *machine) push(v any) { m.stack = append(m.stack, v) }

func (m *machine) pop() (any, error) {
	n := len(m.stack)
	if n == 0 || (len(m.marks) > 0 && m.marks[len(m.marks)-1] >= n) {
		return nil, m.errf("stack underflow")
	}
	v := m.stack[n-1]
	m.stack = m.stack[:n-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	n := len(m.stack)
	if n == 0 || (len(m.marks) > 0 && m.marks[len(m.marks)-1] >= n) {
		return nil, m.errf("stack underflow")
	}
	return m.stack[n-1], nil
}

// popMarkView calls fn with the item below the topmost mark and the items
// above it (a view that fn must not keep), then removes the items and the
// mark.
func (m *machine) popMarkView(fn func(target any, items []any) error) error {
	if len(m.marks) == 0 {
		return m.errf("no MARK on the stack")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	if k == 0 || (len(m.marks) > 0 && m.marks[len(m.marks)-1] >= k) {
		return m.errf("stack underflow")
	}
	err := fn(m.stack[k-1], m.stack[k:])
	clear(m.stack[k:])
	m.stack = m.stack[:k]
	return err
}

// popMark returns the items above the topmost mark and removes them and the mark.
func (m *machine) popMark() ([]any, error) {
	if len(m.marks) == 0 {
		return nil, m.errf("no MARK on the stack")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := make([]any, len(m.stack)-k)
	copy(items, m.stack[k:])
	clear(m.stack[k:])
	m.stack = m.stack[:k]
	return items, nil
}

func (m *machine) readLine() (string, error) {
	var b []byte
	for {
		c, err := m.s.ReadByte()
		if err != nil {
			return "", truncated(err)
		}
		if c == '\n' {
			return string(b), nil
		}
		b = append(b, c)
	}
}

func (m *machine) readUint(n int) (uint64, error) {
	buf := m.scratch[:8]
	clear(buf)
	if _, err := io.ReadFull(m.s, buf[:n]); err != nil {
		return 0, truncated(err)
	}
	return binary.LittleEndian.Uint64(buf), nil
}

// readString reads a length-prefixed UTF-8 string.
func (m *machine) readString(lenSize int) (string, error) {
	n, err := m.readUint(lenSize)
	if err != nil {
		return "", err
	}
	if n <= uint64(len(m.scratch)) {
		if int64(n) > m.s.opts.MaxBytes-m.s.read {
			return "", fmt.Errorf("%w: %d bytes claimed, more than the %d-byte input limit", ErrLimit, n, m.s.opts.MaxBytes)
		}
		b := m.scratch[:n]
		if _, err := io.ReadFull(m.s, b); err != nil {
			return "", truncated(err)
		}
		return string(b), nil
	}
	if n > math.MaxInt64 {
		return "", fmt.Errorf("%w: length %d", ErrLimit, n)
	}
	if n <= 1<<20 {
		// Read straight into the string's memory: one allocation, where
		// ReadN and a conversion would make two.
		if int64(n) > m.s.room() {
			_, err := m.s.ReadN(int64(n)) // the error that names the limit
			return "", err
		}
		var sb strings.Builder
		sb.Grow(int(n))
		if _, err := io.CopyN(&sb, m.s, int64(n)); err != nil {
			return "", truncated(err)
		}
		return sb.String(), nil
	}
	b, err := m.s.ReadN(int64(n))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (m *machine) readBytes(lenSize int) ([]byte, error) {
	n, err := m.readUint(lenSize)
	if err != nil {
		return nil, err
	}
	if n > math.MaxInt64 {
		return nil, fmt.Errorf("%w: length %d", ErrLimit, n)
	}
	return m.s.ReadN(int64(n))
}

func (m *machine) global(module, name string) error {
	if _, err := m.s.opts.Allow.Lookup(module, name); err != nil {
		return err
	}
	m.push(Global{Module: module, Name: name})
	return nil
}

func (m *machine) call(callable any, args Tuple, kwargs *Dict) (any, error) {
	g, ok := callable.(Global)
	if !ok {
		return nil, m.errf("cannot call a %T", callable)
	}
	if isSetType(g) && len(args) == 1 {
		// set(iterable) hashes every item: the same work as ADDITEMS.
		var items []any
		switch v := args[0].(type) {
		case *List:
			items = v.Items
		case Tuple:
			items = v
		case *Set:
			items = v.Items
		}
		if err := m.charge(items, 1); err != nil {
			return nil, err
		}
	}
	return m.s.opts.Allow.Call(g, args, kwargs)
}

// isSetType says whether g is the builtin set or frozenset.
func isSetType(g Global) bool {
	return (g.Module == "builtins" || g.Module == "__builtin__") && (g.Name == "set" || g.Name == "frozenset")
}

func (m *machine) memoGet(i int64) error {
	if i >= 0 && i < int64(len(m.memo)) && m.memoSet[i] {
		m.push(m.memo[i])
		return nil
	}
	v, ok := m.sparse[i]
	if !ok {
		return m.errf("memo entry %d is missing", i)
	}
	m.push(v)
	return nil
}

func (m *machine) memoPut(i int64) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if i < 0 {
		return m.errf("negative memo index")
	}
	switch {
	case i < int64(len(m.memo)):
		m.memo[i], m.memoSet[i] = v, true
	case i == int64(len(m.memo)):
		m.memo = append(m.memo, v)
		m.memoSet = append(m.memoSet, true)
	default:
		if m.sparse == nil {
			m.sparse = make(map[int64]any)
		}
		m.sparse[i] = v
	}
	return nil
}

// memoLen is the number of memo entries, for MEMOIZE.
func (m *machine) memoLen() int64 {
	return int64(len(m.memo) + len(m.sparse))
}

func setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("%w: odd number of items for a dict", ErrMalformed)
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.Set(items[i], items[i+1]); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return nil
}

// run executes opcodes until STOP.
func (m *machine) run() (any, error) {
	for {
		op, err := m.s.ReadByte()
		if err != nil {
			return nil, truncated(err)
		}
		if op == '.' { // STOP
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := m.account(op); err != nil {
			return nil, err
		}
		if err := m.step(op); err != nil {
			return nil, err
		}
	}
}

func (m *machine) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		b, err := m.s.ReadByte()
		if err != nil {
			return truncated(err)
		}
		if b > 5 {
			return m.errf("unsupported protocol %d", b)
		}
		m.proto = int(b)
	case 0x95: // FRAME: a length hint; the bytes follow in order.
		if _, err := m.readUint(8); err != nil {
			return err
		}
	case '(': // MARK
		if len(m.marks) >= m.s.opts.MaxDepth {
			return fmt.Errorf("%w: MARKs nested deeper than %d", ErrLimit, m.s.opts.MaxDepth)
		}
		m.marks = append(m.marks, len(m.stack))
	case '0': // POP
		if len(m.stack) > 0 && (len(m.marks) == 0 || m.marks[len(m.marks)-1] < len(m.stack)) {
			m.stack = m.stack[:len(m.stack)-1]
			return nil
		}
		if len(m.marks) > 0 && m.marks[len(m.marks)-1] == len(m.stack) {
			m.marks = m.marks[:len(m.marks)-1] // Python pops the mark
			return nil
		}
		return m.errf("stack underflow")
	case '1': // POP_MARK
		_, err := m.popMark()
		return err
	case '2': // DUP
		v, err := m.top()
		if err != nil {
			return err
		}
		m.push(v)

	// Constants.
	case 'N':
		m.push(nil)
	case 0x88:
		m.push(true)
	case 0x89:
		m.push(false)
	case 'I': // INT
		line, err := m.readLine()
		if err != nil {
			return err
		}
		switch line {
		case "00":
			m.push(false)
		case "01":
			m.push(true)
		default:
			v, err := parseInt(line)
			if err != nil {
				return m.intErr("INT", line, err)
			}
			m.push(v)
		}
	case 'L': // LONG
		line, err := m.readLine()
		if err != nil {
			return err
		}
		v, err := parseInt(strings.TrimSuffix(line, "L"))
		if err != nil {
			return m.intErr("LONG", line, err)
		}
		m.push(v)
	case 'J':
		v, err := m.readUint(4)
		if err != nil {
			return err
		}
		m.push(int64(int32(uint32(v))))
	case 'K':
		v, err := m.readUint(1)
		if err != nil {
			return err
		}
		m.push(int64(v))
	case 'M':
		v, err := m.readUint(2)
		if err != nil {
			return err
		}
		m.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		size := 1
		if op == 0x8b {
			size = 4
		}
		n, err := m.readUint(size)
		if err != nil {
			return err
		}
		if op == 0x8b && int32(uint32(n)) < 0 {
			return m.errf("negative LONG4 length")
		}
		b, err := m.s.ReadN(int64(n))
		if err != nil {
			return err
		}
		m.push(decodeLong(b))
	case 'F': // FLOAT
		line, err := m.readLine()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return m.errf("FLOAT %q", clip(line))
		}
		m.push(f)
	case 'G': // BINFLOAT, big-endian
		var b [8]byte
		if _, err := io.ReadFull(m.s, b[:]); err != nil {
			return truncated(err)
		}
		m.push(math.Float64frombits(binary.BigEndian.Uint64(b[:])))

	// Strings and bytes.
	case 'S': // STRING: a quoted Python 2 str literal
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := unquote(line)
		if err != nil {
			return m.errf("STRING: %v", err)
		}
		m.push(s)
	case 'T', 'U': // BINSTRING, SHORT_BINSTRING: Python 2 str, read as latin-1
		if op == 'T' {
			n, err := m.readUint(4)
			if err != nil {
				return err
			}
			if int32(uint32(n)) < 0 {
				return m.errf("negative BINSTRING length")
			}
			b, err := m.s.ReadN(int64(n))
			if err != nil {
				return err
			}
			m.push(latin1(b))
			return nil
		}
		b, err := m.readBytes(1)
		if err != nil {
			return err
		}
		m.push(latin1(b))
	case 'V': // UNICODE: raw-unicode-escape
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := rawUnicodeEscape(line)
		if err != nil {
			return m.errf("UNICODE: %v", err)
		}
		m.push(s)
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		size := 4
		if op == 0x8c {
			size = 1
		} else if op == 0x8d {
			size = 8
		}
		str, err := m.readString(size)
		if err != nil {
			return err
		}
		m.push(str)
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		size := 8
		if op == 'B' {
			size = 4
		} else if op == 'C' {
			size = 1
		}
		b, err := m.readBytes(size)
		if err != nil {
			return err
		}
		m.push(b)
	case 0x97: // NEXT_BUFFER
		return m.errf("out-of-band buffers are not supported")
	case 0x98: // READONLY_BUFFER
		if _, err := m.top(); err != nil {
			return err
		}

	// Containers.
	case ')':
		m.push(Tuple{})
	case 't':
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(Tuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(m.stack) < n || (len(m.marks) > 0 && m.marks[len(m.marks)-1] > len(m.stack)-n) {
			return m.errf("stack underflow")
		}
		t := make(Tuple, n)
		copy(t, m.stack[len(m.stack)-n:])
		m.stack = m.stack[:len(m.stack)-n]
		m.push(t)
	case ']':
		m.push(&List{})
	case 'l':
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(&List{Items: items})
	case 'a': // APPEND
		v, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		l, ok := t.(*List)
		if !ok {
			return m.errf("APPEND to a %T", t)
		}
		l.Items = append(l.Items, v)
	case 'e': // APPENDS
		return m.popMarkView(func(t any, items []any) error {
			l, ok := t.(*List)
			if !ok {
				return m.errf("APPENDS to a %T", t)
			}
			l.Items = append(l.Items, items...)
			return nil
		})
	case '}':
		m.push(NewDict(0))
	case 'd':
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if err := m.charge(items, 2); err != nil {
			return err
		}
		d := NewDict(len(items) / 2)
		if err := setItems(d, items); err != nil {
			return err
		}
		m.push(d)
	case 's': // SETITEM
		v, err := m.pop()
		if err != nil {
			return err
		}
		k, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		d, ok := t.(*Dict)
		if !ok {
			return m.errf("SETITEM on a %T", t)
		}
		if err := m.charge([]any{k}, 1); err != nil {
			return err
		}
		return setItems(d, []any{k, v})
	case 'u': // SETITEMS
		return m.popMarkView(func(t any, items []any) error {
			d, ok := t.(*Dict)
			if !ok {
				return m.errf("SETITEMS on a %T", t)
			}
			if err := m.charge(items, 2); err != nil {
				return err
			}
			return setItems(d, items)
		})
	case 0x8f: // EMPTY_SET
		m.push(&Set{})
	case 0x90: // ADDITEMS
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		st, ok := t.(*Set)
		if !ok {
			return m.errf("ADDITEMS on a %T", t)
		}
		if err := m.charge(items, 1); err != nil {
			return err
		}
		return st.add(items)
	case 0x91: // FROZENSET
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if err := m.charge(items, 1); err != nil {
			return err
		}
		st := &Set{}
		if err := st.add(items); err != nil {
			return err
		}
		m.push(st)

	// Memo.
	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		i, err := m.memoIndex(op, "GET")
		if err != nil {
			return err
		}
		return m.memoGet(i)
	case 'p', 'q', 'r': // PUT, BINPUT, LONG_BINPUT
		i, err := m.memoIndex(op, "PUT")
		if err != nil {
			return err
		}
		return m.memoPut(i)
	case 0x94: // MEMOIZE
		return m.memoPut(m.memoLen())

	// Globals and calls.
	case 'c': // GLOBAL
		module, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		return m.global(module, name)
	case 0x93: // STACK_GLOBAL
		n, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		module, ok1 := mod.(string)
		name, ok2 := n.(string)
		if !ok1 || !ok2 {
			return m.errf("STACK_GLOBAL of %T and %T", mod, n)
		}
		return m.global(module, name)
	case 'R', 0x81: // REDUCE (callable, args) and NEWOBJ (class, args)
		a, err := m.pop()
		if err != nil {
			return err
		}
		f, err := m.pop()
		if err != nil {
			return err
		}
		args, ok := a.(Tuple)
		if !ok {
			name := "REDUCE"
			if op == 0x81 {
				name = "NEWOBJ"
			}
			return m.errf("%s arguments are a %T", name, a)
		}
		return m.callPush(f, args, nil)
	case 0x92: // NEWOBJ_EX
		kw, err := m.pop()
		if err != nil {
			return err
		}
		a, err := m.pop()
		if err != nil {
			return err
		}
		c, err := m.pop()
		if err != nil {
			return err
		}
		args, ok := a.(Tuple)
		kwargs, ok2 := kw.(*Dict)
		if !ok || !ok2 {
			return m.errf("NEWOBJ_EX arguments are %T and %T", a, kw)
		}
		return m.callPush(c, args, kwargs)
	case 'i': // INST
		module, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		if _, err := m.s.opts.Allow.Lookup(module, name); err != nil {
			return err
		}
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.callPush(Global{Module: module, Name: name}, Tuple(items), nil)
	case 'o': // OBJ
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return m.errf("OBJ without a class")
		}
		return m.callPush(items[0], Tuple(items[1:]), nil)
	case 'b': // BUILD
		state, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		switch o := t.(type) {
		case Stater:
			if err := o.SetState(state); err != nil {
				return err
			}
		case *Object:
			o.State = state
		default:
			return m.errf("BUILD on a %T", t)
		}
		if sr, ok := t.(StreamReader); ok {
			v, err := sr.ReadStream(m.s)
			if err != nil {
				return err
			}
			m.stack[len(m.stack)-1] = v
		}
	case 'P', 'Q':
		return m.errf("persistent ids are not supported")
	case 0x82, 0x83, 0x84:
		return m.errf("extension codes are not supported")
	default:
		return m.errf("unknown opcode %#02x", op)
	}
	return nil
}

// errIntDigits is parseInt's error for a decimal text over MaxIntDigits.
var errIntDigits = fmt.Errorf("%w: integer text longer than %d digits (MaxIntDigits)", ErrLimit, MaxIntDigits)

// intErr is the error of an INT or LONG opcode whose text parseInt refused.
func (m *machine) intErr(what, line string, err error) error {
	if errors.Is(err, ErrLimit) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return m.errf("%s %q", what, clip(line))
}

// clip shortens a line of the stream for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseInt parses a decimal Python int, as int64 when it fits. Texts of
// more than MaxIntDigits digits are refused before any conversion.
func parseInt(s string) (any, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxIntDigits+1 && len(strings.TrimLeft(s, "+-")) > MaxIntDigits {
		return nil, errIntDigits
	}
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, errors.New("not an int")
	}
	return b, nil
}

// decodeLong decodes a little-endian two's-complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var buf [8]byte
		copy(buf[:], b)
		if b[len(b)-1]&0x80 != 0 {
			for i := len(b); i < 8; i++ {
				buf[i] = 0xff
			}
		}
		return int64(binary.LittleEndian.Uint64(buf[:]))
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// latin1 decodes bytes as latin-1.
func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// unquote decodes a Python 2 str repr ('...' or "...") as latin-1 text.
func unquote(s string) (string, error) {
	s = strings.TrimRight(s, " \r")
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", errors.New("not a quoted string")
	}
	s = s[1 : len(s)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("trailing backslash")
		}
		switch c = s[i]; c {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'v':
			out = append(out, 11)
		case '\\', '\'', '"':
			out = append(out, c)
		case '\n':
		case 'x':
			if i+3 > len(s) {
				return "", errors.New("bad \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", errors.New("bad \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 16)
			out = append(out, byte(v))
			i = j - 1
		default:
			out = append(out, '\\', c)
		}
	}
	return latin1(out), nil
}

// rawUnicodeEscape decodes Python's raw-unicode-escape codec: \uXXXX and
// \UXXXXXXXX escapes, every other byte is a latin-1 code point.
func rawUnicodeEscape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", errors.New("truncated escape")
			}
			v, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", errors.New("bad escape")
			}
			b.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		b.WriteRune(rune(c))
	}
	return b.String(), nil
}

// memoIndex reads the memo index operand of a GET or PUT opcode: a decimal
// line for the text forms ('g', 'p'), one byte for BINGET/BINPUT ('h', 'q'),
// four for the LONG_ forms ('j', 'r').
func (m *machine) memoIndex(op byte, what string) (int64, error) {
	switch op {
	case 'g', 'p':
		line, err := m.readLine()
		if err != nil {
			return 0, err
		}
		i, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return 0, m.errf("%s %q", what, line)
		}
		return i, nil
	case 'h', 'q':
		i, err := m.readUint(1)
		return int64(i), err
	default:
		i, err := m.readUint(4)
		return int64(i), err
	}
}

// callPush calls f (a callable popped for REDUCE, NEWOBJ, NEWOBJ_EX, INST or
// OBJ) and pushes what it builds.
func (m *machine) callPush(f any, args Tuple, kwargs *Dict) error {
	v, err := m.call(f, args, kwargs)
	if err != nil {
		return err
	}
	m.push(v)
	return nil
}
