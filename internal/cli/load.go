package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/api"
)

var versionDir = regexp.MustCompile(`^v[0-9]+$`)

func newLoadCmd(g *globals) *cobra.Command {
	var name, version string
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "load <model_path>",
		Short: "Upload a model to the server and load it",
		Long: `Upload a model artifact (a .joblib, .pkl or .onnx file, or a directory holding
one artifact and an optional model.yaml) to the server, which writes it into its
repository, loads and warms it. With --default it becomes its name's default.

Name and version are taken from a models/<name>/<vN>/ path when not given.`,
		Example: `  mlserve load models/sentiment/v2 --default
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
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		var arts []string
		for _, e := range ents {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".joblib", ".pkl", ".pickle", ".onnx":
				arts = append(arts, filepath.Join(path, e.Name()))
			}
		}
		if len(arts) != 1 {
			return nil, fmt.Errorf("%s: want exactly one model artifact (.joblib, .pkl, .onnx), found %d", path, len(arts))
		}
		req.ArtifactPath = arts[0]
		if _, err := os.Stat(filepath.Join(path, "model.yaml")); err == nil {
			req.ManifestPath = filepath.Join(path, "model.yaml")
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

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
