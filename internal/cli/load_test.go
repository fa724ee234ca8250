package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadRequest(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(root, p)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte("x"), 0o644)
		return p
	}
	art := mk("models/sentiment/v3/model.joblib")
	man := mk("models/sentiment/v3/model.yaml")
	loose := mk("elsewhere/reviews.pkl")
	mk("two/a.pkl")
	mk("two/b.joblib")
	tests := []struct {
		name, path, flagName, flagVersion string
		wantName, wantVersion, wantArt    string
		wantMan                           string
		wantErr                           bool
	}{
		{name: "repository dir", path: filepath.Dir(art), wantName: "sentiment", wantVersion: "v3", wantArt: art, wantMan: man},
		{name: "repository file", path: art, wantName: "sentiment", wantVersion: "v3", wantArt: art, wantMan: man},
		{name: "flags win", path: art, flagName: "other", flagVersion: "v9", wantName: "other", wantVersion: "v9", wantArt: art, wantMan: man},
		{name: "loose file", path: loose, wantName: "reviews", wantArt: loose},
		{name: "two artifacts", path: filepath.Join(root, "two"), wantErr: true},
		{name: "missing", path: filepath.Join(root, "nope"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := loadRequest(tc.path, tc.flagName, tc.flagVersion, true)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if tc.wantErr {
				return
			}
			if r.Name != tc.wantName || r.Version != tc.wantVersion || r.ArtifactPath != tc.wantArt || r.ManifestPath != tc.wantMan || !r.MakeDefault {
				t.Errorf("got %+v", r)
			}
		})
	}
}
