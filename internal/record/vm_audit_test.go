package record

import (
	"testing"

	"github.com/reprobuild/reprobuild/recipes"
)

func TestAuditVMThreats(t *testing.T) {
	find := func(rep *Report, id string) *Threat {
		for i := range rep.Threats {
			if rep.Threats[i].ID == id {
				return &rep.Threats[i]
			}
		}
		return nil
	}
	parse := func(src string) *recipes.Recipe {
		t.Helper()
		r, diags := recipes.Parse("r.hcl", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return r
	}
	rep := Audit(AuditInput{Recipe: parse(`image "x" { base = "debian:12" }`)})
	if find(rep, ThreatVMKernel) != nil || find(rep, ThreatVMFirmware) != nil {
		t.Fatal("VM threats without a vm block")
	}
	rep = Audit(AuditInput{Recipe: parse("image \"x\" { base = \"debian:12\" }\nvm {}\n" +
		"data \"d\" {\n  url = \"https://example.org/d\"\n  sha256 = \"" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "\"\n  path = \"/d\"\n  mode = \"mount\"\n}\n")})
	if th := find(rep, ThreatVMKernel); th == nil || th.Severity != SeverityHigh || th.Breaks != LevelPinned {
		t.Fatalf("unpinned base: vm-kernel threat %+v", th)
	}
	if find(rep, ThreatVMFirmware) == nil || find(rep, ThreatVMMountedData) == nil {
		t.Fatalf("threats %+v lack vm-firmware or vm-mounted-data", rep.Threats)
	}
	rep = Audit(AuditInput{Recipe: parse("image \"x\" { base = \"debian@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "\" }\nvm {}\n")})
	if th := find(rep, ThreatVMKernel); th == nil || th.Severity != SeverityInfo {
		t.Fatalf("pinned base: vm-kernel threat %+v", th)
	}
}
