package onnx

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
)

// padGraph appends a docSize-byte doc_string (ModelProto field 6) to the
// fixture's graph: the same model, docSize bytes larger on disk.
func padGraph(t *testing.T, dir string, docSize int) {
	t.Helper()
	path := filepath.Join(dir, "model.onnx")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 6<<3|2) // field 6, length-delimited
	b = binary.AppendUvarint(b, uint64(docSize))
	for range docSize {
		b = append(b, 'x')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadDoesNotCopyTheGraph: ONNX Runtime reads the graph from its file;
// Go's heap never holds a copy (which for MiniLM was 24 MB resident until a
// collection, and doubled the next collection's target).
func TestLoadDoesNotCopyTheGraph(t *testing.T) {
	const docSize = 16 << 20
	dir := copyFixture(t, "bag", nil)
	padGraph(t, dir, docSize)
	opts := testOptions(t)
	if err := ensureRuntime(opts); err != nil {
		t.Fatal(err)
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	m, err := LoadDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	goruntime.ReadMemStats(&after)
	defer m.Close()
	if got := after.TotalAlloc - before.TotalAlloc; got >= docSize {
		t.Errorf("loading a %d MiB graph allocated %.1f MiB in Go's heap: the graph was read into it", docSize>>20, float64(got)/(1<<20))
	}
	// The padded graph still predicts: it is the same model.
	want := readExpected(t)["bag"]
	got, err := m.Predict(context.Background(), want.Texts[:1])
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, 0, got[0], want.Probabilities[0], m.Labels())
}

// TestLoadReturnsFreeMemory: a load hands Go's free heap back to the kernel,
// so a server that loads its models and then idles does not keep their
// parsing garbage resident until the scavenger gets to it.
func TestLoadReturnsFreeMemory(t *testing.T) {
	opts := testOptions(t)
	if err := ensureRuntime(opts); err != nil {
		t.Fatal(err)
	}
	const garbage = 64 << 20
	sink := make([][]byte, 0, garbage>>16)
	for range cap(sink) {
		sink = append(sink, make([]byte, 1<<16))
	}
	sink[0][0] = 1
	sink = nil
	goruntime.GC() // the garbage is now free heap, still resident
	loadFixture(t, "bag")
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	if kept := ms.HeapIdle - ms.HeapReleased; kept > garbage/4 {
		t.Errorf("after a load Go keeps %.1f MiB of free heap (of %d MiB freed before it)", float64(kept)/(1<<20), garbage>>20)
	}
}
