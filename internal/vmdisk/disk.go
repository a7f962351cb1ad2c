package vmdisk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Options describe the disk to write.
type Options struct {
	// Name and LockHash are printed in the boot banner; LockHash also seeds every
	// identifier on the disk.
	Name, LockHash string
	// Epoch is every time stamp on the disk.
	Epoch time.Time
	// Size is the whole disk in bytes; 0 fits the contents (plus alignment).
	Size int64
	// KernelPath is the kernel's path in the tree ("" takes the newest
	// /boot/vmlinuz-*); its modules are in /lib/modules/VERSION for its vmlinuz-VERSION
	// name, or the tree's only modules directory.
	KernelPath string
	// Kernel replaces the tree's kernel (e.g. fetched from a url); its modules must be
	// in the tree's only /lib/modules/VERSION.
	Kernel []byte
	// Cmdline is appended to the kernel command line.
	Cmdline string
	// OnExit is "poweroff" (default) or "halt".
	OnExit  string
	Runtime Runtime
	// Mounts are data sources the VM mounts at run time (9p shares, see Mount).
	Mounts []Mount
	// Record is the runtime record (JSON) copied onto the EFI partition.
	Record []byte
	// Format is "raw" or "qcow2".
	Format string
	// MkfsErofs and QemuImg are the programs to run ("" looks them up in PATH).
	MkfsErofs, QemuImg string
}

// Result describes a written disk.
type Result struct {
	Kernel     string `json:"kernel"`
	DiskBytes  int64  `json:"disk_bytes"`
	RootBytes  int64  `json:"root_bytes"`
	ESPBytes   int64  `json:"esp_bytes"`
	FileBytes  int64  `json:"file_bytes"`
	DiskGUID   string `json:"disk_guid"`
	RootUUID   string `json:"root_uuid"`
	RecordPath string `json:"record_path"`
}

// RecordPath is where the runtime record is on the EFI partition.
const RecordPath = "reprobuild/runtime.json"

const mib = 1 << 20

