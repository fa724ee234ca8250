package config

import (
	"testing"
)

func TestModelName(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		env         map[string]string
		wantName    string
		wantDefault string
	}{
		{name: "none", wantName: "", wantDefault: ""},
		{name: "from the environment", env: map[string]string{"MLSERVE_MODEL_NAME": "sentiment"}, wantName: "sentiment", wantDefault: "sentiment"},
		{name: "from the file", file: "model_name: spam\n", wantName: "spam", wantDefault: "spam"},
		{name: "default_model wins", file: "default_model: sentiment-v2\nmodel_name: spam\n", wantName: "spam", wantDefault: "sentiment-v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := load(path, envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.ModelName != tt.wantName || c.DefaultModelRef() != tt.wantDefault {
				t.Fatalf("model_name %q default %q, want %q %q", c.ModelName, c.DefaultModelRef(), tt.wantName, tt.wantDefault)
			}
		})
	}
}

// The image's baked-in configuration (deploy/container/config.yaml) is what
// the issue asks of a container: the API on 0.0.0.0:8080, metrics on
// 0.0.0.0:9090, models in KServe's /mnt/models, JSON logs.
func TestContainerConfig(t *testing.T) {
	c, err := load("../../deploy/container/config.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "0.0.0.0:8080" || c.MetricsAddr() != "0.0.0.0:9090" || !c.Monitoring.Enabled ||
		c.ModelsDir != "/mnt/models" || c.Log.Format != "json" || c.ONNX.LibraryPath != "" {
		t.Fatalf("container config: listen %s metrics %s models %s log %s onnx %q",
			c.ListenAddr, c.MetricsAddr(), c.ModelsDir, c.Log.Format, c.ONNX.LibraryPath)
	}
	// Still overridable from the environment, as everywhere.
	c, err = load("../../deploy/container/config.yaml", func(k string) (string, bool) {
		v, ok := map[string]string{"MLSERVE_LISTEN_ADDR": "0.0.0.0:8081", "MLSERVE_MODELS_DIR": "/data"}[k]
		return v, ok
	})
	if err != nil || c.ListenAddr != "0.0.0.0:8081" || c.ModelsDir != "/data" {
		t.Fatalf("env over the container config: %v %+v", err, c)
	}
}
