package examples

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

// runCLI runs the CLI like run does but returns stdout, stderr and the exit status
// instead of failing on a non-zero one.
func runCLI(t *testing.T, o runOpts, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Dir = o.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// addMount appends a mount data block to a recipe.
func addMount(t *testing.T, recipe, name, dest, source string) {
	t.Helper()
	block := "\ndata \"" + name + "\" {\n  url    = \"https://example.org/" + name + "\"\n" +
		"  sha256 = \"" + strings.Repeat("ab", 32) + "\"\n  path   = \"" + dest + "\"\n  mode   = \"mount\"\n"
	if source != "" {
		block += "  source = \"" + source + "\"\n"
	}
	block += "}\n"
	f, err := os.OpenFile(recipe, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(block); err != nil {
		t.Fatal(err)
	}
}

func requireRunc(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	return testutil.RequireBinary(t, "runc", "REPROBUILD_RUNC")
}

// TestRunQuickstart runs the quickstart image with `reprobuild run`: the image's cmd,
// a command after --, a mount read through the recipe's host: source and through --data,
// a non-zero exit status propagated, and a missing source refused before anything runs.
func TestRunQuickstart(t *testing.T) {
	runcBin := requireRunc(t)
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	runc := "--runc=" + runcBin

	out, errOut, code := runCLI(t, o, "run", "--offline", runc)
	if code != 0 || out != "hello from reprobuild, installed in /opt/env\n" {
		t.Fatalf("run: status %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	if err := os.MkdirAll(filepath.Join(dir, "inputs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inputs", "msg.txt"), []byte("mounted data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addMount(t, filepath.Join(dir, "reprobuild.hcl"), "inputs", "/data/inputs", "host:inputs")
	out, errOut, code = runCLI(t, o, "run", "--offline", runc, "--", "/bin/sh", "-c", "cat /data/inputs/msg.txt; pwd; exit 3")
	if code != 3 {
		t.Fatalf("run exit 3: status %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if out != "mounted data\n/work\n" {
		t.Fatalf("run printed %q, want the mounted file and the recipe's workdir", out)
	}
	if !strings.Contains(errOut, "exited with status 3") {
		t.Errorf("stderr does not say the status: %q", errOut)
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "msg.txt"), []byte("from --data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, o, "run", "--offline", runc, "--data", "inputs="+other, "--", "/bin/cat", "/data/inputs/msg.txt")
	if code != 0 || out != "from --data\n" {
		t.Fatalf("run --data: status %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	// A missing source is refused before anything is built or run.
	addMount(t, filepath.Join(dir, "reprobuild.hcl"), "weights", "/data/weights", "")
	out, errOut, code = runCLI(t, o, "run", "--offline", runc)
	if code == 0 || out != "" {
		t.Fatalf("a mount without a source ran: status %d, stdout %q", code, out)
	}
	first, _, _ := strings.Cut(errOut, "\n")
	if !strings.Contains(first, `data "weights"`) || !strings.Contains(first, "--data weights=HOSTPATH") {
		t.Errorf("error does not name the mount and the fix: %q", first)
	}
	out, errOut, code = runCLI(t, o, "run", "--offline", runc, "--data", "weights="+filepath.Join(other, "absent"))
	if code == 0 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("a missing --data path: status %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestRunDebianPython runs the Debian python example with `reprobuild run`: its entry
// point, and python reading a mounted file.
func TestRunDebianPython(t *testing.T) {
	runcBin := requireRunc(t)
	base := debianBase(t)
	ws := workspace(t)
	dir := filepath.Join(ws, "debian-python")
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	runc := "--runc=" + runcBin
	out, errOut, code := runCLI(t, o, "run", "--offline", runc, "--var", "base="+base)
	if code != 0 || out != "hello-py 0.2.0 on python 3.11\n" {
		t.Fatalf("run: status %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "n.txt"), []byte("41"), 0o644); err != nil {
		t.Fatal(err)
	}
	addMount(t, filepath.Join(dir, "reprobuild.hcl"), "numbers", "/data/numbers", "")
	script := "import sys, sample; print(int(open('/data/numbers/n.txt').read()) + 1); sys.exit(5)"
	out, errOut, code = runCLI(t, o, "run", "--offline", runc, "--var", "base="+base, "--data", "numbers="+data, "--entrypoint", "/usr/bin/python3", "--", "-c", script)
	if code != 5 || out != "42\n" {
		t.Fatalf("run python: status %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// TestGPURecipe: a recipe with hardware.cuda and gpus builds an image whose config and
// runtime record carry the NVIDIA runtime variables, and `run` without the NVIDIA
// container toolkit refuses it before running anything, saying what to install.
func TestGPURecipe(t *testing.T) {
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir()}}
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recipe, append(src, "\nhardware {\n  cuda = \"12.4\"\n  gpus = 2\n  cpus = 4\n}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "oci")
	buildImage(t, o, "reprobuild.hcl", out)
	cf, err := testutil.LayoutImage(t, out).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility", "NVIDIA_REQUIRE_CUDA=cuda>=12.4"} {
		if !slices.Contains(cf.Config.Env, want) {
			t.Errorf("image env %v lacks %s", cf.Config.Env, want)
		}
	}
	rec, err := os.ReadFile(out + ".reprobuild/runtime-linux-64.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec), `"NVIDIA_REQUIRE_CUDA": "cuda>=12.4"`) || !strings.Contains(string(rec), `"cpus": 4`) {
		t.Errorf("the runtime record does not list the GPU env and cpus:\n%s", rec)
	}
	if _, err := exec.LookPath("nvidia-container-runtime-hook"); err == nil {
		t.Skip("the NVIDIA container toolkit is installed here; the missing-hook error cannot be shown")
	}
	stdout, errOut, code := runCLI(t, o, "run", "--offline", "--", "/bin/sh", "-c", "echo ran")
	first, _, _ := strings.Cut(errOut, "\n")
	if code == 0 || stdout != "" || !strings.Contains(first, "nvidia-container-runtime-hook is not installed") || !strings.Contains(first, "nvidia-container-toolkit") {
		t.Errorf("GPU run without the toolkit: status %d, stdout %q, stderr %q", code, stdout, errOut)
	}
}

// quickstartBase copies the quickstart, its channel and its bases to base/examples in a
// fresh directory of the system's temporary directory (an unprivileged user cannot reach
// into t.TempDir) and returns base, removed when the test ends. With nobody, base is
// made 0755 and everything in it is given to 65534, so that user can build there.
func quickstartBase(t *testing.T, prefix string, nobody bool) string {
	t.Helper()
	base, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	for _, d := range []string{"channel", "bases", "quickstart"} {
		if err := os.CopyFS(filepath.Join(base, "examples", d), os.DirFS(d)); err != nil {
			t.Fatal(err)
		}
	}
	if !nobody {
		return base
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(base, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	return base
}

// asNobody is the command line args run as user and group 65534 with no supplementary
// groups, through setpriv.
func asNobody(setpriv string, args ...string) []string {
	return append([]string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, args...)
}

// TestRunRootless runs the quickstart with `reprobuild run` as an unprivileged user
// (setpriv to 65534): the rootless configuration (a user namespace mapping the image's
// root to that user) runs the image's program and propagates its exit status.
func TestRunRootless(t *testing.T) {
	runcBin := requireRunc(t)
	setpriv := testutil.RequireBinary(t, "setpriv", "")
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		testutil.Unavailable(t, "user namespaces are disabled here (max_user_namespaces %q, %v)", b, err)
	}
	base := quickstartBase(t, "reprobuild-rootless-", true)
	args := asNobody(setpriv, cli, "run", "--offline", "--runc="+runcBin, "--", "/bin/sh", "-c", "/opt/env/bin/hello-reprobuild; id -u; exit 4")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = filepath.Join(base, "examples", "quickstart")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + base, "TMPDIR=" + base, "REPROBUILD_CACHE=" + filepath.Join(base, "cache")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("rootless run: %v (want exit status 4)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if want := "hello from reprobuild, installed in /opt/env\n0\n"; stdout.String() != want {
		t.Errorf("rootless run printed %q, want %q (the image's root mapped to the caller)", stdout.String(), want)
	}
}

// TestRunGPUHook: a GPU recipe run where nvidia-container-runtime-hook is on PATH gets
// it wired into the runc configuration as the toolkit expects it (a createRuntime hook
// called with "prestart", where runc runs the deprecated prestart hooks), with the
// image's NVIDIA_* variables in the process env; the hook's own failure stops the run
// before the container's program starts, and its message reaches the user.
//
// Debian 12 packages no NVIDIA container toolkit (not in main, contrib or non-free) and
// this machine has no GPU, so the hook on PATH is a stand-in script: runc really calls
// it with the container state on stdin; it copies the bundle's config.json out and fails
// the way the real hook fails without a driver.
func TestRunGPUHook(t *testing.T) {
	runcBin := requireRunc(t)
	ws := workspace(t)
	dir := filepath.Join(ws, "quickstart")
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recipe, append(src, "\nhardware {\n  cuda = \"12.4\"\n  gpus = 1\n}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, seen := t.TempDir(), t.TempDir()
	hook := filepath.Join(bin, "nvidia-container-runtime-hook")
	script := "#!/bin/sh\n" +
		"state=$(cat)\n" +
		"bundle=$(printf '%s' \"$state\" | sed -n 's/.*\"bundle\": *\"\\([^\"]*\\)\".*/\\1/p')\n" +
		"cp \"$bundle/config.json\" " + seen + "/config.json\n" +
		"printf '%s\\n' \"$0\" \"$@\" > " + seen + "/args\n" +
		"echo 'nvidia-container-cli: initialization error: nvml error: driver not loaded' >&2\n" +
		"exit 1\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := runOpts{dir: dir, env: []string{"REPROBUILD_CACHE=" + t.TempDir(), "PATH=" + bin + ":" + os.Getenv("PATH")}}
	out, errOut, code := runCLI(t, o, "run", "--offline", "--runc="+runcBin, "--", "/bin/sh", "-c", "echo the container ran")
	if code == 0 || strings.Contains(out, "the container ran") {
		t.Fatalf("the run went on past a failing GPU hook: status %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "driver not loaded") {
		t.Errorf("the hook's error does not reach the user:\n%s", errOut)
	}
	args, err := os.ReadFile(filepath.Join(seen, "args"))
	if err != nil {
		t.Fatalf("runc never called the hook (%v); stderr:\n%s", err, errOut)
	}
	if string(args) != hook+"\nprestart\n" {
		t.Errorf("the hook was called as %q, want %q then prestart", args, hook)
	}
	b, err := os.ReadFile(filepath.Join(seen, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Process struct {
			Env []string `json:"env"`
		} `json:"process"`
		Hooks map[string][]struct {
			Path string   `json:"path"`
			Args []string `json:"args"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cr := cfg.Hooks["createRuntime"]
	if len(cr) != 1 || cr[0].Path != hook || len(cr[0].Args) != 2 || cr[0].Args[1] != "prestart" || len(cfg.Hooks) != 1 {
		t.Errorf("hooks %+v: want one createRuntime hook %s prestart", cfg.Hooks, hook)
	}
	for _, want := range []string{"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility", "NVIDIA_REQUIRE_CUDA=cuda>=12.4"} {
		if !slices.Contains(cfg.Process.Env, want) {
			t.Errorf("process env %v lacks %s (the hook reads it)", cfg.Process.Env, want)
		}
	}
}
