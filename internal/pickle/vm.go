package pickle

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

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

// run executes opcodes until STOP. Every opcode is accounted for (memory,
// steps, context) before it runs.
func (m *machine) run() (any, error) {
	for {
		op, err := m.s.ReadByte()
		if err != nil {
			return nil, truncated(err)
		}
		if op == opSTOP {
			return m.pop()
		}
		if err := m.account(op); err != nil {
			return nil, err
		}
		if err := m.step(op); err != nil {
			return nil, err
		}
	}
}

// step runs one opcode by handing it to the function of its family (ops.go).
// This switch is the whole instruction set: an opcode not listed here is
// refused. (A [256]func table measured no faster than this switch.)
func (m *machine) step(op byte) error {
	switch op {
	case opMARK, opPOP, opPOP_MARK, opDUP, opPROTO, opFRAME:
		return m.stackOp(op)
	case opNONE, opNEWTRUE, opNEWFALSE, opINT, opBININT, opBININT1, opBININT2,
		opLONG, opLONG1, opLONG4, opFLOAT, opBINFLOAT:
		return m.number(op)
	case opSTRING, opBINSTRING, opSHORT_BINSTRING, opUNICODE, opBINUNICODE,
		opSHORT_BINUNICODE, opBINUNICODE8, opBINBYTES, opSHORT_BINBYTES,
		opBINBYTES8, opBYTEARRAY8, opREADONLY_BUFFER:
		return m.text(op)
	case opEMPTY_TUPLE, opTUPLE, opTUPLE1, opTUPLE2, opTUPLE3,
		opEMPTY_LIST, opLIST, opAPPEND, opAPPENDS:
		return m.sequence(op)
	case opEMPTY_DICT, opDICT, opSETITEM, opSETITEMS, opEMPTY_SET, opADDITEMS, opFROZENSET:
		return m.hashed(op)
	case opGET, opBINGET, opLONG_BINGET, opPUT, opBINPUT, opLONG_BINPUT, opMEMOIZE:
		return m.memoOp(op)
	case opGLOBAL, opSTACK_GLOBAL, opREDUCE, opNEWOBJ, opNEWOBJ_EX, opINST, opOBJ, opBUILD:
		return m.object(op)
	default:
		return m.refuse(op)
	}
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
// through the memo. stride 2 charges the keys of key, value pairs.
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

// errf returns an error wrapping ErrMalformed.
func (m *machine) errf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// The stack. The items above the topmost mark are the only ones an opcode
// may pop; reaching below it is a "stack underflow". The helpers are small
// enough to be inlined into the opcodes that run most.

// errUnderflow is the error of an opcode that pops more items than there
// are above the topmost mark.
var errUnderflow = fmt.Errorf("%w: stack underflow", ErrMalformed)

// avail is how many items are above the topmost mark.
func (m *machine) avail() int {
	if len(m.marks) == 0 {
		return len(m.stack)
	}
	return len(m.stack) - m.marks[len(m.marks)-1]
}

func (m *machine) push(v any) { m.stack = append(m.stack, v) }

// pushFrom pushes v unless err is set, for the opcodes that push what a
// reader returns.
func (m *machine) pushFrom(v any, err error) error {
	if err != nil {
		return err
	}
	m.push(v)
	return nil
}

func (m *machine) pop() (any, error) {
	if m.avail() < 1 {
		return nil, errUnderflow
	}
	n := len(m.stack) - 1
	v := m.stack[n]
	m.stack = m.stack[:n]
	return v, nil
}

func (m *machine) top() (any, error) {
	if m.avail() < 1 {
		return nil, errUnderflow
	}
	return m.stack[len(m.stack)-1], nil
}

// popN removes the top n items and returns them, bottom first, as a view
// of the stack that the next push overwrites: read it at once.
func (m *machine) popN(n int) ([]any, error) {
	if m.avail() < n {
		return nil, errUnderflow
	}
	k := len(m.stack) - n
	items := m.stack[k:]
	m.stack = m.stack[:k]
	return items, nil
}

// pop2 pops the top two items: a was pushed before b.
func (m *machine) pop2() (a, b any, err error) {
	if m.avail() < 2 {
		return nil, nil, errUnderflow
	}
	n := len(m.stack) - 2
	a, b = m.stack[n], m.stack[n+1]
	m.stack = m.stack[:n]
	return a, b, nil
}

// topAs returns the top item, left on the stack, as the T that the opcode
// what (for example "APPEND to") works on.
func topAs[T any](m *machine, what string) (T, error) {
	t, err := m.top()
	v, ok := t.(T)
	if err == nil && !ok {
		err = m.typeErr(what, t)
	}
	return v, err
}

// typeErr is the error of the opcode what on an item of the wrong type.
func (m *machine) typeErr(what string, t any) error {
	return m.errf("%s a %T", what, t)
}

// intoMark calls fn with the item below the topmost mark, as the T that
// the opcode what (for example "APPENDS to") extends, and the items above
// the mark (a view that fn must not keep), then removes the items and the
// mark.
func intoMark[T any](m *machine, what string, fn func(target T, items []any) error) error {
	return m.popMarkView(func(t any, items []any) error {
		v, ok := t.(T)
		if !ok {
			return m.typeErr(what, t)
		}
		return fn(v, items)
	})
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
		return errUnderflow
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

// Operands. Every read goes through the Stream, which counts it against
// MaxBytes and MaxMemory.

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

// readUint reads an n-byte little-endian unsigned integer (n <= 8).
func (m *machine) readUint(n int) (uint64, error) {
	if n <= 4 {
		// Byte by byte: most operands are one or two bytes, for which
		// this costs a third of io.ReadFull, with the same errors.
		var v uint64
		for i := range n {
			c, err := m.s.ReadByte()
			if err != nil {
				return 0, truncated(err)
			}
			v |= uint64(c) << (8 * i)
		}
		return v, nil
	}
	buf := m.scratch[:8]
	clear(buf)
	if _, err := io.ReadFull(m.s, buf[:n]); err != nil {
		return 0, truncated(err)
	}
	return binary.LittleEndian.Uint64(buf), nil
}

// readString reads a UTF-8 string after its lenSize-byte length.
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

// readBytes reads bytes after their lenSize-byte length.
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

// readSigned reads bytes after a 4-byte length that Python reads as
// signed (BINSTRING, LONG4): a negative one is malformed.
func (m *machine) readSigned(what string) ([]byte, error) {
	n, err := m.readUint(4)
	if err != nil {
		return nil, err
	}
	if int32(uint32(n)) < 0 {
		return nil, m.errf("negative %s length", what)
	}
	return m.s.ReadN(int64(n))
}
