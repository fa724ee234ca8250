package model

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestNamesAndIDs(t *testing.T) {
	tests := []struct {
		id, name, version string
		ok                bool
	}{
		{"sentiment-v2", "sentiment", "v2", true},
		{"spam-filter-v10", "spam-filter", "v10", true},
		{"a.b_c-v0", "a.b_c", "v0", true},
		{"Sentiment-v1", "", "", false},
		{"sentiment-2", "", "", false},
		{"sentiment", "", "", false},
		{"-v1", "", "", false},
		{"../x-v1", "", "", false},
		{".hidden-v1", "", "", false},
		{"x-v99999999999", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			n, v, err := SplitID(tt.id)
			if !tt.ok {
				if !errors.Is(err, ErrInvalidName) {
					t.Fatalf("err = %v, want ErrInvalidName", err)
				}
				return
			}
			if err != nil || n != tt.name || v != tt.version || ID(n, v) != tt.id {
				t.Fatalf("SplitID = %q %q %v", n, v, err)
			}
		})
	}
}

func TestRepositoryWrite(t *testing.T) {
	root := t.TempDir()
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, model, version, file string
		manifest                   []byte
		wantErr                    error
	}{
		{"first", "sentiment", "v1", "model.joblib", []byte("framework: sklearn\n"), nil},
		{"no manifest", "sentiment", "v2", "m.pkl", nil, nil},
		{"exists", "sentiment", "v1", "model.joblib", nil, ErrExists},
		{"bad name", "Bad", "v1", "model.joblib", nil, ErrInvalidName},
		{"bad version", "sentiment", "2", "model.joblib", nil, ErrInvalidName},
		{"path in file name", "sentiment", "v3", "../../evil.joblib", nil, ErrInvalidName},
		{"manifest as artifact", "sentiment", "v3", "model.yaml", nil, ErrInvalidName},
		{"unknown extension", "sentiment", "v3", "model.exe", nil, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := repo.Write(tt.model, tt.version, tt.file, strings.NewReader("label=x"), tt.manifest)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Artifact != tt.file || v.ID() != tt.model+"-"+tt.version || string(v.Manifest) != string(tt.manifest) {
				t.Errorf("got %+v", v)
			}
			b, err := os.ReadFile(filepath.Join(root, tt.model, tt.version, tt.file))
			if err != nil || string(b) != "label=x" {
				t.Errorf("artifact on disk: %q %v", b, err)
			}
		})
	}
	// Nothing temporary is left behind, and a failed write leaves no folder.
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(root, "sentiment", "v3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused write left a folder: %v", err)
	}
	if next, _ := repo.NextVersion("sentiment"); next != "v3" {
		t.Errorf("NextVersion = %q", next)
	}
	if next, _ := repo.NextVersion("fresh"); next != "v1" {
		t.Errorf("NextVersion(fresh) = %q", next)
	}
}

func TestRepositoryWriteFiles(t *testing.T) {
	root := t.TempDir()
	repo, err := OpenRepository(root)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name, content string) File { return File{Name: name, Content: strings.NewReader(content)} }
	many := make([]File, MaxFiles+1)
	for i := range many {
		many[i] = file(fmt.Sprintf("f%d.txt", i), "x")
	}
	named := []byte("framework: onnx\nartifact: model.onnx\n")
	tests := []struct {
		name     string
		manifest []byte
		files    []File
		wantErr  error
	}{
		{"vocabulary and classifier", named, []File{file("vocab.txt", "<pad>\n<unk>\n"), file("classifier.joblib", "clf")}, nil},
		{"second artifact, manifest names none", nil, []File{file("vocab.txt", "x"), file("classifier.joblib", "clf")}, ErrInvalid},
		{"path", named, []File{file("../vocab.txt", "x")}, ErrInvalidName},
		{"subfolder", named, []File{file("sub/vocab.txt", "x")}, ErrInvalidName},
		{"hidden", named, []File{file(".mlserve-state.json", "{}")}, ErrInvalidName},
		{"manifest", named, []File{file(ManifestFile, "framework: onnx")}, ErrInvalidName},
		{"artifact", named, []File{file("model.onnx", "x")}, ErrInvalidName},
		{"twice", named, []File{file("vocab.txt", "a"), file("vocab.txt", "b")}, ErrInvalidName},
		{"empty name", named, []File{file("", "x")}, ErrInvalidName},
		{"too many", named, many, ErrInvalidName},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version := fmt.Sprintf("v%d", i+1)
			_, err := repo.Write("spam", version, "model.onnx", strings.NewReader("graph"), tt.manifest, tt.files...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if _, err := os.Stat(filepath.Join(root, "spam", version)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("refused write left a folder: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range [][2]string{{"vocab.txt", "<pad>\n<unk>\n"}, {"classifier.joblib", "clf"}, {"model.onnx", "graph"}} {
				b, err := os.ReadFile(filepath.Join(root, "spam", version, want[0]))
				if err != nil || string(b) != want[1] {
					t.Errorf("%s on disk: %q %v", want[0], b, err)
				}
			}
		})
	}
}

