package joblib

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"github.com/mlserve/mlserve/internal/hostile"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/pickle"
	"github.com/mlserve/mlserve/internal/pickle/bomb"
)

// bombPayload writes the payloads of testdata/bombs/make_bombs.py to w:
// bombMiB MiB as a list of 1 MiB bytes or str, or as EMPTY_DICT opcodes.
func bombPayload(w io.Writer, kind string) {
	w.Write([]byte{0x80, 4})
	if kind == "dicts" {
		block := bytes.Repeat([]byte{'}'}, 1<<20)
		for i := 0; i < bombMiB; i++ {
			w.Write(block)
		}
		w.Write([]byte{'.'})
		return
	}
	op := map[string]byte{"bytes": 0x8e, "str": 0x8d}[kind]
	zeros := make([]byte, 1<<20)
	w.Write([]byte{']'})
	for i := 0; i < bombMiB; i++ {
		var h [9]byte
		h[0] = op
		binary.LittleEndian.PutUint64(h[1:], 1<<20)
		w.Write(h[:])
		w.Write(zeros)
		w.Write([]byte{'a'})
	}
	w.Write([]byte{'.'})
}

var (
	bombsOnce sync.Once
	bombs     map[string][]byte // "kind.compression" -> file
)

// loadBombs builds the zlib, gzip and lz4 bombs (fast in Go) and reads
// the bz2, xz and lzma ones that make_bombs.py wrote.
func loadBombs(t *testing.T) map[string][]byte {
	bombsOnce.Do(func() {
		bombs = map[string][]byte{}
		for _, kind := range []string{"bytes", "str", "dicts"} {
			fast := map[string]func(io.Writer) io.WriteCloser{
				"zlib": func(w io.Writer) io.WriteCloser { z, _ := zlib.NewWriterLevel(w, zlib.BestSpeed); return z },
				"gzip": func(w io.Writer) io.WriteCloser { z, _ := gzip.NewWriterLevel(w, gzip.BestSpeed); return z },
				"lz4":  compressors["lz4"],
			}
			for c, mk := range fast {
				var buf bytes.Buffer
				w := mk(&buf)
				bombPayload(w, kind)
				w.Close()
				bombs[kind+"."+c] = buf.Bytes()
			}
			for _, c := range []string{"bz2", "xz", "lzma"} {
				b, err := os.ReadFile(filepath.Join("testdata", "bombs", kind+"_256m."+c))
				if err == nil {
					bombs[kind+"."+c] = b
				}
			}
		}
	})
	if len(bombs) != 18 {
		t.Fatalf("%d bombs, want 18 (run testdata/bombs/make_bombs.py)", len(bombs))
	}
	return bombs
}

// loadBudget loads b as OpenContext loads a file of its size.
func loadBudget(ctx context.Context, b []byte) (any, error) {
	lim := Budget(int64(len(b)), 2<<30)
	return LoadContext(ctx, bytes.NewReader(b), Options{Allow: allow(), MaxBytes: lim, MaxMemory: lim})
}

// TestBudgetBombs: every bomb (256 MiB of bytes, of str, of EMPTY_DICT
// opcodes) through every compression is refused within the budget of its
// file size, while it streams: quickly, and allocating far less than it
// would inflate to.
func TestBudgetBombs(t *testing.T) {
	for name, b := range loadBombs(t) {
		t.Run(name, func(t *testing.T) {
			err := hostile.Bounded(t, raceSlowdown, func() error {
				_, err := loadBudget(context.Background(), b)
				return err
			})
			if !errors.Is(err, pickle.ErrLimit) || !strings.Contains(err.Error(), "MaxMemory") {
				t.Fatalf("%d-byte file: err = %v", len(b), err)
			}
		})
	}
}

// TestBudgetEmptyDicts: the 29 KB zlib file of EMPTY_DICT opcodes,
// which asked for gigabytes, is refused.
func TestBudgetEmptyDicts(t *testing.T) {
	var buf bytes.Buffer
	z, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	z.Write(bomb.EmptyDicts(29 << 20))
	z.Close()
	b := buf.Bytes()
	if len(b) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(b))
	}
	err := hostile.Bounded(t, raceSlowdown, func() error {
		_, err := loadBudget(context.Background(), b)
		return err
	})
	if !errors.Is(err, pickle.ErrLimit) {
		t.Fatalf("err = %v", err)
	}
}

// TestBudget checks the figures of Budget.
func TestBudget(t *testing.T) {
	for _, tc := range []struct{ size, max, want int64 }{
		{0, 0, BudgetBase},
		{1000, 0, BudgetBase + 128_000},
		{1 << 20, 2 << 30, BudgetBase + 128<<20},
		{1 << 30, 2 << 30, 2 << 30},
		{1 << 62, 0, 1 << 62},
		{30 << 10, 2 << 30, BudgetBase + 128*30<<10},
	} {
		if got := Budget(tc.size, tc.max); got != tc.want {
			t.Errorf("Budget(%d, %d) = %d, want %d", tc.size, tc.max, got, tc.want)
		}
	}
}

// TestBudgetFixtures: every fixture loads within its own file's budget.
func TestBudgetFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.joblib")
	more, _ := filepath.Glob("testdata/*.pkl")
	for _, p := range append(files, more...) {
		if strings.Contains(p, "hostile") {
			continue
		}
		if _, err := OpenContext(context.Background(), p, allow(), 2<<30); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestLoadContextCancel: a cancelled load stops with the context's error.
func TestLoadContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := loadBudget(ctx, loadBombs(t)["dicts.zlib"])
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
