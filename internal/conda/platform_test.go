package conda

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlatformOCI(t *testing.T) {
	tests := []struct {
		in                string
		os, arch, variant string
	}{
		{"linux-64", "linux", "amd64", ""},
		{"linux-aarch64", "linux", "arm64", ""},
		{"linux-ppc64le", "linux", "ppc64le", ""},
		{"linux-s390x", "linux", "s390x", ""},
		{"linux-armv7l", "linux", "arm", "v7"},
		{"osx-64", "darwin", "amd64", ""},
		{"osx-arm64", "darwin", "arm64", ""},
		{"win-64", "windows", "amd64", ""},
		{"win-arm64", "windows", "arm64", ""},
		{"noarch", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePlatform(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			os, arch, variant := p.OCI()
			if os != tt.os || arch != tt.arch || variant != tt.variant {
				t.Errorf("OCI() = %q %q %q, want %q %q %q", os, arch, variant, tt.os, tt.arch, tt.variant)
			}
			if p == NoArch {
				return
			}
			back, err := PlatformForOCI(os, arch, variant)
			if err != nil || back != p {
				t.Errorf("PlatformForOCI(%q, %q, %q) = %q, %v; want %q", os, arch, variant, back, err, p)
			}
		})
	}
}

func TestParsePlatformUnknown(t *testing.T) {
	for _, s := range []string{"", "linux", "linux-86", "Linux-64", "osx-arm"} {
		_, err := ParsePlatform(s)
		var pe *PlatformError
		if !errors.As(err, &pe) || pe.Name != s {
			t.Errorf("ParsePlatform(%q) err = %v, want *PlatformError", s, err)
		}
	}
	if _, err := PlatformForOCI("plan9", "amd64", ""); err == nil {
		t.Error("PlatformForOCI(plan9) succeeded")
	}
}

func TestVirtualPackages(t *testing.T) {
	rec := func(name, version, build string, p Platform) PackageRecord {
		return PackageRecord{Name: name, Version: version, Build: build, Subdir: string(p), Channel: "@", Fn: name}
	}
	tests := []struct {
		name string
		in   VirtualSpec
		want []PackageRecord
	}{
		{"linux defaults", VirtualSpec{Platform: Linux64}, []PackageRecord{
			rec("__archspec", "1", "x86_64", Linux64), rec("__glibc", DefaultGlibc, "0", Linux64),
			rec("__linux", DefaultLinux, "0", Linux64), rec("__unix", "0", "0", Linux64)}},
		{"linux gpu", VirtualSpec{Platform: LinuxAarch64, Glibc: "2.17", Cuda: "12.4", Archspec: "neoverse_v1", Linux: "5.15"}, []PackageRecord{
			rec("__archspec", "1", "neoverse_v1", LinuxAarch64), rec("__cuda", "12.4", "0", LinuxAarch64),
			rec("__glibc", "2.17", "0", LinuxAarch64), rec("__linux", "5.15", "0", LinuxAarch64), rec("__unix", "0", "0", LinuxAarch64)}},
		{"osx", VirtualSpec{Platform: OsxArm64, Osx: "14.2"}, []PackageRecord{
			rec("__archspec", "1", "m1", OsxArm64), rec("__osx", "14.2", "0", OsxArm64), rec("__unix", "0", "0", OsxArm64)}},
		{"windows", VirtualSpec{Platform: Win64}, []PackageRecord{
			rec("__archspec", "1", "x86_64", Win64), rec("__win", "0", "0", Win64)}},
		{"noarch", VirtualSpec{Platform: NoArch}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VirtualPackages(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Virtual packages answer the specs conda-forge packages carry.
			for _, r := range got {
				if r.Name == "__glibc" {
					if !MustParseMatchSpec("__glibc >=2.17,<3.0.a0").Match(&r) {
						t.Errorf("__glibc %s does not satisfy __glibc >=2.17,<3.0.a0", r.Version)
					}
				}
			}
		})
	}
}
