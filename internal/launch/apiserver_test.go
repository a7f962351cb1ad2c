package launch

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/reprobuild/reprobuild/internal/launch/kubecheck"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

const dryRunNS = "reprobuild-test"

// TestServerSideDryRun starts a real kube-apiserver (with its etcd) and applies what
// this package writes with a server-side dry run and strict field validation: the API
// server decodes, defaults, validates and admits each object as it would on a cluster,
// and stores nothing.
func TestServerSideDryRun(t *testing.T) {
	k := testutil.StartKubeAPIServer(t)
	code, body, err := k.Do(http.MethodPost, "/api/v1/namespaces", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+dryRunNS+`"}}`))
	if err != nil || code != http.StatusCreated {
		t.Fatalf("creating namespace %s: %d %v\n%s", dryRunNS, code, err, body)
	}
	t.Run("jobs", func(t *testing.T) { dryRunJobs(t, k) })
	t.Run("vmi", func(t *testing.T) { dryRunVMIs(t, k) })
}

// dryRunJobs applies every Job this package writes and the examples' golden Jobs; a Job
// the API refuses shows the check can fail.
func dryRunJobs(t *testing.T, k *testutil.KubeAPIServer) {
	const ns = dryRunNS
	manifests := map[string][]byte{}
	for name, s := range map[string]Spec{"plain": plainSpec(), "gpu": gpuSpec()} {
		b, err := KubernetesYAML(s)
		if err != nil {
			t.Fatal(err)
		}
		manifests[name] = b
	}
	goldens, err := filepath.Glob(filepath.Join("..", "..", "examples", "testdata", "launch", "*-job.yaml"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden Jobs of the examples (%v)", err)
	}
	for _, p := range goldens {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		manifests[filepath.Base(p)] = b
	}
	apply := func(manifest []byte) (int, []byte) {
		t.Helper()
		j, err := yaml.YAMLToJSON(manifest)
		if err != nil {
			t.Fatal(err)
		}
		code, body, err := k.Do(http.MethodPost, "/apis/batch/v1/namespaces/"+ns+"/jobs?dryRun=All&fieldValidation=Strict", j)
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	for name, m := range manifests {
		code, body := apply(m)
		if code != http.StatusCreated {
			t.Errorf("%s: the API server refused the Job: %d\n%s\n%s", name, code, body, m)
			continue
		}
		var got struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &got); err != nil || got.Kind != "Job" {
			t.Errorf("%s: dry run answered %v %s", name, err, body)
			continue
		}
		// A dry run stores nothing.
		if code, _, err := k.Do(http.MethodGet, "/apis/batch/v1/namespaces/"+ns+"/jobs/"+got.Metadata.Name, nil); err != nil || code != http.StatusNotFound {
			t.Errorf("%s: after a dry run GET answered %d (%v), want 404", name, code, err)
		}
		t.Logf("%s: accepted by kube-apiserver (dry run)", name)
	}

	// What the API server refuses: an unknown field (strict field validation), a value
	// out of range (validation).
	plain := string(manifests["plain"])
	for what, tc := range map[string]struct {
		edit string
		code int
	}{
		"unknown field":  {strings.Replace(plain, "  backoffLimit: 0\n", "  backoffLimit: 0\n  retries: 3\n", 1), http.StatusBadRequest},
		"negative limit": {strings.Replace(plain, "  backoffLimit: 0\n", "  backoffLimit: -1\n", 1), http.StatusUnprocessableEntity},
	} {
		if tc.edit == plain {
			t.Fatalf("%s: the edit did not apply", what)
		}
		if code, body := apply([]byte(tc.edit)); code != tc.code {
			t.Errorf("%s: the API server answered %d, want %d\n%s", what, code, tc.code, body)
		}
	}
}

// dryRunVMIs installs a CRD for KubeVirt's VirtualMachineInstance derived from KubeVirt's
// OpenAPI definitions (kubecheck.VMICRD) and applies the VMIs this package writes.
func dryRunVMIs(t *testing.T, k *testutil.KubeAPIServer) {
	crd, err := kubecheck.VMICRD()
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := k.Do(http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("installing the VirtualMachineInstance CRD: %d %v\n%.4000s", code, err, body)
	}
	// The CRD is served once it is Established.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body, err := k.Do(http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualmachineinstances.kubevirt.io", nil)
		if err == nil && code == http.StatusOK && strings.Contains(string(body), `"type":"Established","status":"True"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CRD is not Established: %d %v\n%.2000s", code, err, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	apply := func(manifest []byte) (int, []byte) {
		t.Helper()
		j, err := yaml.YAMLToJSON(manifest)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			code, body, err := k.Do(http.MethodPost, "/apis/kubevirt.io/v1/namespaces/"+dryRunNS+"/virtualmachineinstances?dryRun=All&fieldValidation=Strict", j)
			if err != nil {
				t.Fatal(err)
			}
			// The new resource's REST endpoint can lag the Established condition.
			if code == http.StatusNotFound && i < 50 {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			return code, body
		}
	}
	small := vmSpec()
	small.CPUs, small.Memory = 0, ""
	var plain []byte
	for name, s := range map[string]Spec{"vm": vmSpec(), "vm-defaults": small} {
		b, err := KubeVirtYAML(s)
		if err != nil {
			t.Fatal(err)
		}
		if name == "vm" {
			plain = b
		}
		if code, body := apply(b); code != http.StatusCreated {
			t.Errorf("%s: the API server refused the VMI: %d\n%s\n%s", name, code, body, b)
		} else {
			t.Logf("%s: accepted by kube-apiserver with KubeVirt's schema (dry run)", name)
		}
	}
	for what, tc := range map[string]struct {
		edit string
		code int
	}{
		"unknown field": {strings.Replace(string(plain), "        secureBoot: false\n", "        secureBoot: false\n        fastBoot: true\n", 1), http.StatusBadRequest},
		"bad enum":      {strings.Replace(string(plain), "imagePullPolicy: IfNotPresent", "imagePullPolicy: Sometimes", 1), http.StatusUnprocessableEntity},
	} {
		if tc.edit == string(plain) {
			t.Fatalf("%s: the edit did not apply", what)
		}
		if code, body := apply([]byte(tc.edit)); code != tc.code {
			t.Errorf("%s: the API server answered %d, want %d\n%s", what, code, tc.code, body)
		}
	}
}
