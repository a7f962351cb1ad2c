// Package launch writes what clusters take to run a built image, always pinned by
// digest: a Kubernetes batch/v1 Job (from the Kubernetes API's own Go types), a KubeVirt
// VirtualMachineInstance booting a VM recipe's containerDisk (from KubeVirt's), a Slurm
// sbatch script (Slurm's OCI container support or Apptainer), and an `apptainer run`
// line. Each is derived from a Spec (the image reference, the runtime record's hardware
// and runtime, and the recipe's mounts); it does no I/O.
//
// It may import recipes (for DataSource), internal/record, k8s.io/api,
// k8s.io/apimachinery, kubevirt.io/api, sigs.k8s.io/yaml and the standard library.
package launch
