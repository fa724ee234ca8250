package model

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a Publisher that keeps what it was given, or refuses.
type recorder struct {
	versions []string
	states   []string
	seenDir  bool // the staged files were there when PublishVersion ran
	refuse   error
}

func (p *recorder) PublishVersion(_ context.Context, v Version) error {
	if _, err := os.Stat(filepath.Join(v.Dir, v.Artifact)); err == nil {
		p.seenDir = true
	}
	if p.refuse != nil {
		return p.refuse
	}
	p.versions = append(p.versions, v.ID())
	return nil
}

func (p *recorder) PublishState(_ context.Context, b []byte) error {
	if p.refuse != nil {
		return p.refuse
	}
	p.states = append(p.states, string(b))
	return nil
}

// TestPublisherFirst: Commit and SaveState reach the publisher before the
// folder; a refusal leaves the folder as it was and is returned wrapped.
func TestPublisherFirst(t *testing.T) {
	for _, tt := range []struct {
		name   string
		refuse error
	}{{"accepted", nil}, {"refused", ErrExists}} {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := OpenRepository(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			p := &recorder{refuse: tt.refuse}
			repo.SetPublisher(p)
			_, werr := repo.Write("spam", "v1", "model.joblib", strings.NewReader("w"), nil)
			serr := repo.SaveState(State{Defaults: map[string]string{"spam": "v1"}})
			_, lerr := repo.Lookup("spam", "v1")
			st, _ := repo.LoadState()
			if !p.seenDir {
				t.Error("PublishVersion did not see the staged files")
			}
			if tt.refuse == nil {
				if werr != nil || serr != nil || lerr != nil || st.Defaults["spam"] != "v1" {
					t.Fatalf("write %v, state %v, lookup %v, defaults %v", werr, serr, lerr, st.Defaults)
				}
				if len(p.versions) != 1 || p.versions[0] != "spam-v1" || len(p.states) != 1 || !strings.Contains(p.states[0], `"spam": "v1"`) {
					t.Errorf("published %v %v", p.versions, p.states)
				}
				return
			}
			if !errors.Is(werr, ErrExists) || !errors.Is(serr, ErrExists) {
				t.Errorf("write %v, state %v: want the publisher's ErrExists", werr, serr)
			}
			if !errors.Is(lerr, ErrNotFound) || len(st.Defaults) != 0 {
				t.Errorf("a refused version or state reached the folder: lookup %v, defaults %v", lerr, st.Defaults)
			}
			if ents, _ := os.ReadDir(repo.Dir()); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}
