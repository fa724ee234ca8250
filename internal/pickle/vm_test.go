package pickle_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/mlserve/mlserve/internal/pickle"
)

// canon rebuilds the JSON form that make_pickle_fixtures.py writes for a
// plain value (see canon there).
func canon(t *testing.T, v any) any {
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case int64:
		return map[string]any{"int": strconv.FormatInt(x, 10)}
	case *big.Int:
		return map[string]any{"int": x.String()}
	case float64:
		return map[string]any{"float": pyRepr(x)}
	case []byte:
		return map[string]any{"bytes": hex.EncodeToString(x)}
	case pickle.Tuple:
		out := []any{}
		for _, e := range x {
			out = append(out, canon(t, e))
		}
		return map[string]any{"tuple": out}
	case *pickle.List:
		out := []any{}
		for _, e := range x.Items {
			out = append(out, canon(t, e))
		}
		return out
	case *pickle.Set:
		out := []string{}
		for _, e := range x.Items {
			b, _ := json.Marshal(canon(t, e))
			out = append(out, string(b))
		}
		sort.Strings(out)
		return map[string]any{"set": out}
	case *pickle.Dict:
		out := []any{}
		x.Each(func(k, v any) error {
			out = append(out, []any{canon(t, k), canon(t, v)})
			return nil
		})
		return map[string]any{"dict": out}
	}
	t.Fatalf("unexpected %T", v)
	return nil
}

// pyRepr formats a float as Python's repr does for the fixture values.
func pyRepr(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if e := bytes.IndexByte([]byte(s), 'e'); e >= 0 {
		// Python writes 1e+308 and 5e-324 alike.
		return s
	}
	if !bytes.ContainsAny([]byte(s), ".n") {
		s += ".0"
	}
	return s
}

// TestPlain decodes plain Python data pickled by CPython with protocols
// 0-5 and compares it with CPython's own description of the value.
func TestPlain(t *testing.T) {
	wantJSON, err := os.ReadFile("testdata/plain.json")
	if err != nil {
		t.Fatal(err)
	}
	var want any
	json.Unmarshal(wantJSON, &want)
	for p := 0; p <= 5; p++ {
		t.Run(fmt.Sprintf("protocol%d", p), func(t *testing.T) {
			f, err := os.Open(fmt.Sprintf("testdata/plain_p%d.pkl", p))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v, err := pickle.Load(f, pickle.Options{Allow: pickle.NewAllowList()})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(canon(t, v))
			var got any
			json.Unmarshal(b, &got)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if !bytes.Equal(gb, wb) {
				t.Fatalf("decoded value differs from CPython's:\ngot  %.2000s\nwant %.2000s", gb, wb)
			}
			d := v.(*pickle.Dict)
			sh, _ := d.Get("shared")
			l := sh.(*pickle.List)
			if l.Items[0] != l.Items[1] {
				t.Error("a shared list was decoded twice; the memo must keep identity")
			}
			if v, ok := d.Get(pickle.Tuple{int64(1), "k"}); !ok || v != "tuple key" {
				t.Errorf("tuple key lookup: %v %v", v, ok)
			}
			if v, ok := d.Get(2.5); !ok || v != "float key" {
				t.Errorf("float key lookup: %v %v", v, ok)
			}
		})
	}
}

// asm assembles pickle programs for the tests.
type asm struct{ bytes.Buffer }

func (a *asm) op(b ...byte) *asm { a.Write(b); return a }
func (a *asm) line(s string) *asm {
	a.WriteString(s)
	a.WriteByte('\n')
	return a
}
func (a *asm) ustr(s string) *asm { // SHORT_BINUNICODE
	a.WriteByte(0x8c)
	a.WriteByte(byte(len(s)))
	a.WriteString(s)
	return a
}
func (a *asm) binunicode(s string) *asm {
	a.WriteByte('X')
	binary.Write(a, binary.LittleEndian, uint32(len(s)))
	a.WriteString(s)
	return a
}
func (a *asm) global(mod, name string) *asm { return a.op('c').line(mod).line(name) }

func load(b []byte, allow *pickle.AllowList) (any, error) {
	if allow == nil {
		allow = pickle.NewAllowList()
	}
	return pickle.Load(bytes.NewReader(b), pickle.Options{Allow: allow})
}

