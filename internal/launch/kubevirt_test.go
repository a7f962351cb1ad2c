package launch

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/reprobuild/reprobuild/internal/launch/kubecheck"
	"github.com/reprobuild/reprobuild/recipes"
)

func vmSpec() Spec {
	s := plainSpec()
	s.Name = "vm-example"
	s.Image = "registry.example/lab/vm-disk@" + digest
	s.CPUs, s.Memory = 2, "2GiB"
	return s
}

// TestKubeVirtVMI writes VMIs, decodes them strictly with KubeVirt's types, validates
// them against KubeVirt's OpenAPI schema, and compares them with golden files.
func TestKubeVirtVMI(t *testing.T) {
	small := vmSpec()
	small.CPUs, small.Memory = 0, ""
	for _, tc := range []struct {
		name     string
		spec     Spec
		mem, cpu string
	}{{"vm", vmSpec(), "2Gi", "2"}, {"vm-defaults", small, DefaultVMMemory, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := KubeVirtYAML(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			vmi, err := kubecheck.CheckVMI(b)
			if err != nil {
				t.Fatalf("the manifest does not pass KubeVirt's checks: %v\n%s", err, b)
			}
			golden(t, tc.name+"-vmi.yaml", b)
			vols := vmi.Spec.Volumes
			if len(vols) != 1 || vols[0].ContainerDisk == nil || vols[0].ContainerDisk.Image != tc.spec.Image {
				t.Fatalf("volumes %+v: want one containerDisk of the pinned %s", vols, tc.spec.Image)
			}
			if d := vmi.Spec.Domain.Devices.Disks; len(d) != 1 || d[0].Name != vols[0].Name || d[0].Disk == nil || d[0].Disk.Bus != "virtio" {
				t.Errorf("disks %+v: want the containerDisk on virtio", d)
			}
			fw := vmi.Spec.Domain.Firmware
			if fw == nil || fw.Bootloader == nil || fw.Bootloader.EFI == nil || *fw.Bootloader.EFI.SecureBoot {
				t.Errorf("firmware %+v: want EFI without Secure Boot", fw)
			}
			if q := vmi.Spec.Domain.Resources.Requests[corev1.ResourceMemory]; q.String() != tc.mem {
				t.Errorf("memory request %s, want %s", q.String(), tc.mem)
			}
			if q := vmi.Spec.Domain.Memory.Guest; q == nil || q.String() != tc.mem {
				t.Errorf("guest memory %v, want %s", q, tc.mem)
			}
			if q, ok := vmi.Spec.Domain.Resources.Limits[corev1.ResourceCPU]; tc.cpu != "" && (!ok || q.String() != tc.cpu || vmi.Spec.Domain.CPU.Cores != 2) {
				t.Errorf("cpu limit %v, cores %+v, want %s", q.String(), vmi.Spec.Domain.CPU, tc.cpu)
			}
			if vmi.Annotations[AnnotationLock] != tc.spec.LockHash || vmi.Labels[LabelRecipe] != tc.spec.RecipeHash[:12] {
				t.Errorf("hashes not in the annotations/labels: %v %v", vmi.Annotations, vmi.Labels)
			}
			if p := vmi.Spec.Domain.Devices.AutoattachPodInterface; p == nil || *p {
				t.Error("the VM gets a pod network interface, but its disk loads no network driver")
			}
		})
	}
}

// TestKubecheckVMIRejects shows the VMI checks can fail: an unknown field (inside the
// spec, which KubeVirt decodes with its own UnmarshalJSON), a wrong type, a missing
// required field.
func TestKubecheckVMIRejects(t *testing.T) {
	b, err := KubeVirtYAML(vmSpec())
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"unknown field":  strings.Replace(string(b), "        secureBoot: false\n", "        secureBoot: false\n        fastBoot: true\n", 1),
		"unknown top":    strings.Replace(string(b), "spec:\n", "spec:\n  runStrategy: Once\n", 1),
		"wrong type":     strings.Replace(string(b), "        secureBoot: false\n", "        secureBoot: nope\n", 1),
		"missing image":  strings.Replace(string(b), "      image: registry.example/lab/vm-disk@"+digest+"\n", "", 1),
		"cores negative": strings.Replace(string(b), "cores: 2", "cores: -2", 1),
		"unknown kind":   strings.Replace(string(b), "kind: VirtualMachineInstance", "kind: VirtualMachine", 1),
	} {
		if bad == string(b) {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := kubecheck.CheckVMI([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// What KubeVirt's types take but its API schema refuses: the schema check itself.
	bad := strings.Replace(string(b), "imagePullPolicy: IfNotPresent", "imagePullPolicy: Sometimes", 1)
	if _, err := kubecheck.CheckVMI([]byte(bad)); err == nil || !strings.Contains(err.Error(), "schema validation") || !strings.Contains(err.Error(), "imagePullPolicy") {
		t.Errorf("an imagePullPolicy outside the schema's enum: error %v, want a schema validation error naming it", err)
	}
}

func TestKubeVirtErrors(t *testing.T) {
	gpu := vmSpec()
	gpu.GPUs = 1
	mount := vmSpec()
	mount.Mounts = []Mount{{Name: "weights", Path: "/w", HasSource: true, Source: recipes.DataSource{Kind: "pvc", Claim: "w"}}}
	arm := vmSpec()
	arm.Architecture = "arm64"
	for name, tc := range map[string]struct {
		s    Spec
		want string
	}{"gpu": {gpu, "drop gpus/cuda"}, "mount": {mount, `data "weights": a KubeVirt VM cannot take mounted data`}, "arm64": {arm, "x86-64"}} {
		_, err := KubeVirtYAML(tc.s)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one line containing %q", name, err, tc.want)
		}
	}
}
