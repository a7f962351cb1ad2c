package sif

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apptainer/sif/v2/pkg/sif"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/uuid"

	"github.com/reprobuild/reprobuild/internal/runc"
)

// Object is a metadata object stored beside the file system.
type Object struct {
	Name string
	Data []byte
	// SBOM is the SBOM format of Data, or 0 for generic JSON.
	SBOM sif.SBOMFormat
}

// Options configure Write.
type Options struct {
	// Mksquashfs is the mksquashfs binary (squashfs-tools >= 4.4).
	Mksquashfs string
	// Owners keeps the image's file owners (the caller is root); otherwise every file
	// is owned by root, as Apptainer's unprivileged builds do.
	Owners bool
	// TempDir holds the unpacked tree while the file system is made.
	TempDir string
	// Objects are stored as metadata (the runtime record, SBOMs).
	Objects []Object
}

// Apptainer's conventional paths inside the file system.
const (
	runscriptPath = ".singularity.d/runscript"
	envPath       = ".singularity.d/env/10-docker2singularity.sh"
)

// Write writes img as a SIF file at dest. Nothing is left at dest unless the whole file
// was written.
func Write(ctx context.Context, img v1.Image, dest string, o Options) error {
	if o.Mksquashfs == "" {
		return fmt.Errorf("writing %s: mksquashfs is not installed: install squashfs-tools (Debian: apt-get install squashfs-tools)", dest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	epoch := cf.Created.Time.UTC()
	if epoch.Unix() < 0 || epoch.Unix() > 1<<32-1 {
		return fmt.Errorf("writing %s: the image's creation time %s does not fit a squashfs time stamp", dest, epoch)
	}
	work, err := os.MkdirTemp(o.TempDir, "reprobuild-sif-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rootfs := filepath.Join(work, "rootfs")
	entries, err := runc.Unpack(img, rootfs, runc.UnpackOptions{Owners: o.Owners})
	if err != nil {
		return err
	}
	extra, err := apptainerFiles(rootfs, cf.Config)
	if err != nil {
		return err
	}
	pseudo := pseudoFile(entries, extra, o.Owners)
	pf := filepath.Join(work, "pseudo")
	if err := os.WriteFile(pf, pseudo, 0o644); err != nil {
		return err
	}
	squash := filepath.Join(work, "rootfs.squashfs")
	ts := strconv.FormatInt(epoch.Unix(), 10)
	args := []string{rootfs, squash, "-noappend", "-no-xattrs", "-no-progress", "-quiet",
		"-all-time", ts, "-mkfs-time", ts, "-root-mode", "755", "-root-uid", "0", "-root-gid", "0", "-pf", pf}
	if !o.Owners {
		args = append(args, "-all-root")
	}
	cmd := exec.CommandContext(ctx, o.Mksquashfs, args...)
	// mksquashfs reads SOURCE_DATE_EPOCH, which conflicts with -all-time: give it a
	// clean environment so the caller's cannot change the file system.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mksquashfs for %s: %v\n%s", dest, err, out)
	}
	fsFile, err := os.Open(squash)
	if err != nil {
		return err
	}
	defer fsFile.Close()
	opts := []sif.DescriptorInputOpt{sif.OptObjectTime(epoch)}
	part, err := sif.NewDescriptorInput(sif.DataPartition, fsFile, append(opts, sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, cf.Architecture))...)
	if err != nil {
		return err
	}
	dis := []sif.DescriptorInput{part}
	for _, ob := range o.Objects {
		var di sif.DescriptorInput
		if ob.SBOM != 0 {
			di, err = sif.NewDescriptorInput(sif.DataSBOM, bytes.NewReader(ob.Data), append(opts, sif.OptObjectName(ob.Name), sif.OptSBOMMetadata(ob.SBOM))...)
		} else {
			di, err = sif.NewDescriptorInput(sif.DataGenericJSON, bytes.NewReader(ob.Data), append(opts, sif.OptObjectName(ob.Name))...)
		}
		if err != nil {
			return fmt.Errorf("SIF object %s: %w", ob.Name, err)
		}
		dis = append(dis, di)
	}
	tmp := dest + ".partial"
	os.Remove(tmp)
	// The id is a name-based UUID of the image digest: the same image, the same file.
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://reprobuild.dev/sif/"+digest.String()))
	fi, err := sif.CreateContainerAtPath(tmp,
		sif.OptCreateWithID(id.String()), sif.OptCreateWithTime(epoch),
		sif.OptCreateWithDescriptors(dis...))
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := fi.UnloadContainer(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// apptainerFiles adds what `apptainer run` reads to the root file system: a run script
// that executes the image's entrypoint and cmd, and the image's environment. It returns
// the paths it added, relative to the root.
func apptainerFiles(rootfs string, cfg v1.Config) ([]string, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var run strings.Builder
	run.WriteString("#!/bin/sh\n# Written by reprobuild: runs the image's entrypoint and cmd.\n")
	args := slices.Concat(cfg.Entrypoint, cfg.Cmd)
	if cfg.WorkingDir != "" {
		// The workdir may not exist in a read-only image; Apptainer's --pwd wins anyway.
		fmt.Fprintf(&run, "cd %s 2>/dev/null || :\n", shellQuote(cfg.WorkingDir))
	}
	switch {
	case len(cfg.Entrypoint) > 0:
		run.WriteString("if [ $# -gt 0 ]; then exec")
		for _, a := range cfg.Entrypoint {
			run.WriteString(" " + shellQuote(a))
		}
		run.WriteString(" \"$@\"; fi\n")
		fallthrough
	default:
		if len(args) == 0 {
			run.WriteString("exec /bin/sh \"$@\"\n")
			break
		}
		run.WriteString("if [ $# -gt 0 ]; then exec \"$@\"; fi\nexec")
		for _, a := range args {
			run.WriteString(" " + shellQuote(a))
		}
		run.WriteString("\n")
	}
	var env strings.Builder
	env.WriteString("#!/bin/sh\n# Written by reprobuild: the image's environment.\n")
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, " \t\n=;'\"$`\\") {
			continue
		}
		fmt.Fprintf(&env, "export %s=%s\n", k, shellQuote(v))
	}
	files := []struct {
		path string
		data string
	}{{runscriptPath, run.String()}, {envPath, env.String()}}
	added := []string{".singularity.d", ".singularity.d/env"}
	if _, err := root.Lstat(".singularity.d"); err == nil {
		return nil, fmt.Errorf("the image already has /.singularity.d: it cannot also get reprobuild's")
	}
	if err := root.MkdirAll(".singularity.d/env", 0o755); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := root.WriteFile(f.path, []byte(f.data), 0o755); err != nil {
			return nil, err
		}
		added = append(added, f.path)
	}
	return added, nil
}

