package pickle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// pickletoolsNames maps the names in CPython's pickletools to the
// constants of opcodes.go.
var pickletoolsNames = map[string]byte{
	"MARK": opMARK, "STOP": opSTOP, "POP": opPOP, "POP_MARK": opPOP_MARK, "DUP": opDUP,
	"PROTO": opPROTO, "FRAME": opFRAME,
	"NONE": opNONE, "NEWTRUE": opNEWTRUE, "NEWFALSE": opNEWFALSE, "INT": opINT, "BININT": opBININT,
	"BININT1": opBININT1, "BININT2": opBININT2, "LONG": opLONG, "LONG1": opLONG1, "LONG4": opLONG4,
	"FLOAT": opFLOAT, "BINFLOAT": opBINFLOAT,
	"STRING": opSTRING, "BINSTRING": opBINSTRING, "SHORT_BINSTRING": opSHORT_BINSTRING,
	"UNICODE": opUNICODE, "BINUNICODE": opBINUNICODE, "SHORT_BINUNICODE": opSHORT_BINUNICODE,
	"BINUNICODE8": opBINUNICODE8, "BINBYTES": opBINBYTES, "SHORT_BINBYTES": opSHORT_BINBYTES,
	"BINBYTES8": opBINBYTES8, "BYTEARRAY8": opBYTEARRAY8, "NEXT_BUFFER": opNEXT_BUFFER,
	"READONLY_BUFFER": opREADONLY_BUFFER,
	"EMPTY_TUPLE":     opEMPTY_TUPLE, "TUPLE": opTUPLE, "TUPLE1": opTUPLE1, "TUPLE2": opTUPLE2,
	"TUPLE3": opTUPLE3, "EMPTY_LIST": opEMPTY_LIST, "LIST": opLIST, "APPEND": opAPPEND,
	"APPENDS": opAPPENDS, "EMPTY_DICT": opEMPTY_DICT, "DICT": opDICT, "SETITEM": opSETITEM,
	"SETITEMS": opSETITEMS, "EMPTY_SET": opEMPTY_SET, "ADDITEMS": opADDITEMS, "FROZENSET": opFROZENSET,
	"GET": opGET, "BINGET": opBINGET, "LONG_BINGET": opLONG_BINGET, "PUT": opPUT, "BINPUT": opBINPUT,
	"LONG_BINPUT": opLONG_BINPUT, "MEMOIZE": opMEMOIZE,
	"GLOBAL": opGLOBAL, "STACK_GLOBAL": opSTACK_GLOBAL, "REDUCE": opREDUCE, "NEWOBJ": opNEWOBJ,
	"NEWOBJ_EX": opNEWOBJ_EX, "INST": opINST, "OBJ": opOBJ, "BUILD": opBUILD,
	"PERSID": opPERSID, "BINPERSID": opBINPERSID, "EXT1": opEXT1, "EXT2": opEXT2, "EXT4": opEXT4,
}

// cpythonOpcodes reads testdata/opcodes.txt, CPython's pickletools.opcodes
// as name, byte and protocol.
func cpythonOpcodes(t *testing.T) map[string]byte {
	f, err := os.Open("testdata/opcodes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops := map[string]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		var name, code string
		var proto int
		if _, err := fmt.Sscan(sc.Text(), &name, &code, &proto); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		b, err := strconv.ParseUint(code, 16, 8)
		if err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		ops[name] = byte(b)
	}
	if len(ops) < 60 {
		t.Fatalf("only %d opcodes in testdata/opcodes.txt", len(ops))
	}
	return ops
}

// TestOpcodeNames checks the constants of opcodes.go against CPython's
// own table: the same names, the same bytes, none missing.
func TestOpcodeNames(t *testing.T) {
	want := cpythonOpcodes(t)
	for name, b := range want {
		got, ok := pickletoolsNames[name]
		if !ok {
			t.Errorf("%s (%#02x) has no constant", name, b)
		} else if got != b {
			t.Errorf("op%s = %#02x, CPython's is %#02x", name, got, b)
		}
	}
	for name := range pickletoolsNames {
		if _, ok := want[name]; !ok {
			t.Errorf("op%s is not a CPython opcode", name)
		}
	}
}