// Build writes the disk of the unpacked tree dir to out (via a temporary file beside
// it, so nothing is left at out on failure). dir is modified only in its root's mode.
func Build(ctx context.Context, dir, out string, o Options) (*Result, error) {
	if o.Format != "raw" && o.Format != "qcow2" {
		return nil, fmt.Errorf("disk format %q: want raw or qcow2", o.Format)
	}
	switch o.OnExit {
	case "", "poweroff", "halt":
	default:
		return nil, fmt.Errorf("vm on_exit %q: want poweroff or halt", o.OnExit)
	}
	mkfs, err := program(o.MkfsErofs, "mkfs.erofs", "erofs-utils")
	if err != nil {
		return nil, err
	}
	qimg := ""
	if o.Format == "qcow2" {
		if qimg, err = program(o.QemuImg, "qemu-img", "qemu-utils"); err != nil {
			return nil, err
		}
	}
	t := treeFS{dir: dir}
	kver, kernel := "", o.Kernel
	switch {
	case kernel == nil && o.KernelPath != "":
		if kernel, err = t.readFile(o.KernelPath); err != nil {
			return nil, fmt.Errorf("vm kernel %s: not in the image: %v", o.KernelPath, err)
		}
		var ok bool
		if kver, ok = strings.CutPrefix(filepath.Base(o.KernelPath), "vmlinuz-"); !ok {
			if kver, err = t.onlyModules(); err != nil {
				return nil, err
			}
		}
	case kernel == nil:
		if kver, err = t.newestKernel(); err != nil {
			return nil, err
		}
		if kernel, err = t.readFile("/boot/vmlinuz-" + kver); err != nil {
			return nil, fmt.Errorf("reading the kernel /boot/vmlinuz-%s: %v", kver, err)
		}
	default:
		if kver, err = t.onlyModules(); err != nil {
			return nil, err
		}
	}
	uid, gid := 0, 0
	if u := o.Runtime.User; u != "" && u != "root" && u != "0" && u != "0:0" {
		if uid, gid, err = t.lookupUser(u); err != nil {
			return nil, err
		}
	}
	if len(o.Runtime.Entrypoint)+len(o.Runtime.Cmd) == 0 {
		return nil, fmt.Errorf("the image has no entrypoint or cmd: a VM needs a runtime to run (set runtime.entrypoint)")
	}
	banner := fmt.Sprintf("reprobuild: booted %s lock %s", o.Name, o.LockHash)
	for _, m := range o.Mounts {
		if !strings.HasPrefix(m.Path, "/") || m.Path == "/" {
			return nil, fmt.Errorf("data %q: mount path %q must be an absolute file path", m.Name, m.Path)
		}
	}
	initrd, err := initramfs(t, kver, initScript(banner, o.Runtime, uid, gid, o.OnExit, o.Mounts), o.Epoch, len(o.Mounts) > 0)
	if err != nil {
		return nil, err
	}
	loader, err := t.readFile("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
	if err != nil {
		return nil, fmt.Errorf("the base has no /usr/lib/systemd/boot/efi/systemd-bootx64.efi: add systemd-boot-efi to the base (the disk's UEFI boot loader)")
	}

	tmp, err := os.MkdirTemp(filepath.Dir(out), ".reprobuild-vm-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	// Root file system: EROFS, all-root, every time the epoch, UUID from the lock.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	rootUUID := deriveUUID(o.LockHash, "root-fs")
	rootImg := filepath.Join(tmp, "root.erofs")
	cmd := exec.CommandContext(ctx, mkfs, "--quiet", "-x-1", "--all-root", "--ignore-mtime",
		"-T"+strconv.FormatInt(max(o.Epoch.Unix(), 0), 10), "-U"+rootUUID, rootImg, dir)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "TZ=UTC"}
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mkfs.erofs failed: %v: %s", err, strings.TrimSpace(string(b)))
	}
	rf, err := os.Open(rootImg)
	if err != nil {
		return nil, err
	}
	defer rf.Close()
	st, err := rf.Stat()
	if err != nil {
		return nil, err
	}
	rootBytes := st.Size()

	cmdline := "console=ttyS0,115200 loglevel=4 panic=-1"
	if c := strings.TrimSpace(o.Cmdline); c != "" {
		cmdline += " " + c
	}
	files := []fatFile{
		{Path: "EFI/BOOT/BOOTX64.EFI", Data: loader},
		{Path: "loader/loader.conf", Data: []byte("default reprobuild.conf\ntimeout 0\neditor no\nrandom-seed-mode off\n")},
		{Path: "loader/entries/reprobuild.conf", Data: []byte(fmt.Sprintf(
			"title reprobuild %s\nversion %s\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n", o.Name, kver, cmdline))},
		{Path: "vmlinuz", Data: kernel},
		{Path: "initrd.img", Data: initrd},
		{Path: RecordPath, Data: o.Record},
	}
	var fileBytes int64
	for _, f := range files {
		fileBytes += int64(len(f.Data))
	}
	espStart := int64(mib)
	espBytes := max(64*mib, align(fileBytes+fileBytes/8+4*mib, mib))
	rootStart := espStart + espBytes
	rootPart := align(rootBytes, mib)
	need := rootStart + rootPart + mib
	size := need
	if o.Size > 0 {
		if o.Size < need {
			return nil, fmt.Errorf("vm size %d MiB is too small: the boot partition and the root file system need %d MiB", o.Size/mib, (need+mib-1)/mib)
		}
		size = o.Size / sectorSize * sectorSize
	}
	sectors := size / sectorSize
	esp, err := writeFAT32(espBytes/sectorSize, espStart/sectorSize, binary.LittleEndian.Uint32(derive(o.LockHash, "esp-volume-id", 4)), "REPROBUILD", o.Epoch, files)
	if err != nil {
		return nil, err
	}

	defer os.Remove(out + ".tmp")
	diskGUID := deriveGUID(o.LockHash, "disk")
	parts := []partition{
		{Type: espType, ID: deriveGUID(o.LockHash, "esp"), First: espStart / sectorSize, Last: (espStart+espBytes)/sectorSize - 1, Name: "EFI System Partition"},
		{Type: linuxRootX64, ID: deriveGUID(o.LockHash, "root"), First: rootStart / sectorSize, Last: (rootStart+rootPart)/sectorSize - 1, Name: rootPartName},
	}
	// The partition's unused tail is zeros: leave it a hole of the sparse file.
	used := len(esp)
	for used > 0 && esp[used-1] == 0 {
		used--
	}
	tailStart := rootStart + rootPart
	if o.Format == "raw" {
		f, err := os.OpenFile(out+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			return nil, err
		}
		if err := writeGPT(f, sectors, diskGUID, parts); err != nil {
			return nil, err
		}
		if _, err := f.WriteAt(esp[:used], espStart); err != nil {
			return nil, err
		}
		// File to file at an offset: ReadFrom lets the kernel copy (copy_file_range).
		if _, err := f.Seek(rootStart, io.SeekStart); err != nil {
			return nil, err
		}
		if _, err := f.ReadFrom(rf); err != nil {
			return nil, fmt.Errorf("copying the root file system: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else {
		// qcow2: qemu-img reads the disk as three concatenated raw files (the head up to
		// the root partition, the EROFS image padded to its partition, the tail with the
		// backup GPT), so the root file system is never copied.
		head, err := os.Create(filepath.Join(tmp, "head.raw"))
		if err != nil {
			return nil, err
		}
		defer head.Close()
		tail, err := os.Create(filepath.Join(tmp, "tail.raw"))
		if err != nil {
			return nil, err
		}
		defer tail.Close()
		if err := head.Truncate(rootStart); err != nil {
			return nil, err
		}
		if err := tail.Truncate(size - tailStart); err != nil {
			return nil, err
		}
		if err := os.Truncate(rootImg, rootPart); err != nil {
			return nil, err
		}
		w := splitWriter{head: head, tail: tail, headEnd: rootStart, tailStart: tailStart}
		if err := writeGPT(w, sectors, diskGUID, parts); err != nil {
			return nil, err
		}
		if _, err := w.WriteAt(esp[:used], espStart); err != nil {
			return nil, err
		}
		if err := head.Close(); err != nil {
			return nil, err
		}
		if err := tail.Close(); err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, qimg, "convert", "-q", "-f", "raw", "-O", "qcow2", head.Name(), rootImg, tail.Name(), out+".tmp")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "TZ=UTC"}
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("qemu-img convert failed: %v: %s", err, strings.TrimSpace(string(b)))
		}
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return nil, err
	}
	return &Result{
		Kernel: kver, DiskBytes: size, RootBytes: rootBytes, ESPBytes: espBytes, FileBytes: fileBytes,
		DiskGUID: diskGUID.String(), RootUUID: rootUUID, RecordPath: RecordPath,
	}, nil
}

