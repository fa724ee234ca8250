package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/model"
)

var versionDir = regexp.MustCompile(`^v[0-9]+$`)

func newLoadCmd(g *globals) *cobra.Command {
	var name, version string
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "load <model_path>",
		Short: "Upload a model to the server and load it",
		Long: `Upload a model artifact (a .joblib, .pkl or .onnx file), or a version folder
(its model.yaml, the artifact that names or the only one there, and every other
file in it: an ONNX model's vocabulary or tokenizer.json, a two-stage model's
classifier) to the server, which writes it into its repository, loads and warms
it. With --default it becomes its name's default.

Name and version are taken from a models/<name>/<vN>/ path when not given.`,
		Example: `  mlserve load models/sentiment/v2 --default
  mlserve load models/spam/v2 --name spam --version v3
  mlserve load ./my_model.joblib --name reviews --version v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := loadRequest(args[0], name, version, makeDefault)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.LoadModel(cmd.Context(), req)
			if err != nil {
				return err
			}
			def := ""
			if m.Default {
				def = " (default)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded %s%s: %s\n", m.ID, def, m.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "model name (default: from the path)")
	cmd.Flags().StringVar(&version, "version", "", "version vN (default: from the path, else the next free one)")
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make it the name's default once loaded")
	return cmd
}

// loadRequest finds the artifact and manifest under path and infers the
// name and version from a .../<name>/<vN>/ layout.
func loadRequest(path, name, version string, makeDefault bool) (*api.LoadModelRequest, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	req := &api.LoadModelRequest{Name: name, Version: version, MakeDefault: makeDefault}
	dir := filepath.Dir(path)
	if st.IsDir() {
		dir = path
		if err := dirRequest(req, path); err != nil {
			return nil, err
		}
	} else {
		req.ArtifactPath = path
		if m := filepath.Join(dir, "model.yaml"); fileExists(m) {
			req.ManifestPath = m
		}
	}
	abs, _ := filepath.Abs(dir)
	if v := filepath.Base(abs); versionDir.MatchString(v) {
		if req.Version == "" {
			req.Version = v
		}
		if req.Name == "" {
			req.Name = filepath.Base(filepath.Dir(abs))
		}
	}
	if req.Name == "" {
		base := filepath.Base(req.ArtifactPath)
		req.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	return req, nil
}

// dirRequest fills req from a version folder: its artifact (the one the
// model.yaml names, else the only .joblib/.pkl/.onnx file), its model.yaml,
// and every other visible file in it (vocabularies, tokenizer.json, a
// two-stage model's classifier), which the server writes beside the artifact.
func dirRequest(req *api.LoadModelRequest, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var arts, files []string
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		switch {
		case e.Name() == model.ManifestFile:
			req.ManifestPath = p
			continue
		case model.FrameworkOf(e.Name()) != "":
			arts = append(arts, p)
		}
		files = append(files, p)
	}
	if req.ManifestPath != "" {
		b, err := os.ReadFile(req.ManifestPath)
		if err != nil {
			return err
		}
		m, _, err := model.ParseManifest(b)
		if err != nil {
			return err
		}
		if m.Artifact != "" {
			arts = []string{filepath.Join(dir, m.Artifact)}
			if !fileExists(arts[0]) {
				return fmt.Errorf("%s: the artifact %s that %s names is not there", dir, m.Artifact, model.ManifestFile)
			}
		}
	}
	if len(arts) != 1 {
		return fmt.Errorf("%s: want exactly one model artifact (.joblib, .pkl, .onnx) or a %s naming one, found %d",
			dir, model.ManifestFile, len(arts))
	}
	req.ArtifactPath = arts[0]
	for _, f := range files {
		if f != req.ArtifactPath {
			req.FilePaths = append(req.FilePaths, f)
		}
	}
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
