package frontend

import (
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// OCIPlatform maps a conda subdir (linux-64) to the Linux platform a container image for
// it runs on, from conda's table.
func OCIPlatform(subdir string) (ocispecs.Platform, error) {
	os, arch, variant, ok := conda.OCIPlatform(subdir)
	if !ok || os != "linux" {
		return ocispecs.Platform{}, &UnsupportedError{What: "platform " + subdir, Reason: "no Linux container platform for this conda subdir (use a linux-* subdir such as linux-64 or linux-aarch64)"}
	}
	return ocispecs.Platform{OS: os, Architecture: arch, Variant: variant}, nil
}

// CondaSubdir is the inverse of OCIPlatform, for --platform flags given in OCI form.
func CondaSubdir(p ocispecs.Platform) (string, error) {
	sd, err := conda.PlatformForOCI(p.OS, p.Architecture, p.Variant)
	if err != nil || p.OS != "linux" {
		return "", &UnsupportedError{What: "platform " + p.OS + "/" + p.Architecture, Reason: "no conda subdir for this platform"}
	}
	return string(sd), nil
}
