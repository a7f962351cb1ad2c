package conda

import "strings"

// archspecFamilies maps the CPU microarchitecture names of archspec
// (github.com/archspec/archspec-json, cpu/microarchitectures.json at 90b453f) to the
// family at the root of their ancestry, the name of the plain instruction set. conda's
// __archspec virtual package carries these names. Families conda has no platform for
// (32-bit x86, ppc, sparc) are left out; s390x and armv7l, which archspec does not
// describe, stand for themselves.
var archspecFamilies = map[string]string{
	// x86_64 family
	"alderlake": "x86_64", "arrowlake": "x86_64", "arrowlake_s": "x86_64",
	"broadwell": "x86_64", "bulldozer": "x86_64", "cannonlake": "x86_64",
	"cascadelake": "x86_64", "core2": "x86_64", "excavator": "x86_64",
	"haswell": "x86_64", "icelake": "x86_64", "ivybridge": "x86_64", "k10": "x86_64",
	"mic_knl": "x86_64", "nehalem": "x86_64", "nocona": "x86_64", "piledriver": "x86_64",
	"sandybridge": "x86_64", "sapphirerapids": "x86_64", "skylake": "x86_64",
	"skylake_avx512": "x86_64", "steamroller": "x86_64", "westmere": "x86_64",
	"x86_64": "x86_64", "x86_64_v2": "x86_64", "x86_64_v3": "x86_64",
	"x86_64_v4": "x86_64", "zen": "x86_64", "zen2": "x86_64", "zen3": "x86_64",
	"zen4": "x86_64", "zen5": "x86_64",
	// aarch64 family
	"a64fx": "aarch64", "aarch64": "aarch64", "ampere1": "aarch64", "ampere1a": "aarch64",
	"armv8.1a": "aarch64", "armv8.2a": "aarch64", "armv8.3a": "aarch64",
	"armv8.4a": "aarch64", "armv8.5a": "aarch64", "armv8.6a": "aarch64",
	"armv9.0a": "aarch64", "armv9.2a": "aarch64", "cortex_a72": "aarch64",
	"m1": "aarch64", "m2": "aarch64", "m3": "aarch64", "m4": "aarch64",
	"neoverse_n1": "aarch64", "neoverse_n2": "aarch64", "neoverse_v1": "aarch64",
	"neoverse_v2": "aarch64", "neoverse_v3ae": "aarch64", "thunderx2": "aarch64",
	// ppc64le family
	"power10le": "ppc64le", "power8le": "ppc64le", "power9le": "ppc64le",
	"ppc64le": "ppc64le",
	// ppc64 family
	"power10": "ppc64", "power7": "ppc64", "power8": "ppc64", "power9": "ppc64",
	"ppc64": "ppc64",
	// riscv64 family
	"riscv64": "riscv64", "u74mc": "riscv64", "x60": "riscv64",
	// arm family
	"arm": "arm",
	// conda platforms archspec does not describe
	"s390x": "s390x", "armv7l": "armv7l",
}

// ArchspecFamily returns the family of a microarchitecture name ("zen3" and
// "x86_64_v3" are "x86_64"; "neoverse_v1" and "m1" are "aarch64"). Names archspec
// does not know fall back to the family whose name they start with ("x86_64_v5"); ok is
// false when there is none.
func ArchspecFamily(name string) (family string, ok bool) {
	if f, ok := archspecFamilies[name]; ok {
		return f, true
	}
	for _, f := range []string{"x86_64", "aarch64", "ppc64le", "riscv64", "s390x", "armv7l"} {
		if strings.HasPrefix(name, f) {
			return f, true
		}
	}
	return "", false
}

// KnownArchspec reports whether name is in the archspec table (see ArchspecFamily).
func KnownArchspec(name string) bool {
	_, ok := archspecFamilies[name]
	return ok
}

// ArchspecNames returns every name in the archspec table, for suggestions.
func ArchspecNames() []string {
	out := make([]string, 0, len(archspecFamilies))
	for n := range archspecFamilies {
		out = append(out, n)
	}
	return out
}

// ArchFamily is the CPU family of a platform: the family of its generic __archspec.
func (p Platform) ArchFamily() string {
	f, _ := ArchspecFamily(genericArchspec[p])
	return f
}
