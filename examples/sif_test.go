package examples

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apptainer/sif/v2/pkg/sif"
	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// TestSIFOutput builds the quickstart as a SIF file in two workspaces with different
// umasks, time zones and SOURCE_DATE_EPOCH unset: the same sha256. Read back with the
// sif library it has a squashfs system partition for amd64 and the runtime record and
// SBOMs as objects; unsquashfs (squashfs-tools) extracts a tree equal to the OCI image's
// plus Apptainer's /.singularity.d, whose run script runs the image's program in runc.
func TestSIFOutput(t *testing.T) {
	testutil.RequireRoot(t)
	unsquashfs := testutil.RequireBinary(t, "unsquashfs", "REPROBUILD_UNSQUASHFS")
	testutil.RequireBinary(t, "mksquashfs", "REPROBUILD_MKSQUASHFS")
	var sums []string
	var sifPath, wsDir string
	for i, env := range [][]string{{"TZ=UTC"}, {"TZ=Asia/Kathmandu", "GOMAXPROCS=1"}} {
		ws := workspace(t)
		o := runOpts{dir: filepath.Join(ws, "quickstart"), env: append(env, "REPROBUILD_CACHE="+t.TempDir()), umask: []string{"022", "077"}[i]}
		p := filepath.Join(t.TempDir(), "quickstart.sif")
		mustRun(t, o, "image", "-f", "reprobuild.hcl", "--offline", "--output", "sif:"+p)
		sums = append(sums, fileSHA256(t, p))
		sifPath, wsDir = p, ws
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds of the SIF differ: %s and %s", sums[0], sums[1])
	}
	t.Logf("quickstart.sif sha256 %s", sums[0])

	f, err := sif.LoadContainerFromPath(sifPath, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		t.Fatalf("the sif library cannot load the file: %v", err)
	}
	defer f.UnloadContainer()
	part, err := f.GetDescriptor(sif.WithPartitionType(sif.PartPrimSys))
	if err != nil {
		t.Fatalf("no primary system partition: %v", err)
	}
	fsType, partType, arch, err := part.PartitionMetadata()
	if err != nil || fsType != sif.FsSquash || partType != sif.PartPrimSys || arch != "amd64" {
		t.Fatalf("partition metadata %v %v %q %v, want squashfs, system, amd64", fsType, partType, arch, err)
	}
	if got := f.PrimaryArch(); got != "amd64" {
		t.Errorf("header architecture %q, want amd64", got)
	}
	objs, err := f.GetDescriptors(sif.WithDataType(sif.DataGenericJSON))
	if err != nil || len(objs) != 1 || objs[0].Name() != "runtime.json" {
		t.Fatalf("generic JSON objects %v (%v), want runtime.json", objs, err)
	}
	var rec struct {
		LockHash string `json:"lock_hash"`
		Packages []struct{ Name string }
	}
	b, _ := objs[0].GetData()
	if err := json.Unmarshal(b, &rec); err != nil || rec.LockHash == "" || len(rec.Packages) != 3 {
		t.Errorf("runtime.json in the SIF: %v %+v", err, rec)
	}
	sboms, err := f.GetDescriptors(sif.WithDataType(sif.DataSBOM))
	if err != nil || len(sboms) != 2 {
		t.Errorf("SBOM objects: %d (%v), want SPDX and CycloneDX", len(sboms), err)
	}

	sq := filepath.Join(t.TempDir(), "rootfs.squashfs")
	if err := os.WriteFile(sq, mustData(t, part), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	os.MkdirAll(bundle, 0o755)
	rootfs := filepath.Join(bundle, "rootfs")
	if out, err := exec.Command(unsquashfs, "-no-xattrs", "-d", rootfs, sq).CombinedOutput(); err != nil {
		t.Fatalf("unsquashfs: %v\n%s", err, out)
	}
	got, err := testutil.TreeFromDir(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	var apptainer []testutil.TreeEntry
	var rest []testutil.TreeEntry
	for _, e := range got {
		if strings.HasPrefix(e.Path, ".singularity.d") {
			apptainer = append(apptainer, e)
		} else {
			rest = append(rest, e)
		}
	}
	oci := filepath.Join(t.TempDir(), "oci")
	buildImage(t, runOpts{dir: filepath.Join(wsDir, "quickstart"), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}, "reprobuild.hcl", oci)
	want, err := testutil.TreeFromImage(testutil.LayoutImage(t, oci))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, rest); d != "" {
		t.Errorf("the SIF's tree differs from the OCI image's (-oci +sif):\n%s", d)
	}
	if len(apptainer) != 4 {
		t.Errorf("/.singularity.d holds %v, want the run script and environment", apptainer)
	}
	// The run script is what `apptainer run` executes.
	out := runcRun(t, rootfs, []string{"PATH=/bin"}, "/bin/sh", "-c", ". /.singularity.d/env/10-docker2singularity.sh && /bin/sh /.singularity.d/runscript && echo $LANG")
	if want := "hello from reprobuild, installed in /opt/env\nC.UTF-8\n"; out != want {
		t.Errorf("the run script printed %q, want %q", out, want)
	}
}

func mustData(t *testing.T, d sif.Descriptor) []byte {
	t.Helper()
	b, err := d.GetData()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSIFUnprivileged builds the quickstart SIF as root and as an unprivileged user
// (setpriv to 65534): the same bytes, so neither the building user nor its umask reaches
// the file (the quickstart's files are all root's, which unprivileged builds assume).
func TestSIFUnprivileged(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "mksquashfs", "REPROBUILD_MKSQUASHFS")
	setpriv := testutil.RequireBinary(t, "setpriv", "")
	var sums []string
	for _, nobody := range []bool{false, true} {
		base := quickstartBase(t, "reprobuild-sif-user-", nobody)
		out := filepath.Join(base, "quickstart.sif")
		args := []string{cli, "image", "-f", "reprobuild.hcl", "--offline", "--output", "sif:" + out}
		if nobody {
			args = asNobody(setpriv, args...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = filepath.Join(base, "examples", "quickstart")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + base, "REPROBUILD_CACHE=" + filepath.Join(base, "cache")}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("image --output sif (unprivileged %v): %v\n%s", nobody, err, b)
		}
		sums = append(sums, fileSHA256(t, out))
	}
	if sums[0] != sums[1] {
		t.Errorf("the SIF built as root (%s) differs from the one built unprivileged (%s)", sums[0], sums[1])
	}
}
