package launch

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// safePathRe is a path that needs no quoting in a shell word, a sed replacement or JSON.
var safePathRe = regexp.MustCompile(`^/[A-Za-z0-9._+@/-]*$`)

// Slurm runtimes: Slurm's own OCI container support (srun --container with a bundle,
// runc configured in oci.conf) or Apptainer.
const (
	SlurmOCI       = "oci"
	SlurmApptainer = "apptainer"
)

// SlurmOptions configure SlurmScript.
type SlurmOptions struct {
	// Runtime is SlurmOCI or SlurmApptainer.
	Runtime string
}

// SlurmScript is an sbatch script running s once: resources from the hardware
// (--cpus-per-task, --mem, --gres=gpu:N), the image fetched by digest, data bound in.
//
// With SlurmOCI the job pulls the image with skopeo into an OCI layout and unpacks it with
// umoci into a bundle (in $REPROBUILD_BUNDLE_DIR, default the job's TMPDIR), adds the
// mounts to the bundle's config.json (with sed), and runs it with `srun --container`. Slurm's OCI
// support has no GPU field, so a GPU recipe must use SlurmApptainer (apptainer --nv).
func SlurmScript(s Spec, o SlurmOptions) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rt := o.Runtime
	if rt == "" {
		rt = SlurmOCI
	}
	if rt != SlurmOCI && rt != SlurmApptainer {
		return nil, errorf("--runtime %q: want oci or apptainer", rt)
	}
	if rt == SlurmOCI && (s.GPUs > 0 || s.Cuda != "") {
		return nil, errorf("the recipe asks for GPUs, but Slurm's OCI container support (oci.conf) has no GPU field: use --runtime apptainer (apptainer run --nv)")
	}
	var mounts []string
	for _, m := range s.Mounts {
		if m.Source.Kind != "host" || !strings.HasPrefix(m.Source.Path, "/") {
			return nil, errorf("data %q: source %q cannot be bound by Slurm: give it source = \"host:/ABSOLUTE/PATH\" (a path on the compute nodes)", m.Name, sourceString(m))
		}
		if !safePathRe.MatchString(m.Source.Path) || !safePathRe.MatchString(m.Path) {
			return nil, errorf("data %q: Slurm scripts bind only paths of letters, digits and . _ - + @ /: rename %s or %s", m.Name, m.Source.Path, m.Path)
		}
		mounts = append(mounts, m.Source.Path+":"+m.Path)
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", dnsLabel(s.Name))
	b.WriteString("#SBATCH --ntasks=1\n")
	if s.CPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", s.CPUs)
	}
	if s.Memory != "" {
		mib, err := memoryMiB(s.Memory)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "#SBATCH --mem=%dM\n", mib)
	}
	if s.GPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --gres=gpu:%d\n", s.GPUs)
	}
	fmt.Fprintf(&b, "# Written by reprobuild launch --to slurm --runtime %s.\n", rt)
	fmt.Fprintf(&b, "# image %s\n# recipe %s\n# lock %s\n", s.Image, s.RecipeHash, s.LockHash)
	if s.Cuda != "" {
		fmt.Fprintf(&b, "# needs a driver supporting CUDA >= %s\n", s.Cuda)
	}
	b.WriteString("set -euo pipefail\n")
	fmt.Fprintf(&b, "image=%s\n", shq(s.Image))
	args := slices.Concat(s.Entrypoint, s.Cmd)
	switch rt {
	case SlurmApptainer:
		b.WriteString(apptainerCommand(s, mounts, "docker://${image}", "srun apptainer run"))
		b.WriteString("\n")
	case SlurmOCI:
		b.WriteString(`work=$(mktemp -d "${REPROBUILD_BUNDLE_DIR:-${TMPDIR:-/tmp}}/reprobuild-${SLURM_JOB_ID:-job}.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The registry is reached over plain HTTP only for 127.0.0.1/localhost references.
tls=true
case "$image" in localhost[:/]*|127.0.0.1[:/]*) tls=false ;; esac
skopeo copy --quiet --src-tls-verify="$tls" "docker://${image}" "oci:${work}/layout:run"
`)
		if len(mounts) > 0 {
			// The image declares its mounts as volumes, which umoci would cover with
			// empty tmpfs mounts: drop them, the binds below take their place.
			b.WriteString("umoci config --image \"${work}/layout:run\" --clear=config.volume --no-history\n")
		}
		b.WriteString("umoci unpack --image \"${work}/layout:run\" \"${work}/bundle\" >/dev/null\n")
		if len(mounts) > 0 {
			// umoci writes no mounts of ours: add bind mounts to the bundle's config
			// with sed (paths are checked to need no escaping), so nodes need no JSON tool.
			var binds []string
			for _, m := range mounts {
				src, dst, _ := strings.Cut(m, ":")
				binds = append(binds, fmt.Sprintf(`{"destination":"%s","type":"bind","source":"%s","options":["rbind","rprivate"]}`, dst, src))
			}
			fmt.Fprintf(&b, "sed -i 's|\"mounts\":[[:space:]]*\\[|&%s,|' \"${work}/bundle/config.json\"\n", strings.Join(binds, ","))
			fmt.Fprintf(&b, "grep -qF '%s' \"${work}/bundle/config.json\" || { echo 'reprobuild: could not add the data mounts to the bundle' >&2; exit 1; }\n", binds[0])
		}
		b.WriteString("srun --container=\"${work}/bundle\"")
		for _, a := range args {
			b.WriteString(" " + shq(a))
		}
		b.WriteString("\n")
	}
	return []byte(b.String()), nil
}

// memoryMiB is the recipe's memory in MiB, rounded up (sbatch --mem=NM).
func memoryMiB(s string) (int64, error) {
	n, unit, err := memoryBytes(s)
	if err != nil {
		return 0, err
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	bytes := float64(n) * mult
	mib := int64(bytes / (1 << 20))
	if float64(mib)*(1<<20) < bytes {
		mib++
	}
	return mib, nil
}

func sourceString(m Mount) string {
	switch m.Source.Kind {
	case "pvc":
		return "pvc:" + m.Source.Claim
	case "nfs":
		return "nfs:" + m.Source.Server + ":" + m.Source.Path
	}
	return m.Source.Kind + ":" + m.Source.Path
}

// shq quotes s for a POSIX shell.
func shq(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
