package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mlserve/mlserve/internal/config"
)

// kserveRuntime is the part of deploy/kserve's ClusterServingRuntime that
// must agree with the image (the strict check against KServe's own API
// types lives with the Helm chart's validation).
type kserveRuntime struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Annotations           map[string]string `yaml:"annotations"`
		SupportedModelFormats []struct {
			Name       string `yaml:"name"`
			AutoSelect bool   `yaml:"autoSelect"`
		} `yaml:"supportedModelFormats"`
		Containers []struct {
			Name  string   `yaml:"name"`
			Image string   `yaml:"image"`
			Args  []string `yaml:"args"`
			Ports []struct {
				ContainerPort int `yaml:"containerPort"`
			} `yaml:"ports"`
			ReadinessProbe struct {
				HTTPGet struct {
					Path string `yaml:"path"`
					Port int    `yaml:"port"`
				} `yaml:"httpGet"`
			} `yaml:"readinessProbe"`
			LivenessProbe struct {
				HTTPGet struct {
					Path string `yaml:"path"`
				} `yaml:"httpGet"`
			} `yaml:"livenessProbe"`
			SecurityContext struct {
				RunAsUser              int  `yaml:"runAsUser"`
				ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
			} `yaml:"securityContext"`
		} `yaml:"containers"`
	} `yaml:"spec"`
}

func readRuntime(t *testing.T) kserveRuntime {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kserve", "clusterservingruntime.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rt kserveRuntime
	if err := yaml.Unmarshal(b, &rt); err != nil {
		t.Fatal(err)
	}
	if rt.Kind != "ClusterServingRuntime" || len(rt.Spec.Containers) != 1 {
		t.Fatalf("clusterservingruntime.yaml: kind %q, %d containers", rt.Kind, len(rt.Spec.Containers))
	}
	return rt
}

// kserveArgs are the runtime's container arguments for an InferenceService
// named name, as KServe fills its {{.Name}} template.
func kserveArgs(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, a := range readRuntime(t).Spec.Containers[0].Args {
		out = append(out, strings.ReplaceAll(a, "{{.Name}}", name))
	}
	return out
}

// TestKServeRuntimeMatchesImage: the runtime declares what the issue asks
// (sklearn and onnx with autoSelect, container kserve-container on 8080,
// probes on the health routes, metrics port 9090, uid 65532), and its ports
// are the image's configuration's.
func TestKServeRuntimeMatchesImage(t *testing.T) {
	rt := readRuntime(t)
	c := rt.Spec.Containers[0]
	var formats []string
	for _, f := range rt.Spec.SupportedModelFormats {
		if f.AutoSelect {
			formats = append(formats, f.Name)
		}
	}
	slices.Sort(formats)
	if !slices.Equal(formats, []string{"onnx", "sklearn"}) {
		t.Errorf("autoSelect formats %v, want onnx and sklearn", formats)
	}
	cfg, err := config.Load(filepath.Join(repoRoot(t), "deploy", "container", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "kserve-container" || len(c.Ports) != 1 || !strings.HasSuffix(cfg.ListenAddr, ":8080") ||
		c.Ports[0].ContainerPort != 8080 || c.ReadinessProbe.HTTPGet.Port != 8080 {
		t.Errorf("container %s ports %+v, image listens on %s", c.Name, c.Ports, cfg.ListenAddr)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/health/ready" || c.LivenessProbe.HTTPGet.Path != "/health/live" {
		t.Errorf("probes %s %s", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	if p := rt.Spec.Annotations["prometheus.kserve.io/port"]; p != "9090" || !strings.HasSuffix(cfg.MetricsAddr(), ":"+p) {
		t.Errorf("prometheus.kserve.io/port %q, image's metrics on %s", p, cfg.MetricsAddr())
	}
	if c.SecurityContext.RunAsUser != 65532 || !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("securityContext %+v", c.SecurityContext)
	}
	if args := kserveArgs(t, "sentiment"); !slices.Contains(args, "--model_name=sentiment") {
		t.Errorf("args %v do not pass the InferenceService's name as --model_name", args)
	}
}

// TestKServeInferenceServiceExample: every example names the runtime, a
// format it supports and a storageUri.
func TestKServeInferenceServiceExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kserve", "inferenceservice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var isvc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Predictor struct {
					Model struct {
						ModelFormat struct {
							Name string `yaml:"name"`
						} `yaml:"modelFormat"`
						Runtime    string `yaml:"runtime"`
						StorageURI string `yaml:"storageUri"`
					} `yaml:"model"`
				} `yaml:"predictor"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&isvc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		m := isvc.Spec.Predictor.Model
		if isvc.Kind != "InferenceService" || m.Runtime != "kserve-mlserve" || m.StorageURI == "" ||
			(m.ModelFormat.Name != "sklearn" && m.ModelFormat.Name != "onnx") {
			t.Errorf("example %d: %+v", n, isvc)
		}
	}
	if n == 0 {
		t.Fatal("no InferenceService in the example")
	}
}
