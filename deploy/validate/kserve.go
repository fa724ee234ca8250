package validate

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// servingRuntime is KServe's (Cluster)ServingRuntime (serving.kserve.io/v1alpha1)
// as far as mlserve's manifests use it; field names and JSON keys follow
// KServe's API reference. See the package doc for why these are not KServe's types.
type servingRuntime struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              servingRuntimeSpec `json:"spec"`
}

type servingRuntimeSpec struct {
	SupportedModelFormats []supportedModelFormat        `json:"supportedModelFormats,omitempty"`
	ProtocolVersions      []string                      `json:"protocolVersions,omitempty"`
	MultiModel            *bool                         `json:"multiModel,omitempty"`
	Disabled              *bool                         `json:"disabled,omitempty"`
	Containers            []corev1.Container            `json:"containers"`
	Volumes               []corev1.Volume               `json:"volumes,omitempty"`
	NodeSelector          map[string]string             `json:"nodeSelector,omitempty"`
	Tolerations           []corev1.Toleration           `json:"tolerations,omitempty"`
	Labels                map[string]string             `json:"labels,omitempty"`
	Annotations           map[string]string             `json:"annotations,omitempty"`
	ImagePullSecrets      []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	SecurityContext       *corev1.PodSecurityContext    `json:"securityContext,omitempty"`
}

type supportedModelFormat struct {
	Name       string  `json:"name"`
	Version    *string `json:"version,omitempty"`
	AutoSelect *bool   `json:"autoSelect,omitempty"`
	Priority   *int32  `json:"priority,omitempty"`
}

// inferenceService is KServe's InferenceService (serving.kserve.io/v1beta1),
// its predictor with a model, as far as mlserve's example uses it.
type inferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Predictor predictor `json:"predictor"`
	} `json:"spec"`
}

type predictor struct {
	MinReplicas *int32     `json:"minReplicas,omitempty"`
	MaxReplicas int32      `json:"maxReplicas,omitempty"`
	Model       *modelSpec `json:"model,omitempty"`
}

type modelSpec struct {
	ModelFormat struct {
		Name    string  `json:"name"`
		Version *string `json:"version,omitempty"`
	} `json:"modelFormat"`
	Runtime         *string `json:"runtime,omitempty"`
	ProtocolVersion *string `json:"protocolVersion,omitempty"`
	StorageURI      *string `json:"storageUri,omitempty"`
	// The container fields KServe inlines into the model spec.
	Args      []string                    `json:"args,omitempty"`
	Env       []corev1.EnvVar             `json:"env,omitempty"`
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}