// TestInstructionSet checks the dispatch against CPython's table: a byte
// that names no opcode is refused as unknown, and one that does is run or
// refused for its own reason, never as unknown.
func TestInstructionSet(t *testing.T) {
	defined := map[byte]string{}
	for name, b := range cpythonOpcodes(t) {
		defined[b] = name
	}
	for op := range 256 {
		_, err := Load(bytes.NewReader([]byte{byte(op)}), Options{Allow: NewAllowList()})
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%#02x: err = %v, want ErrMalformed", op, err)
			continue
		}
		unknown := strings.Contains(err.Error(), "unknown opcode")
		if name, ok := defined[byte(op)]; ok && unknown {
			t.Errorf("%s (%#02x) is refused as unknown: %v", name, op, err)
		} else if !ok && !unknown {
			t.Errorf("%#02x is no opcode, yet: %v", op, err)
		}
	}
}

// everyOperand is a protocol-5 program with an opcode of each operand
// width and kind: 1, 2, 4 and 8-byte integers, lengths of each width with
// the bytes they count, and a float.
func everyOperand() []byte {
	var b []byte
	op := func(p ...byte) { b = append(b, p...) }
	op(opPROTO, 5, opFRAME, 0x60, 0, 0, 0, 0, 0, 0, 0)
	op(opEMPTY_LIST, opBINPUT, 0, opMARK)
	op(opBININT1, 7, opBININT2, 1, 2, opBININT, 1, 2, 3, 0x84)
	op(opLONG1, 2, 0xff, 0x7f, opLONG4, 3, 0, 0, 0, 1, 2, 3)
	op(opBINFLOAT, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)
	op(opSHORT_BINUNICODE, 2, 'a', 'b', opBINUNICODE, 3, 0, 0, 0, 'c', 'd', 'e')
	op(opBINUNICODE8, 1, 0, 0, 0, 0, 0, 0, 0, 'f')
	op(opSHORT_BINBYTES, 1, 'g', opBINBYTES, 2, 0, 0, 0, 'h', 'i')
	op(opBINBYTES8, 1, 0, 0, 0, 0, 0, 0, 0, 'j', opBYTEARRAY8, 1, 0, 0, 0, 0, 0, 0, 0, 'k')
	op(opSHORT_BINSTRING, 1, 'l', opBINSTRING, 2, 0, 0, 0, 'm', 'n')
	op(opLONG_BINPUT, 1, 0, 0, 0, opBINGET, 0, opLONG_BINGET, 1, 0, 0, 0)
	op(opAPPENDS, opSTOP)
	return b
}

// TestCutEverywhere cuts binary pickles at every byte, so that every
// operand (1, 2, 4 and 8 bytes wide, lengths and the bytes they count) is
// cut somewhere inside: a stream that ends there is malformed (truncated),
// one that MaxBytes stops there is refused for its limit.
func TestCutEverywhere(t *testing.T) {
	plain, err := os.ReadFile("testdata/plain_p5.pkl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		prog []byte
		step int
	}{
		{"every operand", everyOperand(), 1},
		{"plain_p5", plain, 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(bytes.NewReader(tt.prog), Options{Allow: NewAllowList()}); err != nil {
				t.Fatalf("whole program: %v", err)
			}
			for i := 0; i < len(tt.prog)-1; i += tt.step {
				opts := Options{Allow: NewAllowList()}
				_, err := Load(bytes.NewReader(tt.prog[:i]), opts)
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "truncated") {
					t.Fatalf("cut at %d: err = %v, want a truncated stream", i, err)
				}
				opts.MaxBytes = int64(i) + 1 // 0 would be the default
				if _, err := Load(bytes.NewReader(tt.prog), opts); !errors.Is(err, ErrLimit) {
					t.Fatalf("MaxBytes %d: err = %v, want ErrLimit", i+1, err)
				}
			}
		})
	}
}
