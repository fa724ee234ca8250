package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlserve/mlserve/internal/mirror"
	s3store "github.com/mlserve/mlserve/internal/mirror/s3"
	"github.com/mlserve/mlserve/internal/mirror/s3/s3test"
	"github.com/mlserve/mlserve/internal/model"
)

// counting counts the objects a mirror fetches from the real store.
type counting struct {
	mirror.Store
	gets atomic.Int64
}

func (c *counting) Get(ctx context.Context, key string, w io.Writer) (string, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, w)
}

// env is a bucket on a moto server, its store under a prefix, and a mirror.
type env struct {
	srv   *s3test.Server
	store *counting
	dir   string
	logs  *bytes.Buffer
	m     *mirror.Mirror
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := s3test.Start(t)
	srv.Bucket(t, "models")
	st, err := s3store.New(context.Background(), s3store.Options{Bucket: "models", Prefix: "team/", Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: &counting{Store: st}, dir: t.TempDir(), logs: &bytes.Buffer{}}
	e.m = e.open(t, e.dir)
	return e
}

func (e *env) open(t *testing.T, dir string) *mirror.Mirror {
	t.Helper()
	m, err := mirror.New(mirror.Options{Store: e.store, Dir: dir,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) put(t *testing.T, key, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("models"),
		Key: aws.String("team/" + key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSyncByETag: Sync copies the layout's objects and the state file,
// fetches nothing that did not change, and fetches again what did.
func TestSyncByETag(t *testing.T) {
	e := newEnv(t)
	e.put(t, "sentiment/v1/model.joblib", "artifact-1")
	e.put(t, "sentiment/v1/model.yaml", "description: one\n")
	e.put(t, "spam/v2/model.onnx", "onnx")
	e.put(t, model.StateFile, `{"defaults":{"sentiment":"v1"}}`)
	e.sync(t)
	for path, want := range map[string]string{
		"sentiment/v1/model.joblib": "artifact-1", "sentiment/v1/model.yaml": "description: one\n",
		"spam/v2/model.onnx": "onnx", model.StateFile: `{"defaults":{"sentiment":"v1"}}`,
	} {
		if got := readFile(t, filepath.Join(e.dir, path)); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if n := e.store.gets.Load(); n != 4 {
		t.Errorf("first sync fetched %d objects, want 4", n)
	}
	e.sync(t)
	if n := e.store.gets.Load(); n != 4 {
		t.Errorf("an unchanged store was fetched again: %d gets", n)
	}
	// A restart on the same folder remembers the ETags.
	e.m = e.open(t, e.dir)
	e.sync(t)
	if n := e.store.gets.Load(); n != 4 {
		t.Errorf("a restart fetched unchanged objects again: %d gets", n)
	}
	e.put(t, "sentiment/v1/model.yaml", "description: two\n")
	e.sync(t)
	if got := readFile(t, filepath.Join(e.dir, "sentiment/v1/model.yaml")); got != "description: two\n" {
		t.Errorf("changed object not fetched: %q", got)
	}
	if n := e.store.gets.Load(); n != 5 {
		t.Errorf("fetched %d objects after one change, want 5", n)
	}
	vs, errs := mustRepo(t, e.dir).Scan()
	if len(vs) != 2 || len(errs) != 0 {
		t.Errorf("the repository reads %d versions (%v) from the mirror, want 2", len(vs), errs)
	}
}

func mustRepo(t *testing.T, dir string) *model.Repository {
	t.Helper()
	r, err := model.OpenRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSyncSkipsWhatBreaksTheLayout: keys that are not <name>/v<N>/<file>
// are skipped, each logged once, and the rest is fetched.
func TestSyncSkipsWhatBreaksTheLayout(t *testing.T) {
	e := newEnv(t)
	e.put(t, "good/v1/model.joblib", "a")
	for _, k := range []string{"Bad Name/v1/model.joblib", "good/latest/model.joblib", "good/v2/sub/model.joblib", "good/v3/.hidden", "loose.joblib"} {
		e.put(t, k, "x")
	}
	e.sync(t)
	e.sync(t)
	if got := readFile(t, filepath.Join(e.dir, "good/v1/model.joblib")); got != "a" {
		t.Errorf("good/v1 = %q", got)
	}
	for _, p := range []string{"good/latest", "good/v2", "good/v3", "loose.joblib", "Bad Name"} {
		if _, err := os.Lstat(filepath.Join(e.dir, p)); err == nil {
			t.Errorf("%s was mirrored", p)
		}
	}
	if n := strings.Count(e.logs.String(), "object skipped"); n != 5 {
		t.Errorf("%d skip lines over two syncs, want 5 (once per key):\n%s", n, e.logs)
	}
}

// stage writes a staged version's files the way the repository does.
func stage(t *testing.T, files map[string]string) model.Version {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sentiment", "v7")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return model.Version{Name: "sentiment", Version: "v7", N: 7, Dir: dir, Artifact: "model.joblib"}
}

// TestPublishVersion: an upload puts its files and then the marker; a
// second upload of the same version is refused with ErrExists; another
// replica (a fresh folder) fetches it whole; the uploader does not fetch
// back what it uploaded.
func TestPublishVersion(t *testing.T) {
	e := newEnv(t)
	v := stage(t, map[string]string{"model.joblib": "weights", "model.yaml": "description: x\n", "vocab.txt": "a b"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.m.PublishVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	out, err := e.srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("models"), Prefix: aws.String("team/sentiment/v7/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), "team/sentiment/v7/"))
	}
	if strings.Join(keys, ",") != ".mlserve-version,model.joblib,model.yaml,vocab.txt" {
		t.Errorf("objects %v", keys)
	}
	if err := e.m.PublishVersion(ctx, v); !errors.Is(err, model.ErrExists) {
		t.Errorf("second publish: %v, want ErrExists", err)
	}
	e.sync(t) // the uploader: its commit puts the folder in place, not the mirror
	if _, err := os.Lstat(filepath.Join(e.dir, "sentiment/v7")); err == nil || e.store.gets.Load() != 0 {
		t.Errorf("the uploader fetched its own upload back (%d gets)", e.store.gets.Load())
	}
	other := e.open(t, t.TempDir())
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(other.Dir(), "sentiment/v7/vocab.txt")); got != "a b" {
		t.Errorf("replica's vocab.txt = %q", got)
	}
	// The marker vouched for every file: the replica's registry may load it on first sight.
	if _, err := os.Stat(filepath.Join(other.Dir(), "sentiment/v7", model.WholeMarker)); err != nil {
		t.Errorf("a version fetched whole lacks %s: %v", model.WholeMarker, err)
	}
	if err := e.m.PublishState(ctx, []byte(`{"defaults":{"sentiment":"v7"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(other.Dir(), model.StateFile)); !strings.Contains(got, "v7") {
		t.Errorf("replica's state = %q", got)
	}
}

// TestMarkerHoldsBackAnUnfinishedUpload: a version whose marker lists a
// file the store does not hold with that ETag yet is not fetched; it is
// once the file is there.
func TestMarkerHoldsBackAnUnfinishedUpload(t *testing.T) {
	e := newEnv(t)
	e.put(t, "sentiment/v2/model.yaml", "m")
	e.put(t, "sentiment/v2/"+mirror.Marker, `{"model.yaml":"`+etagOf(t, e, "sentiment/v2/model.yaml")+`","model.joblib":"not-yet"}`)
	e.sync(t)
	if _, err := os.Lstat(filepath.Join(e.dir, "sentiment/v2")); err == nil {
		t.Fatal("half an upload was mirrored")
	}
	e.put(t, "sentiment/v2/model.joblib", "w")
	e.put(t, "sentiment/v2/"+mirror.Marker, `{"model.yaml":"`+etagOf(t, e, "sentiment/v2/model.yaml")+
		`","model.joblib":"`+etagOf(t, e, "sentiment/v2/model.joblib")+`"}`)
	e.sync(t)
	if got := readFile(t, filepath.Join(e.dir, "sentiment/v2/model.joblib")); got != "w" {
		t.Errorf("model.joblib = %q", got)
	}
}

func etagOf(t *testing.T, e *env, key string) string {
	t.Helper()
	out, err := e.srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("models"), Key: aws.String("team/" + key)})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// TestStoreGoneKeepsTheCopy: when the store goes away Sync fails with
// ErrUnavailable, logs it once however often it is retried, and leaves the
// folder as it was.
func TestStoreGoneKeepsTheCopy(t *testing.T) {
	e := newEnv(t)
	e.put(t, "spam/v1/model.joblib", "w")
	e.sync(t)
	e.srv.Stop()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := e.m.Sync(ctx)
		cancel()
		if !errors.Is(err, mirror.ErrUnavailable) {
			t.Fatalf("sync with the store gone: %v, want ErrUnavailable", err)
		}
	}
	if n := strings.Count(e.logs.String(), "model store unreachable"); n != 1 {
		t.Errorf("%d lines for one outage, want 1:\n%s", n, e.logs)
	}
	if got := readFile(t, filepath.Join(e.dir, "spam/v1/model.joblib")); got != "w" {
		t.Errorf("the copy changed: %q", got)
	}
	// No marker in the store: the registry's two-scan rule decides, not the mirror.
	if _, err := os.Stat(filepath.Join(e.dir, "spam/v1", model.WholeMarker)); err == nil {
		t.Errorf("a version without an uploader's marker got %s", model.WholeMarker)
	}
}

// TestStateChangesThroughTwoReplicasBothKept: two replicas mirror one
// store; one changes the state, the other, without syncing since, changes
// it too: the store ends with both changes, because a change starts from
// the store's state (RefreshState), not from the replica's last copy.
func TestStateChangesThroughTwoReplicasBothKept(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(m *mirror.Mirror) *model.Repository {
		repo, err := model.OpenRepository(m.Dir())
		if err != nil {
			t.Fatal(err)
		}
		repo.SetPublisher(m)
		return repo
	}
	b := e.open(t, t.TempDir())
	repoA, repoB := open(e.m), open(b)
	e.sync(t)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := repoA.UpdateState(func(s *model.State) { s.Defaults["sentiment"] = "v2" }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := repoB.UpdateState(func(s *model.State) { s.Unloaded = append(s.Unloaded, "spam-v1") }); err != nil {
		t.Fatal(err)
	}
	third := e.open(t, t.TempDir())
	if err := third.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, filepath.Join(third.Dir(), model.StateFile))
	if !strings.Contains(got, `"sentiment": "v2"`) || !strings.Contains(got, "spam-v1") {
		t.Fatalf("the store's state lost a change:\n%s", got)
	}
	// Nothing new in the store: RefreshState fetches nothing.
	gets := e.store.gets.Load()
	if err := b.RefreshState(ctx); err != nil {
		t.Fatal(err)
	}
	if e.store.gets.Load() != gets {
		t.Error("RefreshState fetched a state file it already had")
	}
}
