package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLoadRequest(t *testing.T) {
	root := t.TempDir()
	mkText := func(p, text string) string {
		p = filepath.Join(root, p)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	mk := func(p string) string { return mkText(p, "x") }
	art := mk("models/sentiment/v3/model.joblib")
	man := mkText("models/sentiment/v3/model.yaml", "framework: sklearn\n")
	loose := mk("elsewhere/reviews.pkl")
	mk("two/a.pkl")
	mk("two/b.joblib")
	// An ONNX two-stage folder: the manifest names the artifact among two.
	enc := mk("models/reviews/v2/encoder.onnx")
	clf := mk("models/reviews/v2/classifier.joblib")
	tok := mk("models/reviews/v2/tokenizer.json")
	mk("models/reviews/v2/.hidden")
	encMan := mkText("models/reviews/v2/model.yaml", "framework: onnx\nartifact: encoder.onnx\n")
	mkText("badman/model.yaml", "artifact: gone.onnx\n")
	mk("badman/other.onnx")
	tests := []struct {
		name, path, flagName, flagVersion string
		wantName, wantVersion, wantArt    string
		wantMan                           string
		wantFiles                         []string
		wantErr                           bool
	}{
		{name: "onnx folder", path: filepath.Dir(enc), wantName: "reviews", wantVersion: "v2", wantArt: enc, wantMan: encMan,
			wantFiles: []string{clf, tok}},
		{name: "manifest names a missing artifact", path: filepath.Join(root, "badman"), wantErr: true},
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
			if r.Name != tc.wantName || r.Version != tc.wantVersion || r.ArtifactPath != tc.wantArt || r.ManifestPath != tc.wantMan ||
				!r.MakeDefault || !slices.Equal(r.FilePaths, tc.wantFiles) {
				t.Errorf("got %+v", r)
			}
		})
	}
}
