# A bootable VM disk: noarch python packages from the examples' channel on a Debian 12
# base that carries a kernel (linux-image-amd64), python3, busybox-static (the
# initramfs's shell) and systemd-boot-efi (the UEFI boot loader).
#
# The base is made on your machine: `make vm-base` prints the --var to pass. Then
#
#   reprobuild image -f examples/vm/reprobuild.hcl --var base=oci:/abs/path@sha256:... --output vm:out/vm.qcow2
#   qemu-system-x86_64 -m 1024 -bios /usr/share/ovmf/OVMF.fd -nographic \
#     -drive file=out/vm.qcow2,if=virtio,format=qcow2,snapshot=on
#
# prints "reprobuild: booted vm-example lock ...", hello-py's greeting and its exit
# status, then powers off.

variable "base" {
  description = "the bootable Debian base image, an OCI layout pinned by digest"
}

reproducibility { level = "bitwise" }

image "vm-example" {
  base = var.base
}

python {
  version = "3.11"
  source  = "base"
}

channel "examples" {
  url = "../channel"
}

solver {
  exclude_newer = "2026-11-01T00:00:00Z"
}

dependencies {
  conda = ["hello-py >=0.2"]
}

platform {
  targets = ["linux-64"]
  glibc   = "2.36"
}

runtime {
  entrypoint = ["/opt/env/bin/hello-py"]
  env        = { PYTHONPATH = "/opt/env/lib/python3.11/site-packages" }
}

vm {
  cmdline = "quiet"
  on_exit = "poweroff"
}
