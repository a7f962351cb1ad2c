package kubecheck

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// vmiGVK is the kind CheckVMI accepts.
var vmiGVK = schema.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachineInstance"}

// vmiName is the OpenAPI definition name of the VirtualMachineInstance.
var vmiName = util.ToRESTFriendlyName("kubevirt.io/api/core/v1.VirtualMachineInstance")

type kubevirtSchemas struct {
	defs map[string]*spec.Schema
	tc   managedfields.TypeConverter
	vmi  *spec.Schema // with every reference inlined, for the value checks
	err  error
}

var kubevirtOnce = sync.OnceValue(loadKubevirtSchemas)

// kubevirtDefinitions are the OpenAPI definitions KubeVirt's client-go v1.6.0 generates
// from its API types (the ones KubeVirt's own CRDs are written from), kept to those the
// VirtualMachineInstance reaches. They are data, not a dependency: kubevirt.io/client-go
// requires a kube-openapi version the module proxy refuses, which would need a replace
// directive in go.mod (and a replace makes `go install ...@version` refuse the module).
// schemas/README.md says how the file was made.
//
//go:embed schemas/kubevirt-v1.6.0-vmi.json
var kubevirtDefinitions []byte

// loadKubevirtSchemas turns KubeVirt's OpenAPI definitions into a structured-merge-diff
// type converter, as the API server builds one for a kind, and into an inlined schema for
// required fields, enums and formats.
func loadKubevirtSchemas() *kubevirtSchemas {
	ks := &kubevirtSchemas{defs: map[string]*spec.Schema{}}
	if err := json.Unmarshal(kubevirtDefinitions, &ks.defs); err != nil {
		ks.err = fmt.Errorf("schemas/kubevirt-v1.6.0-vmi.json: %w", err)
		return ks
	}
	v, ok := ks.defs[vmiName]
	if !ok {
		ks.err = fmt.Errorf("KubeVirt's OpenAPI definitions have no %s", vmiName)
		return ks
	}
	v.AddExtension("x-kubernetes-group-version-kind", []any{
		map[string]any{"group": vmiGVK.Group, "version": vmiGVK.Version, "kind": vmiGVK.Kind},
	})
	if ks.tc, ks.err = managedfields.NewTypeConverter(ks.defs, false); ks.err != nil {
		return ks
	}
	ks.vmi, ks.err = inline(ks.defs, v, map[string]bool{})
	return ks
}

// inline copies s with every #/definitions/NAME reference replaced by its definition; a
// reference back into a definition being inlined (a recursive type) becomes an empty
// schema, which accepts anything.
func inline(defs map[string]*spec.Schema, s *spec.Schema, open map[string]bool) (*spec.Schema, error) {
	if s == nil {
		return nil, nil
	}
	if r := s.Ref.String(); r != "" {
		name := r[len("#/definitions/"):]
		d, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("reference %s has no definition", r)
		}
		if open[name] {
			return &spec.Schema{}, nil
		}
		open[name] = true
		defer delete(open, name)
		return inline(defs, d, open)
	}
	out := *s
	out.Properties = nil
	if len(s.Properties) > 0 {
		out.Properties = map[string]spec.Schema{}
		for k, p := range s.Properties {
			q, err := inline(defs, &p, open)
			if err != nil {
				return nil, err
			}
			out.Properties[k] = *q
		}
	}
	if s.Items != nil && s.Items.Schema != nil {
		q, err := inline(defs, s.Items.Schema, open)
		if err != nil {
			return nil, err
		}
		out.Items = &spec.SchemaOrArray{Schema: q}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		q, err := inline(defs, s.AdditionalProperties.Schema, open)
		if err != nil {
			return nil, err
		}
		out.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: q}
	}
	out.AllOf = nil
	for _, a := range s.AllOf {
		q, err := inline(defs, &a, open)
		if err != nil {
			return nil, err
		}
		out.AllOf = append(out.AllOf, *q)
	}
	return &out, nil
}

