package vmdisk

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// rootPartName is the GPT name of the root partition; the init finds the root disk by
// it (the kernel reports it as PARTNAME in the partition's uevent).
const rootPartName = "reprobuild-root"

// bootModules are the modules the init loads to reach the root file system: the virtio
// PCI transport and block driver, EROFS, and overlayfs for the writable layer.
var bootModules = []string{"virtio_pci", "virtio_blk", "erofs", "overlay"}

// Mount is a data source mounted at run time: a 9p share (virtio) with the tag
// MountTag(i), holding the file base(Path), linked at Path.
type Mount struct {
	Name, Path string
	// SHA256 (hex), when set, is checked before the runtime starts.
	SHA256 string
}

// MountTag is the 9p mount tag of the i-th mount.
func MountTag(i int) string { return fmt.Sprintf("rbdata%d", i) }

// QemuMountArgs are the qemu arguments that attach the i-th mount from a host directory.
func QemuMountArgs(i int, hostDir string) []string {
	return []string{"-virtfs", "local,path=" + hostDir + ",mount_tag=" + MountTag(i) + ",readonly=on,security_model=none"}
}

// Runtime is what the VM runs: the image config of the built image.
type Runtime struct {
	Entrypoint, Cmd, Env []string
	Workdir, User        string
}

// shq quotes s for a POSIX shell.
func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// initScript is the initramfs's /init: a busybox shell script that loads the boot
// modules, mounts the EROFS root read-only under a tmpfs overlay, prints the banner,
// runs the runtime in a chroot and powers off (or halts) with its exit status printed.
func initScript(banner string, rt Runtime, uid, gid int, onExit string, mounts []Mount) string {
	var cmd []string
	cmd = append(cmd, "/bin/busybox", "sh", "-c", `cd -- "$1" || exit 126; shift; exec "$@"`, "sh")
	wd := rt.Workdir
	if wd == "" {
		wd = "/"
	}
	cmd = append(cmd, wd)
	if uid != 0 || gid != 0 {
		cmd = append(cmd, "/bin/busybox", "setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups")
	}
	cmd = append(cmd, "/bin/busybox", "env", "-i")
	cmd = append(cmd, rt.Env...)
	cmd = append(cmd, rt.Entrypoint...)
	cmd = append(cmd, rt.Cmd...)
	quoted := make([]string, len(cmd))
	for i, c := range cmd {
		quoted[i] = shq(c)
	}
	exit := "poweroff"
	if onExit == "halt" {
		exit = "halt"
	}
	var data strings.Builder
	for i, m := range mounts {
		dir := "/run/reprobuild/data/" + MountTag(i)
		fmt.Fprintf(&data, "$B mkdir -p /newroot%s /newroot%s\n", dir, shq(path.Dir(m.Path)))
		fmt.Fprintf(&data, "$B mount -t 9p -o trans=virtio,version=9p2000.L,ro %s /newroot%s || fail %s\n", MountTag(i), dir,
			shq(fmt.Sprintf("data %q (%s) is not attached: boot with -virtfs local,path=DIR,mount_tag=%s,readonly=on,security_model=none (DIR holding %s)", m.Name, m.Path, MountTag(i), path.Base(m.Path))))
		fmt.Fprintf(&data, "$B ln -sfn %s /newroot%s\n", shq(dir+"/"+path.Base(m.Path)), shq(m.Path))
		if m.SHA256 != "" {
			fmt.Fprintf(&data, "[ \"$($B sha256sum /newroot%s | $B cut -d' ' -f1)\" = %s ] || fail %s\n", shq(dir+"/"+path.Base(m.Path)), shq(m.SHA256),
				shq(fmt.Sprintf("data %q: the attached %s does not have the recorded sha256 %s", m.Name, path.Base(m.Path), m.SHA256)))
		}
	}
	return `#!/bin/busybox sh
# Written by reprobuild: mount the read-only root under a tmpfs overlay, run the image's
# runtime, print its exit status and ` + exit + `.
B=/bin/busybox
fail() { echo "reprobuild: $*"; $B sync; $B ` + exit + ` -f; $B sleep 3600; }
$B mount -t devtmpfs devtmpfs /dev
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
for m in /modules/*; do
  $B insmod "$m" || fail "cannot load $m"
done
dev=
i=0
while :; do
  for u in /sys/class/block/*/uevent; do
    if $B grep -qx 'PARTNAME=` + rootPartName + `' "$u"; then dev=$($B sed -n 's/^DEVNAME=//p' "$u"); fi
  done
  [ -n "$dev" ] && break
  i=$((i+1))
  [ $i -gt 600 ] && fail "no root partition named ` + rootPartName + ` after 60s: attach the disk as virtio-blk"
  $B usleep 100000
done
$B mount -t erofs -o ro "/dev/$dev" /lower || fail "cannot mount /dev/$dev (erofs)"
$B mount -t tmpfs -o mode=0755 tmpfs /rw || fail "cannot mount the tmpfs"
$B mkdir -p /rw/upper /rw/work
$B mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "cannot mount the overlay"
for d in dev proc sys; do
  $B mkdir -p /newroot/$d
  $B mount --move /$d /newroot/$d
done
$B mkdir -p /newroot/tmp
$B chmod 1777 /newroot/tmp
` + data.String() + `echo ` + shq(banner) + `
$B chroot /newroot ` + strings.Join(quoted, " ") + `
status=$?
echo "reprobuild: exit status $status"
$B sync
$B ` + exit + ` -f
$B sleep 3600
`
}

