package launch

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// ContainerDiskPath is where reprobuild's containerDisk images hold the VM disk.
const ContainerDiskPath = "/disk/disk.qcow2"

// DefaultVMMemory is the guest memory of a VM recipe without hardware.memory: what the
// VM documentation boots the disk with under qemu.
const DefaultVMMemory = "1Gi"

// KubeVirtVMI is the KubeVirt VirtualMachineInstance booting s.Image, a containerDisk
// written by `reprobuild image --output kubevirt:DIR`, once: a bare VMI is never
// restarted (only a VirtualMachine has a run strategy), and the disk's init powers the
// guest off when the entrypoint exits, which ends the VMI as Succeeded or Failed.
//
// The guest gets hardware.cpus cores and hardware.memory (else DefaultVMMemory) as
// requests equal to limits, UEFI without Secure Boot (the disk's systemd-boot is not
// signed), the disk on virtio (the only block driver its initramfs loads), no network
// (the disk loads no network driver) and its serial console logged, so the entrypoint's
// output is in the launcher pod's log. Env, workdir and user are on the disk already.
//
// Not mapped, each refused with an error that says what to do: GPUs (KubeVirt passes
// them through by a device name the cluster defines and the disk carries no driver) and
// mounted data (the disk's init reads it from 9p shares; KubeVirt shares directories
// only over virtiofs).
func KubeVirtVMI(s Spec) (*kubevirtv1.VirtualMachineInstance, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.GPUs > 0 || s.Cuda != "" {
		return nil, errorf("a VM recipe with hardware.gpus or cuda cannot be launched on KubeVirt: it passes GPUs through by a device name the cluster defines, and the VM disk carries no GPU driver; drop gpus/cuda from the vm recipe, or launch a container image of it")
	}
	if len(s.Mounts) > 0 {
		return nil, errorf("data %q: a KubeVirt VM cannot take mounted data (the VM disk's init reads it from 9p shares, KubeVirt shares directories only over virtiofs): bake it into the disk with mode = \"bake\", or boot the disk with qemu as its REPRODUCE.md says", s.Mounts[0].Name)
	}
	if s.Architecture != "" && s.Architecture != "amd64" {
		return nil, errorf("VM disks are x86-64 UEFI only, not %s", s.Architecture)
	}
	name := dnsLabel(s.Name)
	labels := map[string]string{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/managed-by": "reprobuild",
		LabelRecipe:                    short(s.RecipeHash),
		LabelLock:                      short(s.LockHash),
	}
	annotations := map[string]string{
		AnnotationImage: s.Image, AnnotationRecipe: s.RecipeHash, AnnotationLock: s.LockHash,
	}
	mem, err := resource.ParseQuantity(DefaultVMMemory)
	if err != nil {
		return nil, err
	}
	if s.Memory != "" {
		if mem, err = memoryQuantity(s.Memory); err != nil {
			return nil, err
		}
	}
	res := corev1.ResourceList{corev1.ResourceMemory: mem}
	var cpu *kubevirtv1.CPU
	if s.CPUs > 0 {
		res[corev1.ResourceCPU] = *resource.NewQuantity(int64(s.CPUs), resource.DecimalSI)
		cpu = &kubevirtv1.CPU{Cores: uint32(s.CPUs), Sockets: 1, Threads: 1}
	}
	no, yes := false, true
	boot := uint(1)
	const disk = "disk"
	vmi := &kubevirtv1.VirtualMachineInstance{
		TypeMeta:   metav1.TypeMeta{APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: "VirtualMachineInstance"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec: kubevirtv1.VirtualMachineInstanceSpec{
			NodeSelector: map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
			Domain: kubevirtv1.DomainSpec{
				Resources: kubevirtv1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()},
				CPU:       cpu,
				Memory:    &kubevirtv1.Memory{Guest: &mem},
				Firmware: &kubevirtv1.Firmware{Bootloader: &kubevirtv1.Bootloader{
					EFI: &kubevirtv1.EFI{SecureBoot: &no},
				}},
				Devices: kubevirtv1.Devices{
					Disks: []kubevirtv1.Disk{{
						Name:       disk,
						BootOrder:  &boot,
						DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}},
					}},
					AutoattachPodInterface:   &no,
					AutoattachGraphicsDevice: &no,
					AutoattachSerialConsole:  &yes,
					LogSerialConsole:         &yes,
				},
			},
			Volumes: []kubevirtv1.Volume{{
				Name: disk,
				VolumeSource: kubevirtv1.VolumeSource{ContainerDisk: &kubevirtv1.ContainerDiskSource{
					Image: s.Image, Path: ContainerDiskPath,
					// Pinned by digest: the node never needs to pull it again.
					ImagePullPolicy: corev1.PullIfNotPresent,
				}},
			}},
		},
	}
	return vmi, nil
}

// KubeVirtYAML is the VirtualMachineInstance as YAML, as kubectl apply takes it.
func KubeVirtYAML(s Spec) ([]byte, error) {
	vmi, err := KubeVirtVMI(s)
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(vmi)
	if err != nil {
		return nil, err
	}
	// The status is the cluster's to write; the types cannot leave it out.
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Written by reprobuild launch --to kubernetes (a VM recipe: KubeVirt): kubectl apply -f THIS_FILE\n"), b...), nil
}