func align(n, a int64) int64 { return (n + a - 1) / a * a }

// splitWriter writes the parts of a disk before headEnd to head and from tailStart on to
// tail; nothing may be written in between (the root partition, a separate file).
type splitWriter struct {
	head, tail         *os.File
	headEnd, tailStart int64
}

func (w splitWriter) WriteAt(p []byte, off int64) (int, error) {
	switch {
	case off+int64(len(p)) <= w.headEnd:
		return w.head.WriteAt(p, off)
	case off >= w.tailStart:
		return w.tail.WriteAt(p, off-w.tailStart)
	}
	return 0, fmt.Errorf("internal error: disk write at %d+%d crosses the root partition", off, len(p))
}

// program finds an external program, or names the Debian package that provides it.
func program(given, name, pkg string) (string, error) {
	if given != "" {
		return given, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: install it (Debian package %s) to build VM disks", name, pkg)
	}
	return p, nil
}

// ReadRecord reads the runtime record from a disk written by Build (raw or qcow2).
func ReadRecord(path string) ([]byte, error) {
	b, _, err := ReadRecordAt(path)
	return b, err
}

// ReadRecordAt is ReadRecord that also says where on the disk the record was read:
// "partition N (EFI system partition): /reprobuild/runtime.json".
func ReadRecordAt(path string) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var r io.ReaderAt = f
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, 0); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(magic, []byte("QFI\xfb")) {
		if r, err = openQcow2(f); err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
	}
	parts, err := readGPT(r)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range parts {
		if p.Type == espType {
			sec := io.NewSectionReader(r, p.First*sectorSize, (p.Last-p.First+1)*sectorSize)
			b, err := readFATFile(sec, RecordPath)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, "", fmt.Errorf("%s: no runtime record", path)
				}
				return nil, "", fmt.Errorf("%s: %w", path, err)
			}
			return b, fmt.Sprintf("partition %d (EFI system partition): /%s", p.Number, RecordPath), nil
		}
	}
	return nil, "", fmt.Errorf("%s: no EFI system partition: not a reprobuild VM disk", path)
}