// initramfs builds the cpio archive: /init, a static busybox from the tree, and the
// boot modules of kernel kver in load order.
func initramfs(t treeFS, kver, init string, epoch time.Time, mounts bool) ([]byte, error) {
	bb, err := t.readFile("/bin/busybox")
	if err != nil {
		return nil, fmt.Errorf("the base has no /bin/busybox: add busybox-static to the base (the VM's initramfs runs it)")
	}
	f, err := elf.NewFile(bytes.NewReader(bb))
	if err != nil {
		return nil, fmt.Errorf("the base's /bin/busybox is not an ELF program: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return nil, fmt.Errorf("the base's /bin/busybox is dynamically linked: install busybox-static in the base instead of busybox")
		}
	}
	f.Close()
	mods := bootModules
	if mounts {
		mods = append(slices.Clone(mods), "9pnet_virtio", "9p")
	}
	order, err := t.moduleLoadOrder(kver, mods)
	if err != nil {
		return nil, err
	}
	entries := []cpioEntry{
		{Name: "bin", Mode: sIFDIR | 0o755},
		{Name: "bin/busybox", Mode: sIFREG | 0o755, Data: bb},
		{Name: "bin/sh", Mode: sIFLNK | 0o777, Data: []byte("busybox")},
		{Name: "dev", Mode: sIFDIR | 0o755},
		{Name: "dev/console", Mode: sIFCHR | 0o600, RMajor: 5, RMinor: 1},
		{Name: "init", Mode: sIFREG | 0o755, Data: []byte(init)},
		{Name: "lower", Mode: sIFDIR | 0o755},
		{Name: "modules", Mode: sIFDIR | 0o755},
		{Name: "newroot", Mode: sIFDIR | 0o755},
		{Name: "proc", Mode: sIFDIR | 0o755},
		{Name: "rw", Mode: sIFDIR | 0o755},
		{Name: "sys", Mode: sIFDIR | 0o755},
	}
	for i, m := range order {
		data, err := t.readFile("/lib/modules/" + kver + "/" + m)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: module %s listed in modules.dep is missing: %v", kver, m, err)
		}
		entries = append(entries, cpioEntry{Name: fmt.Sprintf("modules/%02d-%s", i, path.Base(m)), Mode: sIFREG | 0o644, Data: data})
	}
	var buf bytes.Buffer
	if err := writeCPIO(&buf, entries, epoch); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
