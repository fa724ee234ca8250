package pickle_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/mlserve/mlserve/internal/hostile"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/pickle/bomb"
)

// wantLimit checks that err wraps pickle.ErrLimit and names the limit.
func wantLimit(t *testing.T, err error, name string) {
	t.Helper()
	if !errors.Is(err, pickle.ErrLimit) || !strings.Contains(err.Error(), name) {
		t.Fatalf("err = %v, want pickle.ErrLimit naming %s", err, name)
	}
}

func builtinsAllow() *pickle.AllowList {
	a := pickle.NewAllowList()
	pickle.Builtins(a)
	return a
}

// TestMaxMemory: one-byte opcodes that each make Go allocate a container
// are charged what the container costs, not one byte.
func TestMaxMemory(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   byte
	}{{"EMPTY_DICT", '}'}, {"EMPTY_LIST", ']'}, {"EMPTY_TUPLE", ')'}, {"NONE", 'N'}, {"EMPTY_SET", 0x8f}} {
		t.Run(tc.name, func(t *testing.T) {
			// 1 MB of opcodes against a 16 MB limit: the input alone
			// fits 16 times over, the values do not.
			b := append([]byte{0x80, 4}, bytes.Repeat([]byte{tc.op}, 1<<20)...)
			err := hostile.Bounded(t, raceSlowdown, func() error {
				_, err := pickle.Load(bytes.NewReader(append(b, '.')), pickle.Options{Allow: pickle.NewAllowList(), MaxMemory: 16 << 20})
				return err
			})
			wantLimit(t, err, "MaxMemory")
		})
	}
	t.Run("within", func(t *testing.T) {
		v, err := pickle.Load(bytes.NewReader(bomb.EmptyDicts(1000)), pickle.Options{Allow: pickle.NewAllowList(), MaxMemory: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v.(*pickle.Dict); !ok {
			t.Fatalf("got %T", v)
		}
	})
	t.Run("claimed length", func(t *testing.T) {
		// A BINBYTES8 of 256 MB is refused before a byte of it is read
		// when the memory limit is smaller, though MaxBytes would allow it.
		var a asm
		a.op(0x80, 4, 0x8e, 0, 0, 0, 0x10, 0, 0, 0, 0)
		a.Write(make([]byte, 1<<16))
		err := hostile.Bounded(t, raceSlowdown, func() error {
			_, err := pickle.Load(bytes.NewReader(a.Bytes()), pickle.Options{Allow: pickle.NewAllowList(), MaxMemory: 64 << 20})
			return err
		})
		wantLimit(t, err, "MaxMemory")
	})
}

// TestMaxIntDigits: decimal INT and LONG texts are bounded as Python bounds
// them (4300 digits); a few 1M-digit integers would cost tens of seconds.
func TestMaxIntDigits(t *testing.T) {
	err := hostile.Bounded(t, raceSlowdown, func() error {
		_, err := load(bomb.BigInts(20, 1_000_000), nil)
		return err
	})
	wantLimit(t, err, "MaxIntDigits")
	if len(err.Error()) > 300 {
		t.Errorf("error echoes the integer: %d bytes", len(err.Error()))
	}
	for _, op := range []string{"I", "L"} {
		ok := op + strings.Repeat("7", pickle.MaxIntDigits) + "\n."
		if _, err := load([]byte(ok), nil); err != nil {
			t.Errorf("%s of %d digits: %v", op, pickle.MaxIntDigits, err)
		}
		over := op + "-" + strings.Repeat("7", pickle.MaxIntDigits+1) + "\n."
		_, err := load([]byte(over), nil)
		wantLimit(t, err, "MaxIntDigits")
	}
}

// TestHashWork: a key stored again and again is hashed each time; the work
// is charged at what hashing the key costs (a tuple of references to one
// long string costs all of their bytes), so reuse cannot amplify it.
func TestHashWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		// 30 references to a 2 KB string: a 60 KB key, stored 140,000
		// times in 0.6 MB: 8 GB of hashing before the work was charged
		// at its true cost.
		{"tuple key", bomb.KeyReuse(2048, 30, 140_000)},
		{"set of tuples", bomb.SetReuse(2048, 30, 140_000)},
		{"big int key", bomb.BigIntKeyReuse(32<<10, 100_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := hostile.Bounded(t, raceSlowdown, func() error {
				_, err := load(tc.b, builtinsAllow())
				return err
			})
			wantLimit(t, err, "hash work")
		})
	}
	t.Run("within", func(t *testing.T) {
		v, err := load(bomb.KeyReuse(2048, 30, 100), nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := v.(*pickle.Dict); d.Len() != 1 {
			t.Fatalf("%d keys", d.Len())
		}
	})
}

// TestSelfContainingKey: a list that contains itself is unhashable, as a
// key and inside a tuple key; refusing it must not walk into the cycle.
func TestSelfContainingKey(t *testing.T) {
	for _, inTuple := range []bool{false, true} {
		err := hostile.Bounded(t, raceSlowdown, func() error {
			_, err := load(bomb.SelfListKey(inTuple), nil)
			return err
		})
		if !errors.Is(err, pickle.ErrMalformed) || !strings.Contains(err.Error(), "unhashable") {
			t.Fatalf("inTuple=%v: err = %v", inTuple, err)
		}
	}
}

// TestMaxSteps: the opcode budget stops a long program.
func TestMaxSteps(t *testing.T) {
	b := append([]byte{0x80, 4}, bytes.Repeat([]byte{'N', '0'}, 50_000)...)
	b = append(b, 'N', '.')
	_, err := pickle.Load(bytes.NewReader(b), pickle.Options{Allow: pickle.NewAllowList(), MaxSteps: 10_000})
	wantLimit(t, err, "MaxSteps")
	if _, err := pickle.Load(bytes.NewReader(b), pickle.Options{Allow: pickle.NewAllowList()}); err != nil {
		t.Fatalf("default steps: %v", err)
	}
}

// TestLoadContext: a cancelled context stops the load, with an error that
// wraps both ErrLimit and the context's error.
func TestLoadContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := append([]byte{0x80, 4}, bytes.Repeat([]byte{'N', '0'}, 10_000)...)
	b = append(b, 'N', '.')
	_, err := pickle.LoadContext(ctx, bytes.NewReader(b), pickle.Options{Allow: pickle.NewAllowList()})
	if !errors.Is(err, pickle.ErrLimit) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// A long raw read checks it too.
	var a asm
	a.op(0x80, 4, 0x8e, 0, 0, 0x40, 0, 0, 0, 0, 0)
	a.Write(make([]byte, 4<<20))
	a.op('.')
	_, err = pickle.LoadContext(ctx, bytes.NewReader(a.Bytes()), pickle.Options{Allow: pickle.NewAllowList()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("raw read: err = %v", err)
	}
}
