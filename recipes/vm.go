package recipes

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// VM configures the VM disk output (--output vm:PATH). It shapes only the disk, not
// the lock or the image, so it is not part of Hash.
type VM struct {
	// Size is the whole disk in bytes; 0 fits the contents.
	Size int64
	// Kernel is a path of the image's kernel; "" takes the newest /boot/vmlinuz-*.
	Kernel string
	// KernelURL and KernelSHA256 fetch the kernel instead (verified).
	KernelURL, KernelSHA256 string
	// Cmdline is appended to the kernel command line.
	Cmdline string
	// OnExit is what the VM does when the entrypoint exits: "poweroff" or "halt".
	OnExit string
	Range  hcl.Range
}

// DefaultVMOnExit is what a VM does after its entrypoint exits, like a batch job.
const DefaultVMOnExit = "poweroff"

var vmSizeRe = regexp.MustCompile(`^([0-9]+)\s*(MiB|GiB|TiB|MB|GB|TB)$`)

func (d *decoder) decodeVM(b *hcl.Block) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "size"}, {Name: "kernel"}, {Name: "kernel_url"}, {Name: "kernel_sha256"}, {Name: "cmdline"}, {Name: "on_exit"},
	}})
	d.addAll(diags)
	vm := &VM{OnExit: DefaultVMOnExit, Range: b.DefRange}
	d.recipe.VM = vm
	if attr := content.Attributes["size"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) {
			m := vmSizeRe.FindStringSubmatch(strings.TrimSpace(v))
			n, err := int64(0), error(nil)
			if m != nil {
				n, err = strconv.ParseInt(m[1], 10, 64)
			}
			unit := map[string]int64{"MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "MB": 1e6, "GB": 1e9, "TB": 1e12}
			if m == nil || err != nil || n <= 0 || n > (1<<50)/unit[m[2]] {
				d.errorf(attr.Expr.Range(), "Invalid VM disk size", "%q is not a disk size. Write a whole number with a unit, e.g. \"2GiB\" or \"512MiB\", or leave size out to fit the contents.", v)
			} else {
				vm.Size = n * unit[m[2]]
			}
		}
	}
	if attr := content.Attributes["kernel"]; attr != nil {
		if d.stringAttr(attr, &vm.Kernel) && !strings.HasPrefix(vm.Kernel, "/") {
			d.errorf(attr.Expr.Range(), "Invalid kernel path", "kernel %q must be an absolute path in the image, e.g. \"/boot/vmlinuz-6.1.0-28-amd64\"; use kernel_url and kernel_sha256 for a kernel from elsewhere.", vm.Kernel)
		}
	}
	urlAttr, shaAttr := content.Attributes["kernel_url"], content.Attributes["kernel_sha256"]
	if urlAttr != nil {
		d.stringAttr(urlAttr, &vm.KernelURL)
	}
	if shaAttr != nil {
		if d.stringAttr(shaAttr, &vm.KernelSHA256) && !sha256Re.MatchString(vm.KernelSHA256) {
			d.errorf(shaAttr.Expr.Range(), "Invalid kernel_sha256", "kernel_sha256 must be 64 lowercase hex digits, got %q.", vm.KernelSHA256)
		}
	}
	switch {
	case urlAttr != nil && shaAttr == nil:
		d.errorf(urlAttr.Expr.Range(), "Kernel URL without sha256", "kernel_url needs kernel_sha256 = \"...\": nothing unverified goes into a disk.")
	case shaAttr != nil && urlAttr == nil:
		d.errorf(shaAttr.Expr.Range(), "kernel_sha256 without kernel_url", "kernel_sha256 verifies kernel_url; add kernel_url or remove kernel_sha256.")
	case urlAttr != nil && content.Attributes["kernel"] != nil:
		d.errorf(urlAttr.Expr.Range(), "Two kernels", "Give either kernel (a path in the image) or kernel_url, not both.")
	}
	if attr := content.Attributes["cmdline"]; attr != nil {
		d.stringAttr(attr, &vm.Cmdline)
	}
	if attr := content.Attributes["on_exit"]; attr != nil {
		var v string
		if d.stringAttr(attr, &v) && d.oneOf(attr, v, "poweroff", "halt") {
			vm.OnExit = v
		}
	}
}
