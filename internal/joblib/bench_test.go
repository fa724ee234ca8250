package joblib

import (
	"bytes"
	"compress/zlib"
	"io"
	"os"
	"testing"
)

// benchFile is a TF-IDF (51,281 terms, 1-2 grams) + LogisticRegression
// pipeline written by make_pickle_fixtures.py --bench: 1.95 MB of pickle,
// stored zlib-compressed (624 KB).
const benchFile = "testdata/bench_tfidf_lr.joblib"

func benchData(b *testing.B) []byte {
	data, err := os.ReadFile(benchFile)
	if err != nil {
		b.Skipf("%s missing (python python/fixtures/make_pickle_fixtures.py --bench): %v", benchFile, err)
	}
	return data
}

// BenchmarkLoadTFIDFLR decodes the compressed file: zlib plus pickle.
func BenchmarkLoadTFIDFLR(b *testing.B) {
	data := benchData(b)
	a := allow()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(bytes.NewReader(data), a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadTFIDFLRRaw decodes the same model uncompressed: the pickle
// VM and array decoding alone.
func BenchmarkLoadTFIDFLRRaw(b *testing.B) {
	data := benchData(b)
	a := allow()
	zr, err := Load(bytes.NewReader(data), a) // check it decodes
	if err != nil || zr == nil {
		b.Fatal(err)
	}
	raw := decompressed(b, data)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(bytes.NewReader(raw), a); err != nil {
			b.Fatal(err)
		}
	}
}

func decompressed(b *testing.B, data []byte) []byte {
	zr, err := zlibReader(data)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func zlibReader(data []byte) (io.Reader, error) {
	return zlib.NewReader(bytes.NewReader(data))
}
