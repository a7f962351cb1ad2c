package frontend

import (
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// OCIPlatform maps a conda subdir (linux-64) to the OCI platform an image for it runs on.
func OCIPlatform(subdir string) (ocispecs.Platform, error) {
	switch subdir {
	case "linux-64":
		return ocispecs.Platform{OS: "linux", Architecture: "amd64"}, nil
	case "linux-aarch64":
		return ocispecs.Platform{OS: "linux", Architecture: "arm64"}, nil
	case "linux-ppc64le":
		return ocispecs.Platform{OS: "linux", Architecture: "ppc64le"}, nil
	case "linux-s390x":
		return ocispecs.Platform{OS: "linux", Architecture: "s390x"}, nil
	case "linux-armv7l":
		return ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, nil
	}
	return ocispecs.Platform{}, &UnsupportedError{What: "platform " + subdir, Reason: "no Linux container platform for this conda subdir (use linux-64, linux-aarch64, linux-ppc64le, linux-s390x or linux-armv7l)"}
}

// CondaSubdir is the inverse of OCIPlatform, for --platform flags given in OCI form.
func CondaSubdir(p ocispecs.Platform) (string, error) {
	for _, s := range []string{"linux-64", "linux-aarch64", "linux-ppc64le", "linux-s390x", "linux-armv7l"} {
		q, _ := OCIPlatform(s)
		if q.OS == p.OS && q.Architecture == p.Architecture && q.Variant == p.Variant {
			return s, nil
		}
	}
	return "", &UnsupportedError{What: "platform " + p.OS + "/" + p.Architecture, Reason: "no conda subdir for this platform"}
}
