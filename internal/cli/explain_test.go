package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/model/sklearn"
	"github.com/mlserve/mlserve/internal/server"
)

// oneModel is a registry serving one loaded model under its id.
type oneModel struct {
	id  string
	m   model.Model
	man *model.Manifest
}

func (o *oneModel) Resolve(ref string) (*model.Handle, error) {
	if ref != o.id && ref != "" {
		return nil, model.ErrNotFound
	}
	return model.NewHandle(o.id, o.m, o.man, nil), nil
}
func (o *oneModel) List() []model.Status                 { return nil }
func (o *oneModel) Get(string) (model.Status, error)     { return model.Status{}, model.ErrNotFound }
func (o *oneModel) Unload(context.Context, string) error { return model.ErrNotFound }
func (o *oneModel) Install(context.Context, model.InstallRequest) (model.Status, error) {
	return model.Status{}, model.ErrInvalid
}
func (o *oneModel) SetDefault(context.Context, string, string) error { return model.ErrNotFound }
func (o *oneModel) Ready() bool                                      { return true }

// TestPredictExplainCommand runs `mlserve predict --explain` against a
// real server on the sample spam model: the plain rendering (not a
// terminal) marks the words that pushed towards spam and lists the top
// features.
func TestPredictExplainCommand(t *testing.T) {
	m, err := sklearn.Load(filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := server.New(&oneModel{id: "spam-v1", m: m}, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"--server", ts.URL, "predict", "--model", "spam-v1", "--explain", "--top-k", "3",
		"Click here to WIN a FREE prize"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := out.String()
	t.Logf("\n%s", got)
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 1+1+1+3+1 {
		t.Fatalf("want label, text, score, 3 features and the rest: %q", lines)
	}
	if !strings.HasPrefix(lines[0], "spam\t") {
		t.Errorf("label line %q", lines[0])
	}
	if !strings.Contains(lines[1], "[+") || strings.Contains(got, "\x1b[") {
		t.Errorf("plain rendering (not a terminal) wanted: %q", lines[1])
	}
	if !strings.Contains(lines[2], `decision_function of "spam"`) || !strings.Contains(lines[2], "exact") {
		t.Errorf("score line %q", lines[2])
	}
}

// TestRenderExplanation pins both renderings on a hand-made explanation:
// overlapping spans add up, a newline keeps the marks balanced.
func TestRenderExplanation(t *testing.T) {
	ex := &api.Explanation{Method: "exact", Class: "spam", Score: "decision_function", Value: 1.5, Base: -0.5, Features: 4, Rest: 0.25,
		Contributions: []api.Contribution{
			{Feature: "free", Value: 1.0, Spans: []api.Span{{Start: 0, End: 4}}},
			{Feature: "meeting", Value: -0.5, Spans: []api.Span{{Start: 11, End: 18}}},
			{Feature: "free money", Value: 1.25, Spans: []api.Span{{Start: 0, End: 10}}},
		}}
	text := "FREE money meeting\nnow"
	var plain, color bytes.Buffer
	renderExplanation(&plain, text, ex, false)
	renderExplanation(&color, text, ex, true)
	wantPlain := "  [+FREE money] [-meeting]\n  now\n" +
		"  decision_function of \"spam\" = 1.5000 (exact)\n" +
		"  + free       +1.0000\n" +
		"  - meeting    -0.5000\n" +
		"  + free money +1.2500\n" +
		"  base -0.5000, 1 other features +0.2500\n"
	if plain.String() != wantPlain {
		t.Errorf("plain:\n%q\nwant\n%q", plain.String(), wantPlain)
	}
	if !strings.Contains(color.String(), ansiFor+"FREE money"+ansiReset) || !strings.Contains(color.String(), ansiAgainst+"meeting"+ansiReset) {
		t.Errorf("colour: %q", color.String())
	}
}

// TestPredictOODColumn: --ood adds the score, and the deciding signal when
// flagged; without it the line keeps its columns.
func TestPredictOODColumn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "models", "spam", "v1", "model.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	man, _, err := model.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sklearn.Load(filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := server.New(&oneModel{id: "spam-v1", m: m, man: man}, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, tc := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"predict", "--model", "spam-v1", "great blender"}, regexp.MustCompile(`^\S+\t\S+\tspam-v1\n$`)},
		{[]string{"predict", "--model", "spam-v1", "--ood", "great blender"}, regexp.MustCompile(`^\S+\t\S+\tspam-v1\tood=0\.9\d+\(flagged:text_length\)\n$`)},
	} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), append([]string{"--server", ts.URL}, tc.args...), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut.String())
		}
		if !tc.want.MatchString(out.String()) {
			t.Errorf("%v: %q", tc.args, out.String())
		}
	}
}
