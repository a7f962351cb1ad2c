package record

import (
	"fmt"
	"strings"
)

// runItSection is REPRODUCE.md's "Run it" section: the reprobuild commands that run the
// image locally and write the specs for Kubernetes, Slurm and Apptainer, pinned to ref.
func runItSection(rr *RuntimeRecord, recipe, ref string) string {
	var b strings.Builder
	gpu := rr.Hardware.GPUs > 0 || rr.Hardware.Cuda != ""
	var mounts []string
	for _, d := range rr.Data {
		if d.Mode == "mount" {
			mounts = append(mounts, d.Name)
		}
	}
	b.WriteString("\n## Run it\n\n")
	b.WriteString("Locally with runc (rootless when not root; builds the image first, or reuses the cached layers):\n\n```sh\n")
	fmt.Fprintf(&b, "reprobuild run -f %s", recipe)
	for _, m := range mounts {
		fmt.Fprintf(&b, " --data %s=/path/to/%s", m, m)
	}
	b.WriteString("\n```\n\n")
	if gpu {
		b.WriteString("The recipe asks for GPUs: `run` needs the NVIDIA container toolkit (`nvidia-container-runtime-hook`).\n\n")
	}
	pin := ""
	if strings.Contains(ref, "@sha256:") {
		pin = " --image " + ref
	}
	b.WriteString("On a cluster, every spec pinned by digest (by default the last `reprobuild image --push` of this lock):\n\n```sh\n")
	fmt.Fprintf(&b, "reprobuild launch --to kubernetes -f %s%s --out k8s && kubectl apply -f k8s/\n", recipe, pin)
	rt := "oci"
	if gpu {
		rt = "apptainer"
	}
	fmt.Fprintf(&b, "reprobuild launch --to slurm --runtime %s -f %s%s --out slurm && sbatch slurm/*.sbatch\n", rt, recipe, pin)
	fmt.Fprintf(&b, "reprobuild image -f %s --frozen --output sif:image.sif   # a SIF file for Apptainer\n", recipe)
	fmt.Fprintf(&b, "reprobuild launch --to apptainer -f %s%s\n```\n", recipe, pin)
	if len(mounts) > 0 {
		b.WriteString("\nMounted data comes from each data block's `source` (`pvc:CLAIM`, `host:PATH`, `nfs:SERVER:/EXPORT`) on clusters, and from `--data` locally.\n")
	}
	return b.String()
}
