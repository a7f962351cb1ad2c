package conda

import (
	"fmt"
	"slices"
	"strings"
)

// Platform is a conda subdir naming a target platform, e.g. "linux-64" or "noarch".
type Platform string

// Platforms reprobuild builds for, and noarch.
const (
	Linux64      Platform = "linux-64"
	LinuxAarch64 Platform = "linux-aarch64"
	LinuxPpc64le Platform = "linux-ppc64le"
	LinuxS390x   Platform = "linux-s390x"
	LinuxArmv7l  Platform = "linux-armv7l"
	Osx64        Platform = "osx-64"
	OsxArm64     Platform = "osx-arm64"
	Win64        Platform = "win-64"
	WinArm64     Platform = "win-arm64"
	NoArch       Platform = "noarch"
)

type ociTriple struct{ os, arch, variant string }

// ociPlatforms maps conda subdirs to OCI image-spec os/architecture/variant values
// (the GOOS/GOARCH vocabulary the OCI image index uses).
var ociPlatforms = map[Platform]ociTriple{
	Linux64:      {"linux", "amd64", ""},
	LinuxAarch64: {"linux", "arm64", ""},
	LinuxPpc64le: {"linux", "ppc64le", ""},
	LinuxS390x:   {"linux", "s390x", ""},
	LinuxArmv7l:  {"linux", "arm", "v7"},
	Osx64:        {"darwin", "amd64", ""},
	OsxArm64:     {"darwin", "arm64", ""},
	Win64:        {"windows", "amd64", ""},
	WinArm64:     {"windows", "arm64", ""},
	NoArch:       {"", "", ""},
}

// PlatformError reports a platform name reprobuild does not know.
type PlatformError struct{ Name string }

func (e *PlatformError) Error() string {
	known := make([]string, 0, len(ociPlatforms))
	for p := range ociPlatforms {
		known = append(known, string(p))
	}
	slices.Sort(known)
	return fmt.Sprintf("unknown conda platform %q: use one of %s", e.Name, strings.Join(known, ", "))
}

// ParsePlatform validates a conda subdir name.
func ParsePlatform(s string) (Platform, error) {
	p := Platform(s)
	if _, ok := ociPlatforms[p]; !ok {
		return "", &PlatformError{Name: s}
	}
	return p, nil
}

// PlatformForOCI returns the conda platform for an OCI os/architecture/variant.
func PlatformForOCI(os, arch, variant string) (Platform, error) {
	for p, t := range ociPlatforms {
		if p != NoArch && t.os == os && t.arch == arch && (t.variant == variant || (variant == "" && t.variant != "")) {
			return p, nil
		}
	}
	return "", &PlatformError{Name: strings.TrimSuffix(os+"/"+arch+"/"+variant, "/")}
}

// OCI returns the platform's OCI os, architecture and variant; noarch has none.
func (p Platform) OCI() (os, arch, variant string) {
	t := ociPlatforms[p]
	return t.os, t.arch, t.variant
}

// OS returns the conda OS family: "linux", "osx", "win", or "" for noarch.
func (p Platform) OS() string {
	if p == NoArch {
		return ""
	}
	os, _, _ := strings.Cut(string(p), "-")
	return os
}

// IsUnix reports whether the platform is Linux or macOS.
func (p Platform) IsUnix() bool { return p.OS() == "linux" || p.OS() == "osx" }

// String returns the subdir name.
func (p Platform) String() string { return string(p) }

// OCIPlatform maps a conda subdir to the OCI os, architecture and variant an image for it
// runs on. It is the one subdir-to-OCI table of the project; ok is false for a subdir
// reprobuild does not build for (and for noarch, which runs anywhere).
func OCIPlatform(subdir string) (os, arch, variant string, ok bool) {
	t, ok := ociPlatforms[Platform(subdir)]
	if !ok || Platform(subdir) == NoArch {
		return "", "", "", false
	}
	return t.os, t.arch, t.variant, true
}

// MajorMinor keeps the first two components of a version ("3.11.9" -> "3.11"), the form
// a python version takes in site-packages paths.
func MajorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
