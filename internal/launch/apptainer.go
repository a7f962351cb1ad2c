package launch

import (
	"fmt"
	"strings"
)

// ApptainerLine is the `apptainer run` command line for s: the image by digest from its
// registry, --nv for GPUs, a --bind for each mount (host sources only), the workdir.
func ApptainerLine(s Spec) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	var mounts []string
	for _, m := range s.Mounts {
		if m.Source.Kind != "host" || !strings.HasPrefix(m.Source.Path, "/") {
			return "", errorf("data %q: source %q cannot be bound by Apptainer: give it source = \"host:/ABSOLUTE/PATH\"", m.Name, sourceString(m))
		}
		mounts = append(mounts, m.Source.Path+":"+m.Path)
	}
	return apptainerCommand(s, mounts, "docker://"+s.Image, "apptainer run"), nil
}

// apptainerCommand writes `PREFIX [--nv] [--bind ...] [--pwd DIR] IMAGE`; the image's
// runscript runs its entrypoint and cmd.
func apptainerCommand(s Spec, mounts []string, image, prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	if s.GPUs > 0 || s.Cuda != "" {
		b.WriteString(" --nv")
	}
	for _, m := range mounts {
		fmt.Fprintf(&b, " --bind %s", shq(m))
	}
	if s.Workdir != "" {
		fmt.Fprintf(&b, " --pwd %s", shq(s.Workdir))
	}
	if strings.HasPrefix(image, "docker://${") {
		fmt.Fprintf(&b, " %q", image)
	} else {
		b.WriteString(" " + shq(image))
	}
	return b.String()
}
