package model

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
)

// garbageLoader is a fakeLoader whose loads leave 64 MiB of garbage, as
// parsing a large pickle or tokenizer.json does.
type garbageLoader struct{ *fakeLoader }

const loadGarbage = 64 << 20

var garbageSink [][]byte

func (l garbageLoader) Load(ctx context.Context, dir string, m *Manifest) (Model, error) {
	garbageSink = make([][]byte, 0, loadGarbage>>16)
	for range cap(garbageSink) {
		garbageSink = append(garbageSink, make([]byte, 1<<16))
	}
	garbageSink[0][0] = 1
	garbageSink = nil
	return l.fakeLoader.Load(ctx, dir, m)
}

// TestLoadsReturnFreeMemory: once the last load in flight returns, Go's
// free heap goes back to the kernel, so a server that loads its models and
// then idles does not keep their parsing garbage resident.
func TestLoadsReturnFreeMemory(t *testing.T) {
	root := t.TempDir()
	putVersion(t, root, "a", "v1", "label=a", "")
	putVersion(t, root, "b", "v1", "label=b", "")
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(repo, map[string]Loader{"sklearn": garbageLoader{newFakeLoader()}}, Options{}, slog.New(slog.DiscardHandler))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	runtime.GC() // what the loads left is free heap now, resident unless released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if kept := ms.HeapIdle - ms.HeapReleased; kept > loadGarbage/4 {
		t.Errorf("after the loads Go keeps %.1f MiB of free heap resident (each load left %d MiB of garbage)", float64(kept)/(1<<20), loadGarbage>>20)
	}
	if r.building.Load() != 0 {
		t.Errorf("%d loaders still counted as running", r.building.Load())
	}
}
