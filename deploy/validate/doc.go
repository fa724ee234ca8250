// Package validate checks mlserve's Kubernetes manifests against the API
// types they are meant for: the Helm chart rendered by `helm template` with
// several sets of values, and the KServe manifests of deploy/kserve. Each
// document is decoded strictly (an unknown or misspelt field fails) into
// the Go type of its kind, from k8s.io/api and the Prometheus operator's
// API module; the chart's ConfigMap is loaded by mlserve's own config
// package, so a key the server would refuse fails here, not in a pod.
//
// It is a module of its own so the server's module does not grow the
// Kubernetes API dependencies: only this test needs them.
//
// KServe's types: its Go module (github.com/kserve/kserve) is not served by
// the Go module proxy this project is limited to (it answers 403), so the
// KServe kinds are decoded into the few fields of KServe's v1alpha1 and
// v1beta1 API that mlserve's manifests use, written here after KServe's API
// reference, strictly, with every container decoded as a k8s.io/api
// Container. Swap them for KServe's own types once its module can be fetched.
package validate
