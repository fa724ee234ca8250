package joblib

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/mlserve/mlserve/internal/pickle"
)

// compressors wrap a pickle the way joblib.dump(compress=...) does. bz2 has
// no Go writer; its case is the fixture hostile_bz2.joblib, written by
// joblib itself.
var compressors = map[string]func(w io.Writer) io.WriteCloser{
	"none": func(w io.Writer) io.WriteCloser { return nopCloser{w} },
	"zlib": func(w io.Writer) io.WriteCloser { z, _ := zlib.NewWriterLevel(w, 3); return z },
	"gzip": func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
	"xz":   func(w io.Writer) io.WriteCloser { x, _ := xz.NewWriter(w); return x },
	"lzma": func(w io.Writer) io.WriteCloser { l, _ := lzma.NewWriter(w); return l },
	"lz4":  func(w io.Writer) io.WriteCloser { return lz4.NewWriter(w) },
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func compress(t testing.TB, name string, b []byte) []byte {
	var buf bytes.Buffer
	w := compressors[name](&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHostileCompressed wraps pickles that call os.system and
// subprocess.Popen in every compression: each is refused with an error
// naming the global, and the command does not run.
func TestHostileCompressed(t *testing.T) {
	for name := range compressors {
		for _, g := range []string{"os\nsystem", "posix\nsystem", "subprocess\nPopen", "builtins\neval"} {
			t.Run(name+"/"+g, func(t *testing.T) {
				marker := filepath.Join(t.TempDir(), "pwned")
				prog := []byte("c" + g + "\n(Vtouch " + marker + "\ntR.")
				_, err := Load(bytes.NewReader(compress(t, name, prog)), allow())
				var fe *pickle.ForbiddenError
				if !errors.As(err, &fe) || fe.Module+"\n"+fe.Name != g {
					t.Fatalf("err = %v", err)
				}
				if _, err := os.Stat(marker); !os.IsNotExist(err) {
					t.Fatal("marker exists")
				}
			})
		}
	}
	t.Run("bz2 fixture", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "pwned")
		t.Setenv("MLSERVE_MARKER", marker)
		_, err := Open("testdata/hostile_bz2.joblib", allow())
		if err == nil || err.Error() != "posix.system is not allowed in a model file" {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Fatal("marker exists")
		}
	})
}

// wrapperHeader is a NumpyArrayWrapper for a float64 array of n elements,
// without the raw bytes.
func wrapperHeader(n int64, aligned bool) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(")
	b.WriteString("X\x05\x00\x00\x00shape")
	b.WriteString("\x8a\x08")
	for i := 0; i < 8; i++ {
		b.WriteByte(byte(n >> (8 * i)))
	}
	b.WriteString("\x85X\x05\x00\x00\x00orderX\x01\x00\x00\x00C")
	b.WriteString("X\x05\x00\x00\x00dtypecnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
	if aligned {
		b.WriteString("X\x1b\x00\x00\x00numpy_array_alignment_bytesK\x10")
	}
	b.WriteString("ub")
	return b.Bytes()
}

// TestWrapperLimits: a wrapper that claims more bytes than the file holds
// fails without allocating them; a well-formed hand-made one decodes.
func TestWrapperLimits(t *testing.T) {
	good := append(wrapperHeader(2, true), 3, 0xff, 0xff, 0xff)
	good = append(good, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40, '.')
	if _, err := Load(bytes.NewReader(good), allow()); err != nil {
		t.Fatalf("hand-made aligned wrapper: %v", err)
	}
	tests := []struct {
		name string
		prog []byte
	}{
		{"claims 2^40 elements", append(wrapperHeader(1<<40, false), 1, 2, 3, '.')},
		{"claims 2^27 elements, has 8 bytes", append(wrapperHeader(1<<27, false), 0, 0, 0, 0, 0, 0, 0, 0, '.')},
		{"claims 2^62 elements", append(wrapperHeader(1<<62, false), '.')},
		{"bad padding", append(wrapperHeader(1, true), 2, 0xff, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, '.')},
		{"truncated padding", append(wrapperHeader(1, true), 16, 0xff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Load(bytes.NewReader(tt.prog), allow())
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
				t.Fatalf("allocated %d bytes for a %d-byte file", d, len(tt.prog))
			}
		})
	}
}

// TestDecompressionBomb checks that MaxBytes bounds what a small
// compressed file may expand to.
func TestDecompressionBomb(t *testing.T) {
	prog := append([]byte("\x80\x04\x8e"), 0, 0, 0, 0, 1, 0, 0, 0) // BINBYTES8 of 4 GiB
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, 9)
	w.Write(prog)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		w.Write(zeros)
	}
	w.Close()
	_, err := LoadOptions(bytes.NewReader(buf.Bytes()), Options{Allow: allow(), MaxBytes: 16 << 20})
	if !errors.Is(err, pickle.ErrLimit) {
		t.Fatalf("err = %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	b, err := os.ReadFile("testdata/pipeline_zlib.joblib")
	if err != nil {
		t.Fatal(err)
	}
	c := append([]byte(nil), b...)
	c[len(c)/2] ^= 0xff
	if _, err := Load(bytes.NewReader(c), allow()); err == nil {
		t.Fatal("corrupt zlib stream decoded")
	}
	if _, err := Load(bytes.NewReader(nil), allow()); !errors.Is(err, ErrFormat) {
		t.Fatalf("empty: %v", err)
	}
}
