package examples

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reprobuild/reprobuild/internal/testutil"
	"github.com/reprobuild/reprobuild/internal/vmdisk"
)

// vmBase packs the bootable Debian root file system made by .ci/vm.sh
// (REPROBUILD_VM_ROOTFS) with examples/vm/mkbase, as `make vm-base` does, and returns
// the base reference.
func vmBase(t *testing.T) string {
	t.Helper()
	tarPath := os.Getenv("REPROBUILD_VM_ROOTFS")
	if tarPath == "" {
		testutil.Unavailable(t, "REPROBUILD_VM_ROOTFS is not set (run .ci/vm.sh and export its output)")
	}
	out, err := exec.Command("go", "run", "./vm/mkbase", tarPath, filepath.Join(t.TempDir(), "vm-base")).CombinedOutput()
	if err != nil {
		t.Fatalf("mkbase: %v\n%s", err, out)
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "--var base=")
	if !ok {
		t.Fatalf("mkbase printed %q", out)
	}
	return ref
}

func vmTools(t *testing.T) (qemu, firmware string) {
	t.Helper()
	for _, p := range []string{"mkfs.erofs", "qemu-img", "qemu-system-x86_64"} {
		if _, err := exec.LookPath(p); err != nil {
			testutil.Unavailable(t, "%s is not installed (run .ci/vm.sh)", p)
		}
	}
	firmware = "/usr/share/ovmf/OVMF.fd"
	if _, err := os.Stat(firmware); err != nil {
		testutil.Unavailable(t, "no UEFI firmware at %s (install ovmf)", firmware)
	}
	qemu, _ = exec.LookPath("qemu-system-x86_64")
	return qemu, firmware
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// vmWorkspace is a workspace with examples/vm in it.
func vmWorkspace(t *testing.T) string {
	t.Helper()
	ws := workspace(t)
	if err := os.CopyFS(filepath.Join(ws, "vm"), os.DirFS("vm")); err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestVMDiskBootsAndIsReproducible builds examples/vm as raw and qcow2 disks twice, in
// different directories with different TZ, umask and GOMAXPROCS (identical bytes), then
// boots the qcow2 with qemu and OVMF from the disk alone (no -kernel), reading the serial
// console for the banner, the entry point's output and its exit status.
func TestVMDiskBootsAndIsReproducible(t *testing.T) {
	qemu, firmware := vmTools(t)
	base := vmBase(t)
	variants := []runOpts{
		{env: []string{"TZ=UTC", "GOMAXPROCS=1"}, umask: "022"},
		{env: []string{"TZ=Asia/Kolkata", "GOMAXPROCS=2"}, umask: "077"},
	}
	sums := map[string][]string{}
	var disk, lockFile string
	for i, o := range variants {
		ws := vmWorkspace(t)
		o.dir = filepath.Join(ws, "vm")
		o.env = append(o.env, "REPROBUILD_CACHE="+t.TempDir())
		mustRun(t, o, "lock", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base)
		outDir := filepath.Join(t.TempDir(), "out"+strings.Repeat("/deeper", i))
		for _, format := range []string{"raw", "qcow2"} {
			p := filepath.Join(outDir, "vm."+format)
			mustRun(t, o, "image", "-f", "reprobuild.hcl", "--offline", "--frozen", "--var", "base="+base, "--output", "vm:"+p)
			sums[format] = append(sums[format], fileSHA256(t, p))
			if i == 0 && format == "qcow2" {
				disk, lockFile = p, filepath.Join(o.dir, "reprobuild.lock")
				// The record and REPRODUCE.md (with the qemu command) are beside the disk.
				b, err := os.ReadFile(p + ".reprobuild/REPRODUCE.md")
				if err != nil || !strings.Contains(string(b), "qemu-system-x86_64") {
					t.Errorf("REPRODUCE.md beside the disk lacks the qemu command (%v)", err)
				}
				if _, err := os.Stat(p + ".reprobuild/runtime-linux-64.json"); err != nil {
					t.Error(err)
				}
			}
		}
		if i == 0 {
			// The same disk as a KubeVirt containerDisk: one layer, /disk/disk.qcow2, 107:107.
			cd := filepath.Join(outDir, "containerdisk")
			mustRun(t, o, "image", "-f", "reprobuild.hcl", "--offline", "--frozen", "--var", "base="+base, "--output", "kubevirt:"+cd)
			checkContainerDisk(t, cd, sums["qcow2"][0])
		}
	}
	for format, s := range sums {
		if s[0] != s[1] {
			t.Errorf("%s disks of two builds differ: %s vs %s", format, s[0], s[1])
		}
		t.Logf("%s sha256 %s", format, s[0])
	}
	lockHash := fileSHA256(t, lockFile)

	// The runtime record is on the disk itself.
	recBytes, err := vmdisk.ReadRecord(disk)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		LockHash string `json:"lock_hash"`
	}
	if err := json.Unmarshal(recBytes, &rec); err != nil {
		t.Fatalf("record on the disk: %v", err)
	}
	if rec.LockHash != lockHash {
		t.Errorf("record on the disk has lock_hash %s, the lock file hashes to %s", rec.LockHash, lockHash)
	}
	// `reprobuild verify` rebuilds the disk from the lock and compares the bytes.
	if out := mustRun(t, runOpts{dir: filepath.Dir(lockFile), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}},
		"verify", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base, "vm:"+disk); !strings.Contains(out, "verified") {
		t.Errorf("verify vm:%s printed %q", disk, out)
	}
	// So is `reprobuild inspect vm:PATH`.
	if out := mustRun(t, runOpts{dir: t.TempDir()}, "inspect", "vm:"+disk); !strings.Contains(out, lockHash) {
		t.Errorf("inspect vm:%s does not show the lock hash %s:\n%s", disk, lockHash, out)
	} else if want := "Record  partition 1 (EFI system partition): /reprobuild/runtime.json\n"; !strings.Contains(out, want) {
		t.Errorf("inspect vm:%s does not say it read the record from the EFI partition (%q):\n%s", disk, want, out)
	}
	if st, err := os.Stat(disk); err == nil {
		t.Logf("qcow2 size %d bytes", st.Size())
	}

	accel := os.Getenv("REPROBUILD_VM_ACCEL")
	if accel == "" {
		accel = "tcg" // KVM, where it exists, is opt-in: nested KVM is not always sound
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-machine", "q35,accel="+accel, "-m", "1024", "-smp", "1",
		"-bios", firmware, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-drive", "file="+disk+",if=virtio,format=qcow2,snapshot=on")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var console []string
	var toBanner, toExit time.Duration
	ansi := regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z=]`)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(ansi.ReplaceAllString(sc.Text(), ""))
		console = append(console, line)
		if strings.HasPrefix(line, "reprobuild: booted") && toBanner == 0 {
			toBanner = time.Since(start)
		}
		if strings.HasPrefix(line, "reprobuild: exit status") {
			toExit = time.Since(start)
		}
	}
	werr := cmd.Wait()
	all := strings.Join(console, "\n")
	if werr != nil {
		t.Fatalf("qemu: %v (stderr: %s)\nconsole:\n%s", werr, stderr.String(), all)
	}
	want := []string{
		"reprobuild: booted vm-example lock " + lockHash,
		"hello-py 0.2.0 on python 3.11",
		"reprobuild: exit status 0",
	}
	at := -1
	for _, w := range want {
		found := false
		for i := at + 1; i < len(console); i++ {
			if console[i] == w {
				at, found = i, true
				break
			}
		}
		if !found {
			t.Fatalf("console has no line %q after the previous one:\n%s", w, all)
		}
	}
	t.Logf("accel=%s boot-to-banner %s, boot-to-exit %s (qemu exited after %s)", accel, toBanner.Round(time.Millisecond), toExit.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestVMBadInput: each bad input is a one-line error naming the problem, and nothing is
// left at the output path.
func TestVMBadInput(t *testing.T) {
	for _, p := range []string{"mkfs.erofs", "qemu-img"} {
		if _, err := exec.LookPath(p); err != nil {
			testutil.Unavailable(t, "%s is not installed (run .ci/vm.sh)", p)
		}
	}
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(kernel, []byte("not the kernel you pinned"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, edit, output, want string
	}{
		{"base without a kernel", "", "vm.qcow2", "the base has no kernel"},
		{"wrong disk suffix", "", "vm.vdi", "must end in .qcow2 or .raw"},
		{"kernel url with a wrong sha256", "vm {\n  kernel_url = \"file://" + kernel + "\"\n  kernel_sha256 = \"" + strings.Repeat("0", 64) + "\"\n}\n", "vm.qcow2", "sha256"},
		{"not a linux-64 target", "ARCH", "vm.qcow2", "linux-64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := workspace(t)
			dir := filepath.Join(ws, "quickstart")
			recipe := filepath.Join(dir, "reprobuild.hcl")
			src, err := os.ReadFile(recipe)
			if err != nil {
				t.Fatal(err)
			}
			s := string(src)
			switch c.edit {
			case "":
			case "ARCH":
				s = strings.Replace(s, `targets = ["linux-64"]`, `targets = ["linux-aarch64"]`, 1)
				// The busybox base is amd64 only, which image refuses for an arm64 target
				// before building; scratch lets the build reach the VM output's own check.
				s = regexp.MustCompile(`(?m)^\s*base\s*=.*$`).ReplaceAllString(s, `  base = "scratch"`)
				s = strings.Replace(s, `"small-executable 1.0.*",`, "", 1)
				os.Remove(filepath.Join(dir, "reprobuild.lock"))
			default:
				s += c.edit
			}
			if err := os.WriteFile(recipe, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			outDir := t.TempDir()
			o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
			// -q: no progress lines, so stderr is the error alone.
			_, err = run(t, o, "image", "-q", "-f", "reprobuild.hcl", "--offline", "--output", "vm:"+filepath.Join(outDir, c.output))
			if err == nil {
				t.Fatal("the build succeeded")
			}
			msg := err.Error()
			_, stderr, _ := strings.Cut(msg, "stderr:\n")
			stderr = strings.TrimSpace(stderr)
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("error does not mention %q:\n%s", c.want, stderr)
			}
			if strings.Contains(stderr, "\n") {
				t.Fatalf("error is more than one line:\n%s", stderr)
			}
			t.Logf("%s", stderr)
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Fatalf("left %s behind in the output directory", ents[0].Name())
			}
		})
	}
}

// checkContainerDisk reads a KubeVirt containerDisk layout: one image, one layer, holding
// disk/disk.qcow2 owned by 107:107 with the given sha256.
func checkContainerDisk(t *testing.T, dir, wantSHA string) {
	t.Helper()
	idx, im := testutil.OCILayout(t, dir)
	if len(im.Manifests) != 1 {
		t.Fatalf("containerDisk layout has %d entries", len(im.Manifests))
	}
	inner, err := idx.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := inner.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("containerDisk image has %d layers (%v)", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "disk/disk.qcow2" {
			continue
		}
		found = true
		if h.Uid != 107 || h.Gid != 107 {
			t.Errorf("disk/disk.qcow2 owned by %d:%d, want 107:107", h.Uid, h.Gid)
		}
		hs := sha256.New()
		if _, err := io.Copy(hs, tr); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(hs.Sum(nil)); got != wantSHA {
			t.Errorf("containerDisk disk sha256 %s, the vm: output is %s", got, wantSHA)
		}
	}
	if !found {
		t.Fatal("containerDisk layer has no disk/disk.qcow2")
	}
}

// TestVMDataMount boots a disk whose recipe mounts a data file at run time: the VM gets
// it as a 9p share (the qemu arguments REPRODUCE.md gives) linked at the data path.
func TestVMDataMount(t *testing.T) {
	qemu, firmware := vmTools(t)
	base := vmBase(t)
	ws := vmWorkspace(t)
	dir := filepath.Join(ws, "vm")
	share := t.TempDir()
	greeting := "greetings from mounted data\n"
	if err := os.WriteFile(filepath.Join(share, "greeting.txt"), []byte(greeting), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(greeting))
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), `entrypoint = ["/opt/env/bin/hello-py"]`, `entrypoint = ["/bin/sh", "-c", "cat /data/greeting.txt"]`, 1)
	s += "\ndata \"greeting\" {\n  url    = \"file://" + filepath.Join(share, "greeting.txt") + "\"\n  sha256 = \"" + hex.EncodeToString(sum[:]) + "\"\n  path   = \"/data/greeting.txt\"\n  mode   = \"mount\"\n}\n"
	if err := os.WriteFile(recipe, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	disk := filepath.Join(t.TempDir(), "vm.qcow2")
	mustRun(t, o, "image", "-f", "reprobuild.hcl", "--offline", "--var", "base="+base, "--output", "vm:"+disk)
	rep, err := os.ReadFile(disk + ".reprobuild/REPRODUCE.md")
	if err != nil || !strings.Contains(string(rep), "mount_tag="+vmdisk.MountTag(0)) {
		t.Fatalf("REPRODUCE.md does not give the -virtfs argument (%v):\n%s", err, rep)
	}
	args := []string{"-machine", "q35,accel=tcg", "-m", "1024", "-smp", "1", "-bios", firmware, "-nographic", "-no-reboot",
		"-nodefaults", "-serial", "stdio", "-drive", "file=" + disk + ",if=virtio,format=qcow2,snapshot=on"}
	args = append(args, vmdisk.QemuMountArgs(0, share)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, qemu, args...).CombinedOutput()
	console := strings.ReplaceAll(string(out), "\r", "")
	if err != nil {
		t.Fatalf("qemu: %v\n%s", err, console)
	}
	if !strings.Contains(console, "\n"+greeting+"reprobuild: exit status 0") {
		t.Fatalf("the entry point did not print the mounted file then exit 0:\n%s", console)
	}
}