// qcow2 reads the guest view of an uncompressed, unencrypted qcow2 (v2 or v3) image.
type qcow2 struct {
	f           *os.File
	clusterBits uint
	size        int64
	l1          []uint64
}

func openQcow2(f *os.File) (*qcow2, error) {
	h := make([]byte, 104)
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, fmt.Errorf("reading the qcow2 header: %w", err)
	}
	be := binary.BigEndian
	if v := be.Uint32(h[4:]); v != 2 && v != 3 {
		return nil, fmt.Errorf("qcow2 version %d is not supported", v)
	}
	if be.Uint64(h[8:]) != 0 {
		return nil, fmt.Errorf("qcow2 with a backing file is not supported")
	}
	if be.Uint32(h[32:]) != 0 {
		return nil, fmt.Errorf("encrypted qcow2 is not supported")
	}
	q := &qcow2{f: f, clusterBits: uint(be.Uint32(h[20:])), size: int64(be.Uint64(h[24:]))}
	if q.clusterBits < 9 || q.clusterBits > 21 {
		return nil, fmt.Errorf("qcow2 cluster bits %d: corrupt", q.clusterBits)
	}
	n := be.Uint32(h[36:])
	if n > 1<<24 {
		return nil, fmt.Errorf("qcow2 L1 table of %d entries: corrupt", n)
	}
	buf := make([]byte, 8*int(n))
	if _, err := f.ReadAt(buf, int64(be.Uint64(h[40:]))); err != nil {
		return nil, fmt.Errorf("reading the qcow2 L1 table: %w", err)
	}
	q.l1 = make([]uint64, n)
	for i := range q.l1 {
		q.l1[i] = be.Uint64(buf[8*i:])
	}
	return q, nil
}

func (q *qcow2) ReadAt(p []byte, off int64) (int, error) {
	cs := int64(1) << q.clusterBits
	l2n := cs / 8
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		if pos >= q.size {
			return done, io.EOF
		}
		ci := pos / cs
		in := pos % cs
		n := min(int64(len(p)-done), cs-in, q.size-pos)
		chunk := p[done : done+int(n)]
		clear(chunk)
		l1i := ci / l2n
		if l1i < int64(len(q.l1)) {
			if l2off := int64(q.l1[l1i] & 0x00fffffffffffe00); l2off != 0 {
				var e [8]byte
				if _, err := q.f.ReadAt(e[:], l2off+8*(ci%l2n)); err != nil {
					return done, err
				}
				v := binary.BigEndian.Uint64(e[:])
				if v&(1<<62) != 0 {
					return done, fmt.Errorf("compressed qcow2 clusters are not supported")
				}
				if d := int64(v & 0x00fffffffffffe00); d != 0 && v&1 == 0 {
					if _, err := q.f.ReadAt(chunk, d+in); err != nil {
						return done, err
					}
				}
			}
		}
		done += int(n)
	}
	return done, nil
}