// TestOpcodes covers opcodes the CPython fixtures do not reach.
func TestOpcodes(t *testing.T) {
	tests := []struct {
		name string
		prog []byte
		want string // fmt %#v of the value
	}{
		{"INT bool", []byte("I01\n."), "true"},
		{"INT", []byte("I-12\n."), "-12"},
		{"LONG", []byte("L123456789012345678901234567890L\n."), "123456789012345678901234567890"},
		{"FLOAT", []byte("F1.25\n."), "1.25"},
		{"STRING", []byte("S'a\\nb\\x41\\'c'\n."), `"a\nbA'c"`},
		{"UNICODE", []byte("V\\u00e9\\U0001d11ex\n."), `"é𝄞x"`},
		{"BINSTRING", []byte("T\x02\x00\x00\x00\xe9a."), `"éa"`},
		{"SHORT_BINSTRING", []byte("U\x01z."), `"z"`},
		{"POP_MARK", []byte("K\x01(K\x02K\x031."), "1"},
		{"DUP POP", []byte("K\x0720."), "7"},
		{"DICT", []byte("(K\x01K\x02d."), "dict"},
		{"EMPTY_SET ADDITEMS", []byte("\x80\x04\x8f(K\x01K\x01K\x02\x90."), "set[1 2]"},
		{"FROZENSET", []byte("\x80\x04(K\x01\x91."), "set[1]"},
		{"BYTEARRAY8 READONLY", []byte("\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00z\x98."), `[]byte{0x7a}`},
		{"LONG1 negative", []byte("\x80\x02\x8a\x01\xff."), "-1"},
		{"LONG4", []byte("\x80\x02\x8b\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01."), "18446744073709551616"},
		{"MEMOIZE", []byte("\x80\x04K\x05\x94\x30h\x00."), "5"},
		{"FRAME", []byte("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00K\x09."), "9"},
		{"self reference", []byte("]q\x00h\x00a."), "selfref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := load(tt.prog, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch x := v.(type) {
			case *big.Int:
				got = x.String()
			case int64:
				got = strconv.FormatInt(x, 10)
			case *pickle.Dict:
				got = "dict"
				if w, _ := x.Get(int64(1)); w != int64(2) {
					got = "bad dict"
				}
			case *pickle.Set:
				got = fmt.Sprint("set", x.Items)
			case *pickle.List:
				if len(x.Items) == 1 && x.Items[0] == any(x) {
					got = "selfref"
				}
			default:
				got = fmt.Sprintf("%#v", v)
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// targets are globals that run code; each route below must refuse them.
var targets = []struct {
	mod, name string
	arg       func(marker string) string
}{
	{"os", "system", func(m string) string { return "touch " + m }},
	{"posix", "system", func(m string) string { return "touch " + m }},
	{"subprocess", "Popen", func(m string) string { return "touch " + m }},
	{"builtins", "eval", func(m string) string { return "__import__('os').system('touch " + m + "')" }},
	{"builtins", "exec", func(m string) string { return "import os; os.system('touch " + m + "')" }},
	{"builtins", "__import__", func(m string) string { return "os" }},
	{"builtins", "getattr", func(m string) string { return "system" }},
}

// routes build a pickle that calls mod.name(arg) through one opcode path.
var routes = []struct {
	name string
	// python: CPython would run this payload (used to prove the payload is real)
	python bool
	build  func(mod, name, arg string) []byte
}{
	{"GLOBAL+REDUCE", true, func(mod, name, arg string) []byte {
		var a asm
		return a.global(mod, name).op('(').binunicode(arg).op('t', 'R', '.').Bytes()
	}},
	{"STACK_GLOBAL+REDUCE", true, func(mod, name, arg string) []byte {
		var a asm
		return a.op(0x80, 4).ustr(mod).ustr(name).op(0x93).binunicode(arg).op(0x85, 'R', '.').Bytes()
	}},
	{"INST", true, func(mod, name, arg string) []byte {
		var a asm
		return a.op('(').binunicode(arg).op('i').line(mod).line(name).op('.').Bytes()
	}},
	{"OBJ", true, func(mod, name, arg string) []byte {
		var a asm
		return a.op('(').global(mod, name).binunicode(arg).op('o', '.').Bytes()
	}},
	{"NEWOBJ", false, func(mod, name, arg string) []byte {
		var a asm
		return a.op(0x80, 2).global(mod, name).binunicode(arg).op(0x85, 0x81, '.').Bytes()
	}},
	{"NEWOBJ_EX", false, func(mod, name, arg string) []byte {
		var a asm
		return a.op(0x80, 4).ustr(mod).ustr(name).op(0x93).binunicode(arg).op(0x85, '}', 0x92, '.').Bytes()
	}},
	{"BUILD after allowed object", false, func(mod, name, arg string) []byte {
		// The dangerous global hides in the state of an allowed class.
		var a asm
		return a.op(0x80, 2).global("mlserve_test", "Thing").op(')', 0x81).global(mod, name).binunicode(arg).op(0x85, 'R', 'b', '.').Bytes()
	}},
}

// TestHostile feeds pickles that would run a shell command through every
// opcode path that can reach a global, and checks that each is refused with
// an error naming the global and that the command did not run. Where
// python3 is installed, the same bytes are first run by CPython to prove
// that the payload is real (it creates its marker there).
func TestHostile(t *testing.T) {
	for _, tg := range targets {
		for _, rt := range routes {
			t.Run(tg.mod+"."+tg.name+"/"+rt.name, func(t *testing.T) {
				marker := filepath.Join(t.TempDir(), "pwned")
				prog := rt.build(tg.mod, tg.name, tg.arg(marker))
				allow := pickle.NewAllowList()
				allow.Allow("mlserve_test", "Thing", pickle.Class())
				_, err := load(prog, allow)
				var fe *pickle.ForbiddenError
				if !errors.As(err, &fe) || !errors.Is(err, pickle.ErrForbidden) {
					t.Fatalf("err = %v, want a ForbiddenError", err)
				}
				want := tg.mod + "." + tg.name + " is not allowed in a model file"
				if err.Error() != want {
					t.Fatalf("err = %q, want %q", err, want)
				}
				if _, err := os.Stat(marker); !os.IsNotExist(err) {
					t.Fatalf("marker exists: the payload ran (%v)", err)
				}
				if rt.python && tg.name == "system" && tg.mod == "os" {
					provePayload(t, prog, marker)
				}
			})
		}
	}
}

// TestCallTypeRef checks that a global allowed only as a reference cannot
// be called.
func TestCallTypeRef(t *testing.T) {
	var a asm
	_, err := load(a.global("builtins", "object").op(')', 'R', '.').Bytes(), nil)
	if !errors.Is(err, pickle.ErrForbidden) {
		t.Fatalf("err = %v", err)
	}
}

// TestMalformed feeds broken and hostile programs: each must return an
// error of the right kind, without panicking.
func TestMalformed(t *testing.T) {
	u64 := func(op byte, n uint64) []byte {
		b := []byte{0x80, 4, op}
		return binary.LittleEndian.AppendUint64(b, n)
	}
	deep := bytes.Repeat([]byte("("), 5000)
	tests := []struct {
		name string
		prog []byte
		want error
	}{
		{"empty", nil, pickle.ErrMalformed},
		{"no STOP", []byte("K\x01"), pickle.ErrMalformed},
		{"opcode 0xff", []byte{0xff}, pickle.ErrMalformed},
		{"unknown opcode", []byte("K\x01z."), pickle.ErrMalformed},
		{"bad protocol", []byte{0x80, 9}, pickle.ErrMalformed},
		{"BINUNICODE8 2^60", u64(0x8d, 1<<60), pickle.ErrLimit},
		{"BINBYTES8 2^60", u64(0x8e, 1<<60), pickle.ErrLimit},
		{"BYTEARRAY8 2^63", u64(0x96, 1<<63), pickle.ErrLimit},
		{"BINBYTES8 1 MiB truncated", u64(0x8e, 1<<20), pickle.ErrMalformed},
		{"FRAME 2^60", append(u64(0x95, 1<<60), 'N', '.'), nil},
		{"BINUNICODE 4 GiB", []byte("X\xff\xff\xff\xff"), pickle.ErrLimit},
		{"BINSTRING negative", []byte("T\xff\xff\xff\xff"), pickle.ErrMalformed},
		{"LONG4 negative", []byte("\x8b\xff\xff\xff\xff"), pickle.ErrMalformed},
		{"memo hole", []byte("\x80\x02K\x01q\x00h\x05."), pickle.ErrMalformed},
		{"memo hole long", []byte("j\x00\x00\x00\x01."), pickle.ErrMalformed},
		{"GET text", []byte("g99\n."), pickle.ErrMalformed},
		{"PUT empty", []byte("p0\n."), pickle.ErrMalformed},
		{"STOP on empty", []byte("."), pickle.ErrMalformed},
		{"STOP on mark", []byte("(."), pickle.ErrMalformed},
		{"TUPLE no mark", []byte("K\x01t."), pickle.ErrMalformed},
		{"POP_MARK no mark", []byte("1."), pickle.ErrMalformed},
		{"APPEND across mark", []byte("](K\x01a."), pickle.ErrMalformed},
		{"APPENDS to int", []byte("K\x01(K\x02e."), pickle.ErrMalformed},
		{"SETITEM underflow", []byte("}K\x01s."), pickle.ErrMalformed},
		{"SETITEMS odd", []byte("}(K\x01u."), pickle.ErrMalformed},
		{"REDUCE underflow", []byte("R."), pickle.ErrMalformed},
		{"TUPLE3 underflow", []byte("K\x01\x87."), pickle.ErrMalformed},
		{"TUPLE2 across mark", []byte("K\x01(K\x02\x86."), pickle.ErrMalformed},
		{"BUILD on int", []byte("K\x01}b."), pickle.ErrMalformed},
		{"REDUCE of int", []byte("K\x01)R."), pickle.ErrMalformed},
		{"STACK_GLOBAL of ints", []byte("\x80\x04K\x01K\x02\x93."), pickle.ErrMalformed},
		{"unhashable list key", []byte("}]Ns."), pickle.ErrMalformed},
		{"unhashable dict key", []byte("}(}Nu."), pickle.ErrMalformed},
		{"unhashable set item", []byte("\x80\x04\x8f(]\x90."), pickle.ErrMalformed},
		{"tuple key with list", []byte("}]\x85Ns."), pickle.ErrMalformed},
		{"MARK nesting", deep, pickle.ErrLimit},
		{"persistent id", []byte("K\x01Q."), pickle.ErrMalformed},
		{"extension", []byte("\x82\x01."), pickle.ErrMalformed},
		{"out-of-band buffer", []byte("\x80\x05\x97."), pickle.ErrMalformed},
		{"bad INT", []byte("Ixyz\n."), pickle.ErrMalformed},
		{"bad STRING", []byte("Sabc\n."), pickle.ErrMalformed},
		{"bad UNICODE escape", []byte("V\\u12\n."), pickle.ErrMalformed},
		{"encode non-latin1", []byte("c_codecs\nencode\n(V\\u1234\nVlatin1\ntR."), pickle.ErrMalformed},
		{"set of int", []byte("cbuiltins\nset\n(K\x01tR."), pickle.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.prog, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEveryOpcode starts a program with every byte value, followed by
// a few arguments, and checks that none panics.
func TestEveryOpcode(t *testing.T) {
	for op := 0; op < 256; op++ {
		for _, tail := range [][]byte{nil, []byte("."), []byte("\x01\x00\x00\x00\x00\x00\x00\x00a\n."), bytes.Repeat([]byte{0xff}, 9)} {
			prog := append([]byte{byte(op)}, tail...)
			load(prog, nil)
			load(append([]byte("K\x01K\x02(K\x03"), prog...), nil)
		}
	}
}

// TestTruncated loads every prefix of real pickles: each must fail cleanly.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/plain_p2.pkl")
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() {
		step = 37
	}
	for i := 0; i < len(b)-1; i += step {
		if _, err := load(b[:i], nil); err == nil {
			t.Fatalf("prefix of %d bytes decoded", i)
		}
	}
}

// TestHashBlowup checks that dict keys cannot cost more than their bound:
// a tuple of a thousand references to a tuple of a thousand items, as a key.
func TestHashBlowup(t *testing.T) {
	var a asm
	a.op(0x80, 2, '}', '(')
	for i := 0; i < 1000; i++ {
		a.op('K', byte(i))
	}
	a.op('t', 'q', 1, '(')
	for i := 0; i < 1000; i++ {
		a.op('h', 1)
	}
	a.op('t', 'N', 's', '.')
	if _, err := load(a.Bytes(), nil); !errors.Is(err, pickle.ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
	var d asm
	d.op(0x80, 2, '}', 'N')
	for i := 0; i < 100; i++ {
		d.op(0x85)
	}
	d.op('N', 's', '.')
	if _, err := load(d.Bytes(), nil); !errors.Is(err, pickle.ErrMalformed) {
		t.Fatalf("deep key: err = %v", err)
	}
}

// TestKeyReuse: one 64 KiB key reused through the memo half a million
// times would hash 32 GiB; the work bound stops it.
func TestKeyReuse(t *testing.T) {
	var a asm
	a.op(0x80, 4, '}')
	a.op(0x8d)
	binary.Write(&a, binary.LittleEndian, uint64(1<<16))
	a.Write(bytes.Repeat([]byte{'k'}, 1<<16))
	a.op(0x94, '0')
	for i := 0; i < 1<<19; i++ {
		a.op('h', 0, 'N', 's')
	}
	a.op('.')
	if _, err := load(a.Bytes(), nil); !errors.Is(err, pickle.ErrLimit) {
		t.Fatalf("err = %v", err)
	}
}

// TestMaxBytes checks the input cap.
func TestMaxBytes(t *testing.T) {
	b, _ := os.ReadFile("testdata/plain_p4.pkl")
	_, err := pickle.Load(bytes.NewReader(b), pickle.Options{Allow: pickle.NewAllowList(), MaxBytes: 1000})
	if !errors.Is(err, pickle.ErrLimit) {
		t.Fatalf("err = %v", err)
	}
}
