package examples

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/launch/kubecheck"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

var updateLaunch = flag.Bool("update-launch", false, "rewrite the launch golden files in testdata/launch")

// fixedImage pins the golden launch specs to a digest that does not depend on a push.
const fixedImage = "registry.example/lab/quickstart:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestLaunchKubernetesGolden writes the Job of each golden example (the committed locks)
// through the CLI: it decodes strictly, validates against the API schema and equals the
// committed manifest.
func TestLaunchKubernetesGolden(t *testing.T) {
	for _, ex := range goldenExamples {
		t.Run(ex, func(t *testing.T) {
			ws := workspace(t)
			o := runOpts{dir: filepath.Join(ws, ex), env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
			got := []byte(mustRun(t, o, "launch", "--to", "kubernetes", "--image", fixedImage))
			if _, err := kubecheck.Check(got); err != nil {
				t.Fatalf("the %s Job does not pass the API's checks: %v\n%s", ex, err, got)
			}
			p := filepath.Join("testdata", "launch", ex+"-job.yaml")
			if *updateLaunch {
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run go test -run TestLaunchKubernetesGolden -update-launch)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("the %s Job differs from %s (-want +got):\n%s", ex, p, d)
			}
		})
	}
}

// TestLaunchSlurmRunsQuickstart pushes the quickstart to a real registry, writes its
// sbatch script with launch (pinned to the last push), and runs it on a real one-node
// Slurm cluster whose OCI container support runs runc: the job's output file holds what
// the image's program printed, including a file of the host directory bound in.
func TestLaunchSlurmRunsQuickstart(t *testing.T) {
	testutil.RequireRoot(t)
	for _, b := range []string{"skopeo", "umoci", "sbatch"} {
		testutil.RequireBinary(t, b, "")
	}
	reg := testutil.StartRegistry(t)
	slurm := testutil.StartSlurm(t)
	ws := workspace(t)
	cache := t.TempDir()
	o := runOpts{dir: filepath.Join(ws, "quickstart"), env: []string{"REPROBUILD_CACHE=" + cache}}
	// The job reads a host directory bound in from the data block's source.
	inputs := t.TempDir()
	if err := os.WriteFile(filepath.Join(inputs, "msg.txt"), []byte("read from the node\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recipe := filepath.Join(ws, "quickstart", "reprobuild.hcl")
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `cmd     = ["/opt/env/bin/hello-reprobuild"]`,
		`cmd     = ["/bin/sh", "-c", "cat /data/in/msg.txt && exec /opt/env/bin/hello-reprobuild"]`, 1)
	if edited == string(src) {
		t.Fatal("the quickstart recipe's cmd line changed: update this test")
	}
	if err := os.WriteFile(recipe, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	addMount(t, recipe, "in", "/data/in", "host:"+inputs)
	ref := reg.Host() + "/lab/quickstart:1"
	digest := strings.TrimSpace(mustRun(t, o, "image", "--offline", "--push", "--tag", ref))
	out := t.TempDir()
	script := strings.TrimSpace(mustRun(t, o, "launch", "--to", "slurm", "--out", out))
	text, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if want := "image=" + reg.Host() + "/lab/quickstart@" + digest + "\n"; !strings.Contains(string(text), want) {
		t.Fatalf("the script is not pinned to the pushed digest (want %q):\n%s", want, text)
	}
	jobOut := filepath.Join(out, "job.out")
	cmd := exec.Command("sbatch", "--wait", "--output", jobOut, script)
	cmd.Dir = out
	cmd.Env = append(os.Environ(), slurm.Env()...)
	res, err := cmd.CombinedOutput()
	got, _ := os.ReadFile(jobOut)
	if err != nil {
		t.Fatalf("sbatch --wait: %v\n%s\njob output:\n%s", err, res, got)
	}
	if want := "read from the node\nhello from reprobuild, installed in /opt/env\n"; string(got) != want {
		t.Fatalf("the job printed %q, want %q", got, want)
	}
}

// TestLaunchErrors: a lock never built, a lock never pushed, an unpinned --image, a GPU
// recipe to Slurm's OCI runtime and a mount without a source give one-line errors that
// say what to do.
func TestLaunchErrors(t *testing.T) {
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	check := func(name, want string, args ...string) {
		t.Helper()
		out, errOut, code := runCLI(t, o, args...)
		first, _, _ := strings.Cut(strings.TrimPrefix(errOut, "reprobuild: "), "\n")
		if code == 0 || out != "" || !strings.Contains(first, want) {
			t.Errorf("%s: status %d, stdout %q, first error line %q, want one containing %q", name, code, out, first, want)
		}
	}
	check("never pushed", "was never pushed from this machine", "launch", "--to", "kubernetes")
	check("unpinned image", "not pinned by digest", "launch", "--to", "kubernetes", "--image", "registry.example/lab/quickstart:1")
	check("unknown target", "want kubernetes, slurm or apptainer", "launch", "--to", "nomad", "--image", fixedImage)

	recipe := filepath.Join(dir, "reprobuild.hcl")
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	gpu := string(src) + "\nhardware {\n  cuda = \"12.4\"\n  gpus = 1\n}\n"
	if err := os.WriteFile(recipe, []byte(gpu), 0o644); err != nil {
		t.Fatal(err)
	}
	check("stale lock", "then build and push the image", "launch", "--to", "slurm", "--image", fixedImage)
	mustRun(t, o, "lock", "--offline")
	check("gpu to slurm oci", "use --runtime apptainer", "launch", "--to", "slurm", "--image", fixedImage)
	job := mustRun(t, o, "launch", "--to", "kubernetes", "--image", fixedImage)
	for _, want := range []string{"nvidia.com/gpu: \"1\"", "NVIDIA_REQUIRE_CUDA", "nvidia.com/cuda.runtime-version.major"} {
		if !strings.Contains(job, want) {
			t.Errorf("the GPU Job lacks %q:\n%s", want, job)
		}
	}
	line := mustRun(t, o, "launch", "--to", "apptainer", "--image", fixedImage)
	if !strings.HasPrefix(line, "apptainer run --nv ") {
		t.Errorf("apptainer line %q lacks --nv", line)
	}
	addMount(t, recipe, "weights", "/data/weights", "")
	mustRun(t, o, "lock", "--offline")
	check("mount without source", `data "weights" is a mount without a source`, "launch", "--to", "kubernetes", "--image", fixedImage)

	if err := os.Remove(filepath.Join(dir, "reprobuild.lock")); err != nil {
		t.Fatal(err)
	}
	check("never locked", "was never locked", "launch", "--to", "kubernetes")
}
