package recipes

import (
	"strings"
	"testing"
)

func TestVMBlock(t *testing.T) {
	r, diags := Parse("r.hcl", []byte(`
vm {
  size    = "2GiB"
  cmdline = "quiet"
  on_exit = "halt"
}
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if r.VM == nil || r.VM.Size != 2<<30 || r.VM.Cmdline != "quiet" || r.VM.OnExit != "halt" {
		t.Fatalf("vm block decoded to %+v", r.VM)
	}
	r, diags = Parse("r.hcl", []byte("vm {}\n"))
	if diags.HasErrors() || r.VM == nil || r.VM.OnExit != DefaultVMOnExit || r.VM.Size != 0 {
		t.Fatalf("empty vm block: %+v %v", r.VM, diags)
	}
	if r, _ := Parse("r.hcl", []byte("")); r.VM != nil {
		t.Fatal("a recipe without a vm block has one")
	}
	bad := map[string]string{
		`size = "2 parsecs"`:                         "Invalid VM disk size",
		`size = "0MiB"`:                              "Invalid VM disk size",
		`on_exit = "reboot"`:                         "poweroff",
		`kernel = "boot/vmlinuz"`:                    "Invalid kernel path",
		`kernel_url = "https://example.org/vmlinuz"`: "Kernel URL without sha256",
		`kernel_sha256 = "abc"`:                      "kernel_sha256",
	}
	for body, want := range bad {
		src := "vm {\n  " + body + "\n}\n"
		_, diags := Parse("r.hcl", []byte(src))
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: diagnostics %v, want an error mentioning %q", body, diags, want)
		}
	}
	// The vm block shapes only the disk: it does not make a lock stale.
	a, _ := Parse("r.hcl", []byte(`dependencies { conda = ["x"] }`))
	b, _ := Parse("r.hcl", []byte("dependencies { conda = [\"x\"] }\nvm { size = \"1GiB\" }\n"))
	if a.Hash() != b.Hash() {
		t.Error("the vm block changes the recipe hash")
	}
}