// pseudoFile pins the mode (and owner, when kept) of every directory and file with
// mksquashfs "m" (modify) definitions, so the umask and owner of the unpacked copy never
// reach the file system. Symbolic links are always 0777.
func pseudoFile(entries []runc.Entry, extra []string, owners bool) []byte {
	var b bytes.Buffer
	line := func(p string, mode fs.FileMode, uid, gid int) {
		fmt.Fprintf(&b, "%s m %o %d %d\n", pseudoName(p), unixMode(mode), uid, gid)
	}
	for _, e := range entries {
		if e.Type == '2' || e.Type == '1' { // symlink, hard link (its target is listed)
			continue
		}
		uid, gid := e.UID, e.GID
		if !owners {
			uid, gid = 0, 0
		}
		line(e.Path, e.Mode, uid, gid)
	}
	for _, p := range extra {
		line(p, 0o755, 0, 0)
	}
	return b.Bytes()
}

func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// pseudoName quotes a path for a pseudo file definition when it has blanks or quotes.
func pseudoName(p string) string {
	if !strings.ContainsAny(p, " \t\"\\") {
		return p
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(p) + `"`
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Record reads the generic JSON object named name from a SIF file, or nil.
func Record(path, name string) ([]byte, error) {
	f, err := sif.LoadContainerFromPath(path, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		return nil, err
	}
	defer f.UnloadContainer()
	ds, err := f.GetDescriptors(sif.WithDataType(sif.DataGenericJSON))
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Name() != name {
			continue
		}
		b, err := d.GetData()
		if err != nil {
			return nil, err
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("%s: object %s is not JSON", path, name)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s has no metadata object %s", path, name)
}
