package validate

import (
	"bytes"
	"encoding/json"
	"slices"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mlserve/mlserve/internal/config"
)

// helmBin finds helm: $HELM, else ../../.cache/bin/helm (make setup-helm),
// else PATH. Without it the test skips, and fails under CI=true.
func helmBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HELM"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../../.cache/bin/helm"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("helm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("helm not found (make setup-helm installs it)")
		}
		t.Skip("helm not found (make setup-helm installs it)")
	}
	return p
}

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// strict decodes a YAML document into v, refusing unknown fields.
func strict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// documents splits a multi-document YAML stream, dropping empty documents.
func documents(s string) [][]byte {
	var out [][]byte
	for _, d := range strings.Split("\n"+s, "\n---") {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// decodeKind decodes a document into the API type of its kind.
func decodeKind(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	var v any
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/Deployment":
		v = &appsv1.Deployment{}
	case "v1/Service":
		v = &corev1.Service{}
	case "v1/ConfigMap":
		v = &corev1.ConfigMap{}
	case "v1/Secret":
		v = &corev1.Secret{}
	case "v1/ServiceAccount":
		v = &corev1.ServiceAccount{}
	case "policy/v1/PodDisruptionBudget":
		v = &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		v = &autoscalingv2.HorizontalPodAutoscaler{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		v = &monitoringv1.ServiceMonitor{}
	case "serving.kserve.io/v1alpha1/ClusterServingRuntime", "serving.kserve.io/v1alpha1/ServingRuntime":
		v = &servingRuntime{}
	case "serving.kserve.io/v1beta1/InferenceService":
		v = &inferenceService{}
	default:
		return nil, fmt.Errorf("no API type known for %s %s", tm.APIVersion, tm.Kind)
	}
	if err := strict(doc, v); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return v, nil
}

// TestChart lints the chart and decodes what it renders, with the defaults
// and with every optional part on, and checks what the chart promises.
func TestChart(t *testing.T) {
	if _, err := helm(t, "lint", "--strict", "../helm/mlserve"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		set   []string
		kinds []string
	}{
		{name: "defaults", kinds: []string{"ConfigMap", "Deployment", "Service", "ServiceAccount"}},
		{name: "everything", set: []string{"autoscaling.enabled=true", "autoscaling.queueDepth.enabled=true",
			"podDisruptionBudget.enabled=true", "serviceMonitor.enabled=true", "redis.enabled=true", "redis.url=redis://r:6379/0",
			"models.volume.persistentVolumeClaim.claimName=models", "config.default_model=sentiment"},
			kinds: []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount", "ServiceMonitor"}},
		{name: "s3", set: []string{"config.models_dir=s3://models/prod/", "config.repository.s3.endpoint=http://minio:9000",
			"s3.existingSecret=minio-creds", "config.drain_timeout=1m", "terminationGracePeriodSeconds=75"},
			kinds: []string{"ConfigMap", "Deployment", "Service", "ServiceAccount"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "rel", "../helm/mlserve"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := helm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			var dep *appsv1.Deployment
			var cm *corev1.ConfigMap
			var hpa *autoscalingv2.HorizontalPodAutoscaler
			for _, doc := range documents(out) {
				v, err := decodeKind(doc)
				if err != nil {
					t.Fatalf("%v\n%s", err, doc)
				}
				switch o := v.(type) {
				case *appsv1.Deployment:
					dep, kinds = o, append(kinds, "Deployment")
				case *corev1.ConfigMap:
					cm, kinds = o, append(kinds, "ConfigMap")
				case *autoscalingv2.HorizontalPodAutoscaler:
					hpa, kinds = o, append(kinds, "HorizontalPodAutoscaler")
				default:
					var tm metav1.TypeMeta
					yaml.Unmarshal(doc, &tm)
					kinds = append(kinds, tm.Kind)
				}
			}
			slices.Sort(kinds)
			if strings.Join(kinds, ",") != strings.Join(tc.kinds, ",") {
				t.Errorf("kinds %v, want %v", kinds, tc.kinds)
			}
			checkDeployment(t, dep, cm)
			if hpa != nil && len(hpa.Spec.Metrics) != 2 {
				t.Errorf("HPA metrics %d, want CPU and queue depth", len(hpa.Spec.Metrics))
			}
		})
	}
}

// checkDeployment: probes, a shutdown delay, grace period above it plus
// drain_timeout, non-root,
// read-only root, and a ConfigMap that mlserve's config loads.
func checkDeployment(t *testing.T, dep *appsv1.Deployment, cm *corev1.ConfigMap) {
	t.Helper()
	if dep == nil || cm == nil {
		t.Fatal("no Deployment or ConfigMap rendered")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("the chart's config.yaml: %v", err)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	if ctr.LivenessProbe == nil || ctr.LivenessProbe.HTTPGet.Path != "/health/live" ||
		ctr.ReadinessProbe == nil || ctr.ReadinessProbe.HTTPGet.Path != "/health/ready" {
		t.Errorf("probes %+v %+v", ctr.LivenessProbe, ctr.ReadinessProbe)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if grace <= time.Duration(c.ShutdownDelay)+time.Duration(c.DrainTimeout) {
		t.Errorf("grace period %s not above shutdown_delay %s + drain_timeout %s", grace,
			time.Duration(c.ShutdownDelay), time.Duration(c.DrainTimeout))
	}
	if c.ShutdownDelay <= 0 {
		t.Errorf("shutdown_delay %s: a pod behind a Service needs one (the endpoints take a moment to drop it)", time.Duration(c.ShutdownDelay))
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("pod security context %+v", pod.SecurityContext)
	}
	if sc := ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container security context %+v", ctr.SecurityContext)
	}
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8080 || ports["metrics"] != 9090 || ports["grpc"] == 0 {
		t.Errorf("ports %v", ports)
	}
	if c.ListenAddr != "0.0.0.0:8080" || c.MetricsAddr() != "0.0.0.0:9090" {
		t.Errorf("the config's listeners %s %s do not match the ports", c.ListenAddr, c.MetricsAddr())
	}
}

// TestChartRefusesShortGrace: a grace period not above shutdown_delay plus
// drain_timeout is refused at render time; one just above is accepted.
func TestChartRefusesShortGrace(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		ok   bool
	}{
		{name: "drain alone too long", set: []string{"config.drain_timeout=1m", "terminationGracePeriodSeconds=60"}},
		{name: "delay plus drain too long", set: []string{"config.shutdown_delay=20s", "config.drain_timeout=30s", "terminationGracePeriodSeconds=45"}},
		{name: "delay plus drain fits", set: []string{"config.shutdown_delay=10s", "config.drain_timeout=30s", "terminationGracePeriodSeconds=41"}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "rel", "../helm/mlserve"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := helm(t, args...)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), "must exceed config.shutdown_delay")):
				t.Fatalf("err = %v, want the grace-period refusal", err)
			}
		})
	}
}

