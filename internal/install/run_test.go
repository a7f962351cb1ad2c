package install_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
)

// TestRunInstalled installs generated packages with WriteTree and runs what they
// install with real interpreters: a noarch python entry point under the machine's
// python3, and a shell script whose text placeholder was replaced.
func TestRunInstalled(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	out, err := exec.Command(py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatal(err)
	}
	pyver := strings.TrimSpace(string(out))
	dir := t.TempDir()
	pkgs := []pkgmaker.Package{
		{
			Record: conda.PackageRecord{Name: "greet", Version: "1.0", Build: "py_0", Noarch: "python"},
			Files: []pkgmaker.File{{Path: "site-packages/greet/cli.py", Data: []byte(
				"import sys\n\ndef main():\n    print('greet ' + ' '.join(sys.argv[1:]))\n    return 3\n")}},
			EntryPoints: []string{"greet = greet.cli:main"},
		},
		{
			Record: conda.PackageRecord{Name: "where", Version: "1.0", Build: "0", Subdir: "linux-64"},
			Files: []pkgmaker.File{{Path: "bin/where", Mode: 0o755, Placeholder: buildPrefix,
				Data: []byte("#!/bin/sh\necho \"prefix=" + buildPrefix + "\"\n")}},
		},
	}
	if err := pkgmaker.WriteChannel(filepath.Join(dir, "channel"), pkgs, pkgmaker.Conda); err != nil {
		t.Fatal(err)
	}
	var ps []install.Package
	for _, p := range []string{"noarch/greet-1.0-py_0.conda", "linux-64/where-1.0-0.conda"} {
		ps = append(ps, install.Package{Archive: filepath.Join(dir, "channel", p)})
	}
	trees, _, err := install.LinkAll(context.Background(), ps, install.Options{Prefix: "/opt/env", PythonVersion: pyver})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := install.WriteTree(root, trees); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(root, "opt/env")
	cmd := exec.Command(py, filepath.Join(env, "bin/greet"), "a", "b")
	cmd.Env = []string{"PYTHONPATH=" + filepath.Join(env, "lib/python"+pyver, "site-packages"), "PATH=/usr/bin:/bin"}
	got, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("entry point: err = %v, want exit status 3 (the function's return value)", err)
	}
	if string(got) != "greet a b\n" {
		t.Errorf("entry point printed %q", got)
	}
	got, err = exec.Command(filepath.Join(env, "bin/where")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "prefix=/opt/env\n" {
		t.Errorf("script printed %q, want the new prefix", got)
	}
}
