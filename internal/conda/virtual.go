package conda

import "slices"

// VirtualSpec describes the machine a solution targets. Empty fields take the
// defaults below; Cuda empty means "no GPU" and adds no __cuda.
type VirtualSpec struct {
	Platform Platform
	// Glibc is the C library version (Linux), default DefaultGlibc.
	Glibc string
	// Cuda is the CUDA driver version; empty for none.
	Cuda string
	// Archspec is the CPU microarchitecture name ("x86_64_v3", "zen2", ...); the default
	// is the platform family's generic name.
	Archspec string
	// Osx is the macOS version, default DefaultOsx.
	Osx string
	// Linux is the kernel version, default DefaultLinux.
	Linux string
}

// Defaults for a target description that does not say, the system requirements pixi
// assumes by default (glibc 2.28, Linux 4.18, macOS 13.0).
const (
	DefaultGlibc = "2.28"
	DefaultLinux = "4.18"
	DefaultOsx   = "13.0"
)

// genericArchspec is the microarchitecture a platform family guarantees.
var genericArchspec = map[Platform]string{
	Linux64:      "x86_64",
	Osx64:        "x86_64",
	Win64:        "x86_64",
	LinuxAarch64: "aarch64",
	WinArm64:     "aarch64",
	OsxArm64:     "m1",
	LinuxPpc64le: "ppc64le",
	LinuxS390x:   "s390x",
	LinuxArmv7l:  "armv7l",
}

// VirtualPackages returns the virtual package records conda would expose on the
// described machine (__unix, __linux, __glibc, __osx, __win, __archspec, __cuda), sorted
// by name. Each has build "0" and build number 0, except __archspec whose version is
// "1" and whose build is the microarchitecture name, as conda and rattler build them.
// The records carry conda's "@" channel and the target subdir.
func VirtualPackages(v VirtualSpec) []PackageRecord {
	var out []PackageRecord
	add := func(name, version, build string) {
		out = append(out, PackageRecord{
			Name:    name,
			Version: version,
			Build:   build,
			Subdir:  string(v.Platform),
			Channel: "@",
			Fn:      name,
		})
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	switch v.Platform.OS() {
	case "linux":
		add("__unix", "0", "0")
		add("__linux", or(v.Linux, DefaultLinux), "0")
		add("__glibc", or(v.Glibc, DefaultGlibc), "0")
	case "osx":
		add("__unix", "0", "0")
		add("__osx", or(v.Osx, DefaultOsx), "0")
	case "win":
		add("__win", "0", "0")
	}
	if v.Platform != NoArch && v.Platform != "" {
		add("__archspec", "1", or(v.Archspec, genericArchspec[v.Platform]))
	}
	if v.Cuda != "" {
		add("__cuda", v.Cuda, "0")
	}
	slices.SortFunc(out, func(a, b PackageRecord) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
