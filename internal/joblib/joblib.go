// Package joblib reads files written by joblib.dump (and plain pickle files)
// without executing anything.
//
// Load sniffs the compression from the first bytes (zlib, gzip, bz2, xz,
// lzma, lz4, else an uncompressed pickle), then decodes the pickle through
// the caller's pickle.AllowList. joblib writes each numpy array as a
// NumpyArrayWrapper object followed by the array's raw bytes in the stream
// (or, for object arrays, a nested pickle); Register allows that wrapper and
// reads those bytes, with and without the alignment padding that joblib 1.2
// introduced.
package joblib

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/mlserve/mlserve/internal/numpy"
	"github.com/mlserve/mlserve/internal/pickle"
)

// ErrFormat means the file is not a joblib or pickle file this package can
// read (an unknown compression header, a corrupt compressed stream, a
// malformed array wrapper).
var ErrFormat = errors.New("joblib: unreadable file")

// Compression names the compression sniff recognises.
type Compression string

// The compressions joblib writes.
const (
	None Compression = ""
	Zlib Compression = "zlib"
	Gzip Compression = "gzip"
	BZ2  Compression = "bz2"
	XZ   Compression = "xz"
	LZMA Compression = "lzma"
	LZ4  Compression = "lz4"
)

// sniff tells the compression from a file's first bytes (at least 6 are
// needed to tell them all apart).
func sniff(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(head, []byte("BZh")):
		return BZ2
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return XZ
	case bytes.HasPrefix(head, []byte{0x5d, 0x00, 0x00}):
		return LZMA
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		return LZ4
	case len(head) >= 2 && head[0] == 0x78 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		return Zlib
	}
	return None
}

// Options are the limits for Load; the zero value uses the pickle package's
// defaults. MaxBytes and MaxMemory apply to the decompressed stream as it is
// read, so they also bound decompression bombs: decompression stops at the
// limit, it is not checked after.
type Options = pickle.Options

// The budget of one file (see Budget).
const (
	// BudgetBase is the memory any file may use, however small.
	BudgetBase = 32 << 20
	// BudgetPerByte is the memory allowed per byte of the file on disk.
	BudgetPerByte = 128
)

// Budget is the memory, and the decompressed bytes, that loading a file of
// fileSize bytes may take: BudgetBase + BudgetPerByte × fileSize, capped by
// maxModelBytes (limits.max_model_bytes; no cap when it is 0 or less).
//
// Why these figures: the memory a model needs, as pickle.Options.MaxMemory
// counts it, is at most 37× its file size among the sample models (spam/v1:
// 566 KB on disk, 21 MB counted; sentiment/v2 27×) and the scikit-learn
// fixtures (up to 36×); only tiny synthetic files of zeros go higher (81×
// for 1 KB), and the base covers those. 128 per byte leaves a margin of
// 3.5× over the worst real model, while a hostile 30 KB file, whatever it
// inflates to, is refused before 36 MiB, far under the 256 MB of heap a
// load may grow by. The base (32 MiB, 400× the largest real need of a
// tiny file) is kept small because it is also what a bomb gets to
// decompress and allocate before it is refused: every megabyte of it is
// milliseconds of a hostile upload.
func Budget(fileSize, maxModelBytes int64) int64 {
	return ScaledBudget(fileSize, BudgetPerByte, maxModelBytes)
}

// ScaledBudget is Budget with perByte in place of BudgetPerByte
// (limits.model_bytes_per_file_byte), for models that compress better than
// BudgetPerByte to one; perByte 0 or less is BudgetPerByte.
func ScaledBudget(fileSize, perByte, maxModelBytes int64) int64 {
	if perByte <= 0 {
		perByte = BudgetPerByte
	}
	b := int64(BudgetBase)
	if fileSize > 0 {
		if fileSize > (1<<62)/perByte {
			b = 1 << 62
		} else {
			b += perByte * fileSize
		}
	}
	if maxModelBytes > 0 {
		b = min(b, maxModelBytes)
	}
	return b
}

// OpenContext reads the joblib or pickle file at path with its Budget,
// capped by maxModelBytes, under ctx.
func OpenContext(ctx context.Context, path string, a *pickle.AllowList, maxModelBytes int64) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := Budget(st.Size(), maxModelBytes)
	return LoadContext(ctx, f, Options{Allow: a, MaxBytes: b, MaxMemory: b})
}

// Open reads the joblib or pickle file at path with the globals of a.
func Open(path string, a *pickle.AllowList) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Load(f, a)
}

// Load reads a joblib or pickle stream with the globals of a and default
// limits.
func Load(r io.Reader, a *pickle.AllowList) (any, error) {
	return LoadOptions(r, Options{Allow: a})
}

// LoadOptions reads a joblib or pickle stream with explicit options.
func LoadOptions(r io.Reader, opts Options) (any, error) {
	return LoadContext(context.Background(), r, opts)
}

