package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The opcodes, run family by family; step (vm.go) picks the family. Each
// opcode has been charged its memory and step cost (account) before it
// gets here; what is left to check here is its operand and the types of
// the items it pops.

// stackOp runs the opcodes that move items and marks, and the framing.
func (m *machine) stackOp(op byte) error {
	switch op {
	case opPROTO:
		b, err := m.s.ReadByte()
		if err != nil {
			return truncated(err)
		}
		if b > 5 {
			return m.errf("unsupported protocol %d", b)
		}
		m.proto = int(b)
	case opFRAME: // a length hint; the bytes follow in order
		_, err := m.readUint(8)
		return err
	case opMARK:
		if len(m.marks) >= m.s.opts.MaxDepth {
			return fmt.Errorf("%w: MARKs nested deeper than %d", ErrLimit, m.s.opts.MaxDepth)
		}
		m.marks = append(m.marks, len(m.stack))
	case opPOP:
		if len(m.stack) > 0 && (len(m.marks) == 0 || m.marks[len(m.marks)-1] < len(m.stack)) {
			m.stack = m.stack[:len(m.stack)-1]
			return nil
		}
		if len(m.marks) > 0 && m.marks[len(m.marks)-1] == len(m.stack) {
			m.marks = m.marks[:len(m.marks)-1] // Python pops the mark
			return nil
		}
		return errUnderflow
	case opPOP_MARK:
		_, err := m.popMark()
		return err
	case opDUP:
		return m.pushFrom(m.top())
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
	return nil
}

// number runs the opcodes that push None, a bool, an int or a float.
// Decimal ints are refused past MaxIntDigits (parseInt).
func (m *machine) number(op byte) error {
	switch op {
	case opNONE:
		m.push(nil)
	case opNEWTRUE:
		m.push(true)
	case opNEWFALSE:
		m.push(false)
	case opINT:
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
	case opLONG:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		v, err := parseInt(strings.TrimSuffix(line, "L"))
		if err != nil {
			return m.intErr("LONG", line, err)
		}
		m.push(v)
	case opBININT:
		v, err := m.readUint(4)
		return m.pushFrom(int64(int32(uint32(v))), err)
	case opBININT1:
		v, err := m.readUint(1)
		return m.pushFrom(int64(v), err)
	case opBININT2:
		v, err := m.readUint(2)
		return m.pushFrom(int64(v), err)
	case opLONG1:
		b, err := m.readBytes(1)
		if err != nil {
			return err
		}
		m.push(decodeLong(b))
	case opLONG4:
		b, err := m.readSigned("LONG4")
		if err != nil {
			return err
		}
		m.push(decodeLong(b))
	case opFLOAT:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return m.errf("FLOAT %q", clip(line))
		}
		m.push(f)
	case opBINFLOAT:
		var b [8]byte
		if _, err := io.ReadFull(m.s, b[:]); err != nil {
			return truncated(err)
		}
		m.push(math.Float64frombits(binary.BigEndian.Uint64(b[:])))
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
	return nil
}

// text runs the opcodes that push a str or bytes. Python 2 str (STRING,
// BINSTRING, SHORT_BINSTRING) is read as latin-1, as Python 3 does with
// encoding="latin1".
func (m *machine) text(op byte) error {
	switch op {
	case opSTRING:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := unquote(line)
		if err != nil {
			return m.errf("STRING: %v", err)
		}
		m.push(s)
	case opBINSTRING:
		b, err := m.readSigned("BINSTRING")
		if err != nil {
			return err
		}
		m.push(latin1(b))
	case opSHORT_BINSTRING:
		b, err := m.readBytes(1)
		if err != nil {
			return err
		}
		m.push(latin1(b))
	case opUNICODE:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := rawUnicodeEscape(line)
		if err != nil {
			return m.errf("UNICODE: %v", err)
		}
		m.push(s)
	case opSHORT_BINUNICODE:
		return m.pushFrom(m.readString(1))
	case opBINUNICODE:
		return m.pushFrom(m.readString(4))
	case opBINUNICODE8:
		return m.pushFrom(m.readString(8))
	case opSHORT_BINBYTES:
		return m.pushFrom(m.readBytes(1))
	case opBINBYTES:
		return m.pushFrom(m.readBytes(4))
	case opBINBYTES8, opBYTEARRAY8:
		return m.pushFrom(m.readBytes(8))
	case opREADONLY_BUFFER: // bytes are read-only already
		_, err := m.top()
		return err
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
	return nil
}

// sequence runs the opcodes that build tuples and lists. Their items need
// no hashing, so they cost only the memory account charged them.
func (m *machine) sequence(op byte) error {
	switch op {
	case opEMPTY_TUPLE:
		m.push(Tuple{})
	case opTUPLE:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(Tuple(items))
	case opTUPLE1, opTUPLE2, opTUPLE3:
		items, err := m.popN(int(op - opTUPLE1 + 1))
		if err != nil {
			return err
		}
		t := make(Tuple, len(items))
		copy(t, items)
		m.push(t)
	case opEMPTY_LIST:
		m.push(&List{})
	case opLIST:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(&List{Items: items})
	case opAPPEND:
		v, err := m.pop()
		if err != nil {
			return err
		}
		l, err := topAs[*List](m, "APPEND to")
		if err != nil {
			return err
		}
		l.Items = append(l.Items, v)
	case opAPPENDS:
		return intoMark(m, "APPENDS to", func(l *List, items []any) error {
			l.Items = append(l.Items, items...)
			return nil
		})
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
	return nil
}

// hashed runs the opcodes that build dicts and sets. Every key and set
// item is charged its hashing work (charge) before it is hashed.
func (m *machine) hashed(op byte) error {
	switch op {
	case opEMPTY_DICT:
		m.push(NewDict(0))
	case opDICT:
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
	case opSETITEM:
		k, v, err := m.pop2()
		if err != nil {
			return err
		}
		d, err := topAs[*Dict](m, "SETITEM on")
		if err != nil {
			return err
		}
		if err := m.charge([]any{k}, 1); err != nil {
			return err
		}
		return setItems(d, []any{k, v})
	case opSETITEMS:
		return intoMark(m, "SETITEMS on", func(d *Dict, items []any) error {
			if err := m.charge(items, 2); err != nil {
				return err
			}
			return setItems(d, items)
		})
	case opEMPTY_SET:
		m.push(&Set{})
	case opADDITEMS:
		return intoMark(m, "ADDITEMS on", func(st *Set, items []any) error {
			if err := m.charge(items, 1); err != nil {
				return err
			}
			return st.add(items)
		})
	case opFROZENSET:
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
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
	return nil
}

// setItems stores the key, value pairs of items in d.
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

// memoOp runs the opcodes that store the top item in the memo and push a
// stored one again. An index far beyond the dense part goes to a map, so
// a large index costs no memory.
func (m *machine) memoOp(op byte) error {
	switch op {
	case opGET:
		i, err := m.lineIndex("GET")
		if err != nil {
			return err
		}
		return m.memoGet(i)
	case opBINGET:
		i, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.memoGet(int64(i))
	case opLONG_BINGET:
		i, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.memoGet(int64(i))
	case opPUT:
		i, err := m.lineIndex("PUT")
		if err != nil {
			return err
		}
		return m.memoPut(i)
	case opBINPUT:
		i, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.memoPut(int64(i))
	case opLONG_BINPUT:
		i, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.memoPut(int64(i))
	case opMEMOIZE:
		return m.memoPut(int64(len(m.memo) + len(m.sparse)))
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
}

// lineIndex reads the decimal memo index of a GET or PUT.
func (m *machine) lineIndex(what string) (int64, error) {
	line, err := m.readLine()
	if err != nil {
		return 0, err
	}
	i, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, m.errf("%s %q", what, line)
	}
	return i, nil
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

// object runs the opcodes that name a global, call one or give an object
// its state: the only way to Python code, so every global they name is
// looked up in the allow-list (global, INST) and every call goes through
// it (call).
func (m *machine) object(op byte) error {
	switch op {
	case opGLOBAL:
		module, name, err := m.read2Lines()
		if err != nil {
			return err
		}
		return m.global(module, name)
	case opSTACK_GLOBAL:
		mod, n, err := m.pop2()
		if err != nil {
			return err
		}
		module, ok1 := mod.(string)
		name, ok2 := n.(string)
		if !ok1 || !ok2 {
			return m.errf("STACK_GLOBAL of %T and %T", mod, n)
		}
		return m.global(module, name)
	case opREDUCE, opNEWOBJ: // callable or class, then an args tuple
		f, a, err := m.pop2()
		if err != nil {
			return err
		}
		args, ok := a.(Tuple)
		if !ok {
			what := "REDUCE"
			if op == opNEWOBJ {
				what = "NEWOBJ"
			}
			return m.errf("%s arguments are a %T", what, a)
		}
		return m.callPush(f, args, nil)
	case opNEWOBJ_EX: // class, args tuple, kwargs dict
		s, err := m.popN(3)
		if err != nil {
			return err
		}
		c, a, kw := s[0], s[1], s[2]
		args, ok := a.(Tuple)
		kwargs, ok2 := kw.(*Dict)
		if !ok || !ok2 {
			return m.errf("NEWOBJ_EX arguments are %T and %T", a, kw)
		}
		return m.callPush(c, args, kwargs)
	case opINST:
		module, name, err := m.read2Lines()
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
	case opOBJ:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return m.errf("OBJ without a class")
		}
		return m.callPush(items[0], Tuple(items[1:]), nil)
	case opBUILD:
		return m.build()
	default: // step sends none; a family never runs another's opcode
		return m.refuse(op)
	}
}

// read2Lines reads the module and name lines of GLOBAL and INST.
func (m *machine) read2Lines() (module, name string, err error) {
	if module, err = m.readLine(); err != nil {
		return "", "", err
	}
	if name, err = m.readLine(); err != nil {
		return "", "", err
	}
	return module, name, nil
}

// global pushes module.name if the allow-list has it.
func (m *machine) global(module, name string) error {
	if _, err := m.s.opts.Allow.Lookup(module, name); err != nil {
		return err
	}
	m.push(Global{Module: module, Name: name})
	return nil
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

// call calls an allow-listed global; anything else on the stack is not
// callable.
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

// build runs BUILD: the object below the top item takes it as its state,
// through its SetState (a Stater) or as its State (an *Object); a
// StreamReader then reads the raw bytes that follow and replaces itself
// with what it read.
func (m *machine) build() error {
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
	return nil
}

// refuse is every opcode that Load does not run, with the reason.
func (m *machine) refuse(op byte) error {
	switch op {
	case opPERSID, opBINPERSID:
		// They hand an id to the unpickler's persistent_load, which
		// resolves it to an object outside the stream; a model file
		// has no such objects.
		return m.errf("persistent ids are not supported")
	case opEXT1, opEXT2, opEXT4:
		// They name a global by a code of the process's copyreg
		// registry: a second way to a global, around the allow-list.
		return m.errf("extension codes are not supported")
	case opNEXT_BUFFER:
		// Protocol 5 out-of-band buffers come beside the stream, from
		// the caller; a file has none.
		return m.errf("out-of-band buffers are not supported")
	default:
		return m.errf("unknown opcode %#02x", op)
	}
}
