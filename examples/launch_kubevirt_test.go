package examples

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/launch/kubecheck"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// TestLaunchKubeVirt builds examples/vm as a KubeVirt containerDisk, pushes it to a real
// registry with `image --push` and writes the VirtualMachineInstance with `launch --to
// kubernetes`: pinned to the pushed containerDisk, decoded strictly with KubeVirt's types,
// valid against KubeVirt's OpenAPI schema, and equal to the golden VMI
// (testdata/launch/vm-vmi.yaml) up to the base-dependent hashes and digest.
func TestLaunchKubeVirt(t *testing.T) {
	for _, p := range []string{"mkfs.erofs", "qemu-img"} {
		if _, err := exec.LookPath(p); err != nil {
			testutil.Unavailable(t, "%s is not installed (run .ci/vm.sh)", p)
		}
	}
	testutil.RequireBinary(t, "skopeo", "")
	base := vmBase(t)
	reg := testutil.StartRegistry(t)
	ws := vmWorkspace(t)
	o := runOpts{dir: filepath.Join(ws, "vm"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base)

	// Never pushed: the error says how to push a containerDisk.
	out, errOut, code := runCLI(t, o, "launch", "--to", "kubernetes", "--var", "base="+base)
	if first, _, _ := strings.Cut(errOut, "\n"); code == 0 || out != "" || !strings.Contains(first, "image --output kubevirt:DIR --push") {
		t.Errorf("launch before any push: status %d, stdout %q, stderr %q: want one line saying to push a containerDisk", code, out, errOut)
	}

	cd := filepath.Join(t.TempDir(), "containerdisk")
	ref := reg.Host() + "/lab/vm-disk:1"
	var res struct {
		Digest        string   `json:"digest"`
		ContainerDisk string   `json:"container_disk"`
		Pushed        []string `json:"pushed"`
	}
	js := mustRun(t, o, "image", "-f", "reprobuild.hcl", "--offline", "--frozen", "--var", "base="+base,
		"--output", "kubevirt:"+cd, "--push", "--tag", ref, "--json")
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatalf("image --json: %v\n%s", err, js)
	}
	// What was pushed is the containerDisk of the layout, not the container image.
	var layoutIndex struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(cd, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &layoutIndex); err != nil || len(layoutIndex.Manifests) != 1 {
		t.Fatalf("containerDisk layout index.json: %v\n%s", err, b)
	}
	want := layoutIndex.Manifests[0].Digest
	if res.ContainerDisk != want || len(res.Pushed) != 1 || res.Pushed[0] != ref+"@"+want || res.ContainerDisk == res.Digest {
		t.Fatalf("image --push with kubevirt: pushed %v (container_disk %s, image %s), want %s@%s", res.Pushed, res.ContainerDisk, res.Digest, ref, want)
	}
	// The registry serves it under the tag with that digest.
	if got := strings.TrimSpace(mustRunBin(t, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+ref)); !strings.Contains(got, "manifests") {
		t.Errorf("skopeo inspect %s: %s", ref, got)
	}

	vmi := []byte(mustRun(t, o, "launch", "--to", "kubernetes", "--var", "base="+base))
	v, err := kubecheck.CheckVMI(vmi)
	if err != nil {
		t.Fatalf("the VMI does not pass KubeVirt's checks: %v\n%s", err, vmi)
	}
	pinned := reg.Host() + "/lab/vm-disk@" + want
	if img := v.Spec.Volumes[0].ContainerDisk.Image; img != pinned {
		t.Errorf("the VMI boots %s, want the pushed containerDisk %s", img, pinned)
	}
	// --out writes NAME-vmi.yaml.
	dir := t.TempDir()
	p := strings.TrimSpace(mustRun(t, o, "launch", "--to", "kubernetes", "--var", "base="+base, "--out", dir))
	if p != filepath.Join(dir, "vm-example-vmi.yaml") {
		t.Errorf("launch --out wrote %s", p)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != string(vmi) {
		t.Errorf("launch --out wrote other bytes than it prints (%v)", err)
	}

	// The golden VMI, with the fixed image; the hashes depend on the base (made on this
	// machine) and are masked.
	fixedDisk := "registry.example/lab/vm-disk@sha256:" + strings.Repeat("0123456789abcdef", 4)
	got := []byte(mustRun(t, o, "launch", "--to", "kubernetes", "--var", "base="+base, "--image", fixedDisk))
	if _, err := kubecheck.CheckVMI(got); err != nil {
		t.Fatal(err)
	}
	got = regexp.MustCompile(`(-hash: )"?[0-9a-f]{64}"?\n`).ReplaceAll(got, []byte("${1}HASH\n"))
	got = regexp.MustCompile(`(-hash: )"?[0-9a-f]{12}"?\n`).ReplaceAll(got, []byte("${1}HASH12\n"))
	gp := filepath.Join("testdata", "launch", "vm-vmi.yaml")
	if *updateLaunch {
		if err := os.WriteFile(gp, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(gp)
	if err != nil {
		t.Fatalf("%v (run go test -run TestLaunchKubeVirt -update-launch)", err)
	}
	if d := cmp.Diff(string(golden), string(got)); d != "" {
		t.Errorf("the examples/vm VMI differs from %s (-want +got):\n%s", gp, d)
	}
}

func mustRunBin(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