// LoadContext reads a joblib or pickle stream with explicit options; it
// stops with an error wrapping pickle.ErrLimit when ctx is done.
func LoadContext(ctx context.Context, r io.Reader, opts Options) (any, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrFormat)
	}
	var src io.Reader = br
	switch c := sniff(head); c {
	case Zlib:
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: zlib: %v", ErrFormat, err)
		}
		defer zr.Close()
		src = zr
	case Gzip:
		gr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
		}
		defer gr.Close()
		src = gr
	case BZ2:
		src = bzip2.NewReader(br)
	case XZ:
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: xz: %v", ErrFormat, err)
		}
		src = xr
	case LZMA:
		lr, err := lzma.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: lzma: %v", ErrFormat, err)
		}
		src = lr
	case LZ4:
		src = lz4.NewReader(br)
	}
	if src != io.Reader(br) {
		src = bufio.NewReaderSize(&errReader{src}, 64<<10)
	}
	v, err := pickle.LoadContext(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// errReader tags errors of a decompressor as ErrFormat (pickle passes
// reader errors through).
type errReader struct{ r io.Reader }

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: decompressing: %v", ErrFormat, err)
	}
	return n, err
}

// Register allows on a joblib's NumpyArrayWrapper, and the builtins and
// numpy globals that joblib files always need. Sparse matrices need
// scipy.Register too; estimators need their own entries.
func Register(a *pickle.AllowList) {
	pickle.Builtins(a)
	numpy.Register(a)
	a.Allow("joblib.numpy_pickle", "NumpyArrayWrapper", pickle.Func(func(args pickle.Tuple) (any, error) {
		if len(args) != 0 {
			return nil, fmt.Errorf("%w: NumpyArrayWrapper built from arguments", ErrFormat)
		}
		return &arrayWrapper{}, nil
	}))
}

// arrayWrapper is joblib's NumpyArrayWrapper: the description of an array
// whose bytes follow in the stream.
type arrayWrapper struct {
	shape   []int
	fortran bool
	dtype   numpy.Dtype
	aligned bool
}

// SetState takes the wrapper's __dict__: subclass, shape, order, dtype,
// allow_mmap and, since joblib 1.2, numpy_array_alignment_bytes.
func (w *arrayWrapper) SetState(state any) error {
	d, ok := state.(*pickle.Dict)
	if !ok {
		return fmt.Errorf("%w: NumpyArrayWrapper state is a %T", ErrFormat, state)
	}
	if sc, ok := d.Get("subclass"); ok {
		if g, ok := sc.(pickle.Global); !ok || g.Module != "numpy" || (g.Name != "ndarray" && g.Name != "memmap") {
			return fmt.Errorf("%w: array subclass %s", ErrFormat, pickle.Describe(sc))
		}
	}
	sh, _ := d.Get("shape")
	t, ok := sh.(pickle.Tuple)
	if !ok || len(t) > 64 {
		return fmt.Errorf("%w: array shape %s", ErrFormat, pickle.Describe(sh))
	}
	w.shape = make([]int, len(t))
	for i, e := range t {
		n, ok := e.(int64)
		if !ok || n < 0 || n > 1<<40 {
			return fmt.Errorf("%w: array shape %s", ErrFormat, pickle.Describe(sh))
		}
		w.shape[i] = int(n)
	}
	order, _ := d.Get("order")
	switch order {
	case "C":
	case "F":
		w.fortran = true
	default:
		return fmt.Errorf("%w: array order %s", ErrFormat, pickle.Describe(order))
	}
	dt, _ := d.Get("dtype")
	dtp, ok := dt.(*numpy.Dtype)
	if !ok {
		return fmt.Errorf("%w: array dtype is a %T", ErrFormat, dt)
	}
	w.dtype = *dtp
	al, ok := d.Get("numpy_array_alignment_bytes")
	w.aligned = ok && al != nil
	return nil
}

// ReadStream reads the array that follows the wrapper: a nested pickle for
// object arrays, else optional alignment padding and the raw bytes.
func (w *arrayWrapper) ReadStream(s *pickle.Stream) (any, error) {
	if w.dtype.Kind == 'O' {
		v, err := s.Load()
		if err != nil {
			return nil, err
		}
		if _, ok := v.(*numpy.Array); !ok {
			return nil, fmt.Errorf("%w: object array pickled as a %T", ErrFormat, v)
		}
		return v, nil
	}
	if w.aligned {
		n, err := s.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: array padding: %v", ErrFormat, err)
		}
		if n > 0 {
			pad, err := s.ReadN(int64(n))
			if err != nil {
				return nil, fmt.Errorf("array padding: %w", err)
			}
			for _, b := range pad {
				if b != 0xff {
					return nil, fmt.Errorf("%w: array padding byte %#x", ErrFormat, b)
				}
			}
		}
	}
	count := int64(1)
	for _, n := range w.shape {
		if n != 0 && count > (1<<50)/int64(n) {
			return nil, fmt.Errorf("%w: array shape %v too large", ErrFormat, w.shape)
		}
		count *= int64(n)
	}
	size := count * int64(w.dtype.ItemSize)
	if w.dtype.ItemSize != 0 && size/int64(w.dtype.ItemSize) != count {
		return nil, fmt.Errorf("%w: array shape %v too large", ErrFormat, w.shape)
	}
	raw, err := s.ReadN(size)
	if err != nil {
		return nil, fmt.Errorf("array data: %w", err)
	}
	return numpy.NewArray(w.dtype, w.shape, w.fortran, raw)
}