// failingReader fails halfway: the version must not appear.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n--
		return copy(p, "partial"), nil
	}
	return 0, io.ErrUnexpectedEOF
}

func TestRepositoryWriteInterrupted(t *testing.T) {
	root := t.TempDir()
	repo, _ := OpenRepository(root)
	if _, err := repo.Write("spam", "v1", "model.joblib", &failingReader{n: 3}, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	vs, errs := repo.Scan()
	if len(vs) != 0 || len(errs) != 0 {
		t.Fatalf("after a failed write Scan = %v %v", vs, errs)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestRepositoryScan(t *testing.T) {
	root := t.TempDir()
	repo, _ := OpenRepository(root)
	putVersion(t, root, "sentiment", "v10", "label=a", "")
	putVersion(t, root, "sentiment", "v2", "label=a", "")
	putVersion(t, root, "spam", "v1", "label=a", "artifact: model.joblib\n")
	putVersion(t, root, ".tmp-spam-v2-123", "v1", "label=a", "")        // temp dir: ignored
	putVersion(t, root, "spam", ".v3", "label=a", "")                   // dot version: ignored
	putVersion(t, root, "BadName", "v1", "label=a", "")                 // error
	putVersion(t, root, "spam", "latest", "label=a", "")                // error
	os.MkdirAll(filepath.Join(root, "empty", "v1"), 0o755)              // no artifact: error
	putVersion(t, root, "ghost", "v1", "label=a", "artifact: x.onnx\n") // manifest names a missing file
	vs, errs := repo.Scan()
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID())
	}
	if got := strings.Join(ids, ","); got != "sentiment-v2,sentiment-v10,spam-v1" {
		t.Errorf("Scan ids = %s", got)
	}
	if len(errs) != 4 {
		t.Errorf("Scan errors = %v, want 4", errs)
	}
}

func TestStateRoundTrip(t *testing.T) {
	root := t.TempDir()
	repo, _ := OpenRepository(root)
	s, err := repo.LoadState()
	if err != nil || len(s.Defaults) != 0 {
		t.Fatalf("empty state: %+v %v", s, err)
	}
	want := State{Defaults: map[string]string{"sentiment": "v1"}, Unloaded: []string{"spam-v2"}}
	if err := repo.SaveState(want); err != nil {
		t.Fatal(err)
	}
	got, err := repo.LoadState()
	if err != nil || got.Defaults["sentiment"] != "v1" || len(got.Unloaded) != 1 || got.Unloaded[0] != "spam-v2" {
		t.Fatalf("LoadState = %+v %v", got, err)
	}
	os.WriteFile(filepath.Join(root, StateFile), []byte("{broken"), 0o644)
	if _, err := repo.LoadState(); err == nil {
		t.Error("corrupt state file accepted")
	}
}

// TestNameAndVersionRules checks the hand-written name and version tests
// against the regular expressions they replace, on the edge cases and on
// every string of up to three bytes over an alphabet that covers each class.
func TestNameAndVersionRules(t *testing.T) {
	nameRE := regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	versionRE := regexp.MustCompile(`^v([0-9]+)$`)
	check := func(s string) {
		t.Helper()
		if got, want := validName(s), len(s) <= 128 && nameRE.MatchString(s); got != want {
			t.Errorf("validName(%q) = %v, want %v", s, got, want)
		}
		m := versionRE.FindStringSubmatch(s)
		wantOK := m != nil && len(m[1]) <= 9
		n, ok := versionNumber(s)
		if ok != wantOK {
			t.Errorf("versionNumber(%q) ok = %v, want %v", s, ok, wantOK)
		}
		if ok {
			if want, _ := strconv.Atoi(m[1]); n != want {
				t.Errorf("versionNumber(%q) = %d, want %d", s, n, want)
			}
		}
		if got, want := isBareVersion(s), versionRE.MatchString(s); got != want {
			t.Errorf("isBareVersion(%q) = %v, want %v", s, got, want)
		}
	}
	for _, s := range []string{"", "v", "v0", "v007", "v123456789", "v1234567890", "V1", "v1 ", "-a", "_a", ".a", "a-",
		"spam", "spam-v1", "Spam", strings.Repeat("a", 128), strings.Repeat("a", 129), "é", "a\x00"} {
		check(s)
	}
	alphabet := "az09_.-vA /é"
	var walk func(prefix string, depth int)
	walk = func(prefix string, depth int) {
		check(prefix)
		if depth == 3 {
			return
		}
		for _, c := range alphabet {
			walk(prefix+string(c), depth+1)
		}
	}
	walk("", 0)
}
