package conda

import "testing"

func TestArchspecFamily(t *testing.T) {
	for name, want := range map[string]string{
		"x86_64": "x86_64", "x86_64_v3": "x86_64", "zen4": "x86_64", "skylake_avx512": "x86_64",
		"aarch64": "aarch64", "m1": "aarch64", "neoverse_v2": "aarch64", "armv9.0a": "aarch64",
		"power9le": "ppc64le", "power9": "ppc64", "u74mc": "riscv64", "s390x": "s390x",
		"x86_64_v9": "x86_64", // unknown to the table, family from the prefix
	} {
		if got, ok := ArchspecFamily(name); !ok || got != want {
			t.Errorf("ArchspecFamily(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "haswel", "pentium4", "sparc64"} {
		if got, ok := ArchspecFamily(name); ok {
			t.Errorf("ArchspecFamily(%q) = %q, want no family", name, got)
		}
	}
	// Every platform's generic microarchitecture has a family, and it is its own.
	for p, generic := range genericArchspec {
		if f := p.ArchFamily(); f == "" || !KnownArchspec(generic) {
			t.Errorf("%s: generic %q, family %q", p, generic, f)
		}
	}
	if Linux64.ArchFamily() == LinuxAarch64.ArchFamily() || OsxArm64.ArchFamily() != LinuxAarch64.ArchFamily() {
		t.Error("families do not separate x86_64 from aarch64, or osx-arm64 is not aarch64")
	}
}
