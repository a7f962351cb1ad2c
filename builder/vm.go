package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/record"
	"github.com/reprobuild/reprobuild/internal/vmdisk"
	"github.com/reprobuild/reprobuild/recipes"
)

// vmPlatform is the only target a VM disk is built for (UEFI x86-64, virtio).
const vmPlatform = "linux-64"

// writeVM writes the VM disk output (--output vm:PATH.qcow2 or vm:PATH.raw) from the
// built image of the linux-64 target: its flattened file system, its config and its
// runtime record. Nothing is left at dest when it fails.
func writeVM(ctx context.Context, r *recipes.Recipe, res *ImageResult, o ImageOptions, dest string) error {
	format := ""
	switch strings.ToLower(filepath.Ext(dest)) {
	case ".qcow2":
		format = "qcow2"
	case ".raw", ".img":
		format = "raw"
	default:
		return fmt.Errorf("--output vm:%s: the path must end in .qcow2 or .raw (the disk format)", dest)
	}
	i := -1
	for j, p := range res.Platforms {
		if p.Platform == vmPlatform {
			i = j
		}
	}
	if i < 0 {
		var ps []string
		for _, p := range res.Platforms {
			ps = append(ps, p.Platform)
		}
		return fmt.Errorf("--output vm:%s: VM disks are built for a %s target (UEFI x86-64); %s targets %s: add %q to platform.targets", dest, vmPlatform, r.Filename, strings.Join(ps, ", "), vmPlatform)
	}
	img := res.Image
	if res.Index != nil {
		h, err := v1.NewHash(res.Platforms[i].Digest)
		if err != nil {
			return err
		}
		if img, err = res.Index.Image(h); err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	rr := res.Records[i]
	rec, err := rr.JSON()
	if err != nil {
		return err
	}
	vm := r.VM
	if vm == nil {
		vm = &recipes.VM{OnExit: recipes.DefaultVMOnExit}
	}
	opts := vmdisk.Options{
		Name: r.Image.Name, LockHash: rr.LockHash, Epoch: cf.Created.Time.UTC(),
		Size: vm.Size, KernelPath: vm.Kernel, Cmdline: vm.Cmdline, OnExit: vm.OnExit,
		Runtime: vmdisk.Runtime{
			Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env,
			Workdir: cf.Config.WorkingDir, User: cf.Config.User,
		},
		Record: rec, Format: format,
	}
	for _, d := range r.Data {
		if d.Mode == "mount" {
			opts.Mounts = append(opts.Mounts, vmdisk.Mount{Name: d.Name, Path: path.Clean(d.Path), SHA256: d.SHA256})
		}
	}
	if vm.KernelURL != "" {
		client, err := NewChannelClient(o.Channel)
		if err != nil {
			return err
		}
		paths, err := client.Fetch(ctx, []channel.Download{{
			Record:   conda.PackageRecord{Name: "vm-kernel", Fn: path.Base(vm.KernelURL), URL: vm.KernelURL, SHA256: vm.KernelSHA256},
			Location: r.ResolveURL(vm.KernelURL),
		}})
		if err != nil {
			return fmt.Errorf("vm kernel_url %s: %w", vm.KernelURL, err)
		}
		if opts.Kernel, err = os.ReadFile(paths[0]); err != nil {
			return fmt.Errorf("vm kernel_url %s: %w", vm.KernelURL, err)
		}
	}
	tree, err := os.MkdirTemp(filepath.Dir(dest), ".reprobuild-vm-tree-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	fsTar := mutate.Extract(img)
	err = vmdisk.ExtractTree(fsTar, tree)
	if cerr := fsTar.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--output vm:%s: %w", dest, err)
	}
	if _, err := vmdisk.Build(ctx, tree, dest, opts); err != nil {
		return fmt.Errorf("--output vm:%s: %w", dest, err)
	}
	return nil
}

// SourceDisk says Inspect read the record from a VM disk's EFI partition.
const SourceDisk = "disk"

// inspectVM reads the runtime record from a VM disk (raw or qcow2) itself; Digest is the
// sha256 of the disk file.
func inspectVM(ref, p string) (*Inspection, error) {
	data, at, err := vmdisk.ReadRecordAt(p)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	rr, err := record.ParseRuntime(data)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %s: %w", ref, vmdisk.RecordPath, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	return &Inspection{Ref: ref, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Record: rr, Source: SourceDisk, RecordPath: at}, nil
}

// verifyVM rebuilds the VM disk output from the lock into a temporary directory beside
// the disk and compares the bytes with the disk at p (same format, from its suffix).
func verifyVM(ctx context.Context, o VerifyOptions, p string) (*VerifyResult, error) {
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("verify vm:%s: %w", p, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(p), ".reprobuild-verify-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rebuilt := filepath.Join(tmp, "rebuilt"+filepath.Ext(p))
	if _, err := Image(ctx, ImageOptions{
		Recipe: o.Recipe, Vars: o.Vars, Locked: true, Epoch: o.Epoch, LayerBudget: o.LayerBudget,
		Channel: o.Channel, Keychain: o.Keychain, Output: "vm:" + rebuilt,
	}); err != nil {
		return nil, err
	}
	a, b, off, err := compareFiles(rebuilt, p)
	if err != nil {
		return nil, fmt.Errorf("verify vm:%s: %w", p, err)
	}
	res := &VerifyResult{Rebuilt: a, Expected: b, Match: off < 0}
	if !res.Match {
		res.Difference = fmt.Sprintf("the disks first differ at byte %d", off)
		return res, &MismatchError{Result: res}
	}
	return res, nil
}

// compareFiles returns the sha256 digests of two files and the offset of their first
// differing byte (-1 when they are equal).
func compareFiles(x, y string) (string, string, int64, error) {
	fx, err := os.Open(x)
	if err != nil {
		return "", "", 0, err
	}
	defer fx.Close()
	fy, err := os.Open(y)
	if err != nil {
		return "", "", 0, err
	}
	defer fy.Close()
	hx, hy := sha256.New(), sha256.New()
	bx, by := make([]byte, 1<<20), make([]byte, 1<<20)
	var pos int64
	first := int64(-1)
	for {
		nx, ex := io.ReadFull(fx, bx)
		ny, ey := io.ReadFull(fy, by)
		hx.Write(bx[:nx])
		hy.Write(by[:ny])
		if first < 0 {
			for i := 0; i < min(nx, ny); i++ {
				if bx[i] != by[i] {
					first = pos + int64(i)
					break
				}
			}
			if first < 0 && nx != ny {
				first = pos + int64(min(nx, ny))
			}
		}
		pos += int64(max(nx, ny))
		doneX := ex == io.EOF || ex == io.ErrUnexpectedEOF
		doneY := ey == io.EOF || ey == io.ErrUnexpectedEOF
		if ex != nil && !doneX {
			return "", "", 0, ex
		}
		if ey != nil && !doneY {
			return "", "", 0, ey
		}
		if doneX && doneY {
			break
		}
	}
	return "sha256:" + hex.EncodeToString(hx.Sum(nil)), "sha256:" + hex.EncodeToString(hy.Sum(nil)), first, nil
}

// appendVMReproduce adds how to boot the disk to REPRODUCE.md in the docs directory.
func appendVMReproduce(docs, dest string, r *recipes.Recipe) error {
	var mounts, notes strings.Builder
	i := 0
	for _, d := range r.Data {
		if d.Mode != "mount" {
			continue
		}
		args := vmdisk.QemuMountArgs(i, "DIR_"+strings.ToUpper(strings.ReplaceAll(d.Name, "-", "_")))
		fmt.Fprintf(&mounts, " \\\n  %s %s", args[0], args[1])
		fmt.Fprintf(&notes, "- data %q: DIR_%s is a directory holding %s (sha256 %s); the VM links it at %s.\n",
			d.Name, strings.ToUpper(strings.ReplaceAll(d.Name, "-", "_")), path.Base(d.Path), d.SHA256, d.Path)
		i++
	}
	if notes.Len() > 0 {
		notes.WriteString("\n")
	}
	format := "raw"
	if strings.EqualFold(filepath.Ext(dest), ".qcow2") {
		format = "qcow2"
	}
	text := "\n## Boot the VM disk\n\n" +
		"The disk boots by itself with UEFI firmware (no -kernel), runs the entrypoint, prints\n" +
		"`reprobuild: exit status N` on the serial console and powers off. With Debian 12's\n" +
		"qemu-system-x86 and ovmf:\n\n" +
		"```\nqemu-system-x86_64 -machine q35 -m 1024 -nographic -bios /usr/share/ovmf/OVMF.fd \\\n" +
		"  -drive file=" + filepath.Base(dest) + ",if=virtio,format=" + format + ",snapshot=on" + mounts.String() + "\n```\n\n" + notes.String() +
		"Add `-accel kvm` where KVM works. `reprobuild inspect vm:" + filepath.Base(dest) + "` reads the runtime\n" +
		"record from the disk; `reprobuild verify -f RECIPE vm:" + filepath.Base(dest) + "` rebuilds it and compares bytes.\n"
	f, err := os.OpenFile(filepath.Join(docs, "REPRODUCE.md"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