// TestKServeManifests decodes every manifest of deploy/kserve strictly.
func TestKServeManifests(t *testing.T) {
	files, err := filepath.Glob("../kserve/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("deploy/kserve: %v %v, want the runtime and the InferenceService", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs := documents(string(b))
			if len(docs) == 0 {
				t.Fatal("no document")
			}
			for _, doc := range docs {
				v, err := decodeKind(doc)
				if err != nil {
					t.Fatal(err)
				}
				if rt, ok := v.(*servingRuntime); ok {
					checkRuntime(t, rt)
				}
			}
		})
	}
}

// TestStrictDecodingCatches: the decoding this package relies on refuses a
// misspelt field and an unknown kind.
func TestStrictDecodingCatches(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  prots: []\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        imgae: x\n",
		"apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata: {name: x}\nspec:\n  supportedModelFormat: []\n",
		"apiVersion: v9\nkind: Nope\n",
	} {
		if _, err := decodeKind([]byte(doc)); err == nil {
			t.Errorf("accepted:\n%s", doc)
		}
	}
}

func checkRuntime(t *testing.T, rt *servingRuntime) {
	t.Helper()
	if len(rt.Spec.Containers) != 1 || rt.Spec.Containers[0].Name != "kserve-container" {
		t.Errorf("containers %+v: want one named kserve-container", rt.Spec.Containers)
	}
	formats := map[string]bool{}
	for _, f := range rt.Spec.SupportedModelFormats {
		formats[f.Name] = f.AutoSelect != nil && *f.AutoSelect
	}
	if !formats["sklearn"] || !formats["onnx"] {
		t.Errorf("supportedModelFormats %+v: want sklearn and onnx with autoSelect", rt.Spec.SupportedModelFormats)
	}
	// The pod annotations KServe puts on the predictor (spec.annotations)
	// tell its metrics aggregation where mlserve's metrics listener is.
	if rt.Spec.Annotations["prometheus.kserve.io/port"] != "9090" {
		t.Errorf("spec.annotations %v: want prometheus.kserve.io/port 9090", rt.Spec.Annotations)
	}
}
