package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/mirror"
)

// keepsAndStalls is a store whose Put of one key stores the object and
// then reports the store unavailable, as a store does that keeps an upload
// and never answers it; before that it may run during (another replica
// finishing the same version meanwhile). Its Delete fails when failDelete.
type keepsAndStalls struct {
	mirror.Store
	key        string
	during     func()
	failDelete bool
}

func (s *keepsAndStalls) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error) {
	tag, err := s.Store.Put(ctx, key, body, size)
	if err != nil || !strings.HasSuffix(key, s.key) {
		return tag, err
	}
	if s.during != nil {
		s.during()
	}
	return "", fmt.Errorf("%w: putting %s: the store stalled", mirror.ErrUnavailable, key)
}

func (s *keepsAndStalls) Delete(ctx context.Context, key string) error {
	if s.failDelete {
		return fmt.Errorf("%w: deleting %s: the store stalled", mirror.ErrUnavailable, key)
	}
	return s.Store.Delete(ctx, key)
}

// TestFailedUploadLeavesNothing: an upload that fails after the store kept
// some of it (its manifest, its artifact, or its marker, the last one kept
// without an answer) removes what it put, so no replica takes the files
// for a version copied in by hand and the same upload can be made again;
// unless another replica's marker shows it finished that version
// meanwhile, whose files stay; and what the store does not let it remove
// is logged by key.
func TestFailedUploadLeavesNothing(t *testing.T) {
	e := newEnv(t)
	files := map[string]string{"model.joblib": "weights", "model.yaml": "description: x\n"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := func() string {
		objs, err := e.store.List(ctx, "sentiment/v7/", 100)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, o := range objs {
			ks = append(ks, strings.TrimPrefix(o.Key, "sentiment/v7/"))
		}
		return strings.Join(ks, ",")
	}
	for _, failing := range []string{"model.yaml", "model.joblib", mirror.Marker} {
		t.Run("kept "+failing, func(t *testing.T) {
			st := &keepsAndStalls{Store: e.store, key: "/" + failing}
			m, err := mirror.New(mirror.Options{Store: st, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.PublishVersion(ctx, stage(t, files)); !errors.Is(err, mirror.ErrUnavailable) {
				t.Fatalf("publish through a store that stalled: %v", err)
			}
			if got := keys(); got != "" {
				t.Fatalf("the failed upload left %s in the store", got)
			}
			if err := e.m.PublishVersion(ctx, stage(t, files)); err != nil {
				t.Fatalf("the same upload again: %v", err)
			}
			if got := keys(); got != ".mlserve-version,model.joblib,model.yaml" {
				t.Errorf("after the upload again: %s", got)
			}
			for _, k := range strings.Split(keys(), ",") {
				if err := e.store.Delete(ctx, "sentiment/v7/"+k); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("another replica finished it", func(t *testing.T) {
		st := &keepsAndStalls{Store: e.store, key: "/model.joblib", during: func() {
			e.put(t, "sentiment/v7/"+mirror.Marker, `{"model.joblib":"x","model.yaml":"y"}`)
		}}
		m, err := mirror.New(mirror.Options{Store: st, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.PublishVersion(ctx, stage(t, files)); !errors.Is(err, mirror.ErrUnavailable) {
			t.Fatalf("publish: %v", err)
		}
		if got := keys(); got != ".mlserve-version,model.joblib,model.yaml" {
			t.Errorf("the other replica's version lost files: %s", got)
		}
		for _, k := range strings.Split(keys(), ",") {
			if err := e.store.Delete(ctx, "sentiment/v7/"+k); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("the store refuses the clean-up", func(t *testing.T) {
		e.logs.Reset()
		st := &keepsAndStalls{Store: e.store, key: "/model.joblib", failDelete: true}
		m, err := mirror.New(mirror.Options{Store: st, Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.PublishVersion(ctx, stage(t, files)); !errors.Is(err, mirror.ErrUnavailable) {
			t.Fatalf("publish: %v", err)
		}
		log := e.logs.String()
		if !strings.Contains(log, "failed upload's objects may be left") ||
			!strings.Contains(log, "sentiment/v7/model.yaml") || !strings.Contains(log, "sentiment/v7/model.joblib") {
			t.Errorf("log does not name what was left:\n%s", log)
		}
	})
}
