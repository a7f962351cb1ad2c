package record

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/reprobuild/reprobuild/recipes"
)

// Threats that only a recipe with a vm block (a VM disk output) has.
const (
	ThreatVMKernel      = "vm-kernel"
	ThreatVMFirmware    = "vm-firmware"
	ThreatVMMountedData = "vm-mounted-data"
)

// vmThreats names the risks of the VM disk: where its kernel comes from and whether that
// is pinned, the firmware and hypervisor the disk does not carry, and mounted data the
// disk does not carry.
func (a *auditor) vmThreats() {
	r, l := a.r, a.in.Lock
	if r.VM == nil {
		return
	}
	where := where(r.VM.Range)
	switch base := cmp.Or(r.Image.Base, recipes.DefaultBase); {
	case r.VM.KernelURL != "":
		a.add(Threat{ID: ThreatVMKernel, Severity: SeverityLow, Subject: StripCredentials(r.VM.KernelURL),
			Message: "The VM kernel is fetched from kernel_url (pinned by kernel_sha256), but its modules come from the base image: a base that moves to another kernel version no longer boots it.",
			Fix:     "Prefer the base image's own kernel (drop kernel_url), or pin the base by digest next to the kernel.", Where: where})
	case base == "scratch":
		a.add(Threat{ID: ThreatVMKernel, Severity: SeverityHigh, Breaks: LevelBestEffort, Subject: base,
			Message: "The VM disk needs a kernel, modules, busybox-static and systemd-boot-efi from the base, and the base is scratch: the disk cannot be built.",
			Fix:     "Use a base with linux-image-amd64, busybox-static and systemd-boot-efi (see `make vm-base`).", Where: where})
	case strings.Contains(base, "@sha256:") || (l != nil && strings.HasPrefix(l.Base.Digest, "sha256:")):
		a.add(Threat{ID: ThreatVMKernel, Severity: SeverityInfo, Subject: base,
			Message: "The VM kernel, its modules and the boot loader come from the base image, pinned by digest.",
			Fix:     "Nothing to do; keep the base pinned.", Where: where})
	default:
		a.add(Threat{ID: ThreatVMKernel, Severity: SeverityHigh, Breaks: LevelPinned, Subject: base,
			Message: fmt.Sprintf("The VM kernel comes from the base %s, which is not pinned by digest: another kernel can boot next time.", base),
			Fix:     fmt.Sprintf("Write base = \"%s@sha256:DIGEST\".", base), Where: where})
	}
	a.add(Threat{ID: ThreatVMFirmware, Severity: SeverityInfo,
		Message: "The UEFI firmware (OVMF) and the hypervisor (qemu) are not part of the disk: the bytes are reproducible, how they boot depends on the host's versions.",
		Fix:     "Note the qemu and OVMF versions used (e.g. Debian 12's qemu-system-x86 7.2 and ovmf 2022.11) with the results, or archive OVMF.fd next to the disk.", Where: where})
	for _, d := range r.Data {
		if d.Mode != "mount" {
			continue
		}
		t := Threat{ID: ThreatVMMountedData, Severity: SeverityInfo, Subject: d.Name,
			Message: fmt.Sprintf("Data %q is not on the disk: the VM mounts it at %s from a read-only 9p share (qemu -virtfs, see REPRODUCE.md) and checks its sha256 before the runtime starts.", d.Name, d.Path),
			Fix:     "Keep the data file with the disk, or use mode = \"bake\" to put it on the disk."}
		if d.SHA256 == "" {
			t.Severity = SeverityMedium
			t.Message = fmt.Sprintf("Data %q is not on the disk and has no sha256: the VM mounts whatever is attached at %s.", d.Name, d.Path)
			t.Fix = "Add sha256 = \"...\" to the data block, so the VM checks what is attached."
		}
		a.add(t)
	}
}
