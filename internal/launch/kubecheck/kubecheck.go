// Package kubecheck checks Kubernetes manifests the way the API server would read them,
// for tests: strict decoding with the Kubernetes scheme (unknown or duplicate fields are
// errors) and validation against the OpenAPI-derived schema client-go ships for its API
// version (field names and value types, through structured-merge-diff); and the same
// for KubeVirt VirtualMachineInstances, against the OpenAPI definitions KubeVirt's
// client-go generates from its API types.
//
// It is imported only by tests, so the CLI does not carry client-go. It may import
// k8s.io/api, k8s.io/apimachinery, k8s.io/client-go, k8s.io/kube-openapi,
// kubevirt.io/api and kubevirt.io/client-go/api.
package kubecheck

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/yaml"
)

// Check decodes manifest (YAML) strictly as a batch/v1 Job and validates it against the
// API schema; it returns the decoded Job.
func Check(manifest []byte) (*batchv1.Job, error) {
	scheme := runtime.NewScheme()
	if err := batchv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	ser := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
	obj, gvk, err := ser.Decode(manifest, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("strict decoding: %w", err)
	}
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, fmt.Errorf("decoded a %v, want batch/v1 Job", gvk)
	}
	var content map[string]any
	if err := yaml.Unmarshal(manifest, &content); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: content}
	tc := applyconfigurations.NewTypeConverter(scheme)
	if _, err := tc.ObjectToTyped(u); err != nil {
		return nil, fmt.Errorf("schema validation: %w", err)
	}
	return job, nil
}