// CheckVMI decodes manifest (YAML) as a kubevirt.io/v1 VirtualMachineInstance with
// KubeVirt's own Go types, strictly (unknown and duplicate fields are errors), checks that
// nothing was lost in decoding (the VMI spec has its own UnmarshalJSON, which the strict
// decoder cannot see into), and validates it against the OpenAPI schema of KubeVirt's
// API (field names and value types through structured-merge-diff; required fields, enums
// and formats through the OpenAPI validator). It returns the decoded VMI.
func CheckVMI(manifest []byte) (*kubevirtv1.VirtualMachineInstance, error) {
	scheme := runtime.NewScheme()
	if err := kubevirtv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	ser := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	obj, gvk, err := ser.Decode(manifest, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("strict decoding: %w", err)
	}
	vmi, ok := obj.(*kubevirtv1.VirtualMachineInstance)
	if !ok {
		return nil, fmt.Errorf("decoded a %v, want %v", gvk, vmiGVK)
	}
	var content map[string]any
	if err := yaml.Unmarshal(manifest, &content); err != nil {
		return nil, err
	}
	// Round trip: what the types kept must be what the manifest says.
	back, err := json.Marshal(vmi)
	if err != nil {
		return nil, err
	}
	var again map[string]any
	if err := json.Unmarshal(back, &again); err != nil {
		return nil, err
	}
	if _, ok := content["status"]; !ok {
		delete(again, "status") // the cluster's to write
	}
	if !reflect.DeepEqual(content, again) {
		return nil, fmt.Errorf("strict decoding: the manifest does not survive a round trip through KubeVirt's types (a field they do not know?)")
	}
	ks := kubevirtOnce()
	if ks.err != nil {
		return nil, ks.err
	}
	if _, err := ks.tc.ObjectToTyped(&unstructured.Unstructured{Object: content}); err != nil {
		return nil, fmt.Errorf("schema validation: %w", err)
	}
	if err := validate.AgainstSchema(ks.vmi, content, strfmt.Default); err != nil {
		return nil, fmt.Errorf("schema validation: %w", err)
	}
	return vmi, nil
}

// VMICRD is a CustomResourceDefinition (apiextensions.k8s.io/v1) for KubeVirt's
// VirtualMachineInstance, with the structural schema derived from the same OpenAPI
// definitions CheckVMI uses, so a plain kube-apiserver can take VMIs (for a server-side
// dry run; no KubeVirt runs). The derivation: references inlined, descriptions, defaults
// and extensions dropped, formats kept only where the API server knows them, untyped
// values (quantities, int-or-string) marked x-kubernetes-int-or-string, recursive or
// free-form values x-kubernetes-preserve-unknown-fields; metadata is left to the API
// server and status is not included.
func VMICRD() ([]byte, error) {
	ks := kubevirtOnce()
	if ks.err != nil {
		return nil, ks.err
	}
	b, err := json.Marshal(ks.vmi)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	props, _ := root["properties"].(map[string]any)
	if props == nil || props["spec"] == nil {
		return nil, fmt.Errorf("the VirtualMachineInstance schema has no spec")
	}
	delete(props, "status")
	structural(root)
	props["metadata"] = map[string]any{"type": "object"} // the API server's to check
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "virtualmachineinstances.kubevirt.io"},
		"spec": map[string]any{
			"group": "kubevirt.io",
			"scope": "Namespaced",
			"names": map[string]any{
				"plural": "virtualmachineinstances", "singular": "virtualmachineinstance",
				"kind": "VirtualMachineInstance", "listKind": "VirtualMachineInstanceList",
				"shortNames": []any{"vmi", "vmis"},
			},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": root},
			}},
		},
	}
	return json.Marshal(crd)
}

var knownFormats = map[string]bool{"int32": true, "int64": true, "float": true, "double": true, "byte": true, "date-time": true, "date": true}

// structural rewrites an OpenAPI schema (as JSON values) in place into a structural one.
func structural(s map[string]any) {
	for k := range s {
		switch {
		case k == "description", k == "default", k == "example", k == "readOnly", k == "title":
			delete(s, k)
		case strings.HasPrefix(k, "x-"):
			delete(s, k)
		}
	}
	if f, ok := s["format"].(string); ok && !knownFormats[f] {
		delete(s, "format")
	}
	if t, ok := s["type"].([]any); ok {
		if len(t) == 1 {
			s["type"] = t[0]
		} else {
			delete(s, "type")
		}
	}
	_, hasOneOf := s["oneOf"]
	_, hasAnyOf := s["anyOf"]
	delete(s, "oneOf")
	delete(s, "anyOf")
	delete(s, "allOf")
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				structural(m)
			}
		}
		if s["type"] == nil {
			s["type"] = "object"
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		structural(items)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		structural(ap)
	}
	if s["type"] == nil || s["type"] == "" {
		if hasOneOf || hasAnyOf {
			s["x-kubernetes-int-or-string"] = true
		} else {
			s["type"] = "object"
			s["x-kubernetes-preserve-unknown-fields"] = true
		}
	}
	if s["type"] == "object" && s["properties"] == nil && s["additionalProperties"] == nil {
		s["x-kubernetes-preserve-unknown-fields"] = true
	}
}
