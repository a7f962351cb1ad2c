package wheel

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reprobuild/reprobuild/internal/pypi/pypitest"
)

var testScheme = Scheme{
	Purelib: "lib/python3.12/site-packages",
	Platlib: "lib/python3.12/site-packages",
	Scripts: "bin",
	Headers: "include/python3.12",
	Data:    "",
}

func install(t *testing.T, root string, name string, b []byte) (*Installed, error) {
	t.Helper()
	return Install(bytes.NewReader(b), int64(len(b)), name, Options{Root: root, Scheme: testScheme, Python: "/opt/env/bin/python3.12"})
}

// checkRecord verifies the RECORD an install wrote against the files on disk.
func checkRecord(t *testing.T, root string, inst *Installed) {
	t.Helper()
	recPath := filepath.Join(root, inst.DistInfo, "RECORD")
	f, err := os.Open(recPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(root, testScheme.Purelib)
	seen := 0
	for _, r := range rows {
		p := filepath.Join(lib, r[0])
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("RECORD lists %s: %v", r[0], err)
			continue
		}
		seen++
		if r[1] == "" {
			continue
		}
		sum := sha256.Sum256(b)
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); r[1] != want {
			t.Errorf("RECORD hash of %s = %s, file has %s", r[0], r[1], want)
		}
	}
	if seen != len(inst.Files) {
		t.Errorf("RECORD lists %d existing files, install wrote %d", seen, len(inst.Files))
	}
}

func TestInstallDebianWheel(t *testing.T) {
	b, err := os.ReadFile("../testdata/wheels/wheel-0.38.4-py3-none-any.whl")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	inst, err := install(t, root, "wheel-0.38.4-py3-none-any.whl", b)
	if err != nil {
		t.Fatal(err)
	}
	if inst.Name != "wheel" || inst.Version != "0.38.4" || len(inst.Files) < 20 {
		t.Fatalf("installed %+v", inst)
	}
	checkRecord(t, root, inst)
	got, _ := os.ReadFile(filepath.Join(root, inst.DistInfo, "INSTALLER"))
	if string(got) != "reprobuild\n" {
		t.Errorf("INSTALLER = %q", got)
	}
	script, err := os.ReadFile(filepath.Join(root, "bin", "wheel"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(script), "#!/opt/env/bin/python3.12\n") || !strings.Contains(string(script), "from wheel.cli import main") {
		t.Errorf("entry point script:\n%s", script)
	}
	if st, _ := os.Stat(filepath.Join(root, "bin", "wheel")); st.Mode().Perm() != 0o755 {
		t.Errorf("script mode %v", st.Mode())
	}
	// With a python on the machine, run the entry point's code and import the package.
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("no python3 on PATH: not running the entry point")
		return
	}
	cmd := exec.Command(py, filepath.Join(root, "bin", "wheel"), "version")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(root, testScheme.Purelib))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0.38.4") {
		t.Errorf("running the wheel entry point: %v\n%s", err, out)
	}
}

// TestInstallDebianWheels installs Debian's pip and setuptools wheels.
func TestInstallDebianWheels(t *testing.T) {
	dir := os.Getenv("REPROBUILD_PYTHON_WHEELS")
	if dir == "" {
		dir = "/usr/share/python-wheels"
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.whl"))
	var want []string
	for _, m := range matches {
		if b := filepath.Base(m); strings.HasPrefix(b, "pip-") || strings.HasPrefix(b, "setuptools-") {
			want = append(want, m)
		}
	}
	if len(want) < 2 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and Debian's pip and setuptools wheels are missing from %s (run .ci/pypi.sh)", dir)
		}
		t.Skipf("Debian's python3-pip-whl and python3-setuptools-whl are not installed in %s", dir)
	}
	root := t.TempDir()
	for _, m := range want {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := install(t, root, filepath.Base(m), b)
		if err != nil {
			t.Fatal(err)
		}
		checkRecord(t, root, inst)
		t.Logf("%s: %d files", filepath.Base(m), len(inst.Files))
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "pip3")); err != nil {
		t.Errorf("pip3 entry point: %v", err)
	}
}

func TestInstallDataAndScripts(t *testing.T) {
	w := pypitest.Wheel{Name: "My.Pkg", Version: "1.0", Tag: "cp312-cp312-manylinux_2_17_x86_64", NotPurelib: true,
		Scripts: map[string]string{"hello": "my_pkg.cli:main.run"},
		Files: map[string]string{
			"my_pkg/__init__.py":                     "",
			"My.Pkg-1.0.data/scripts/tool":           "#!python\nprint('tool')\n",
			"My.Pkg-1.0.data/scripts/shell":          "#!/bin/sh\necho hi\n",
			"My.Pkg-1.0.data/headers/api.h":          "int f(void);\n",
			"My.Pkg-1.0.data/data/share/doc/x.txt":   "doc\n",
			"My.Pkg-1.0.data/purelib/extra_mod.py":   "X = 1\n",
			"My.Pkg-1.0.data/platlib/my_pkg/_ext.so": "ELF",
		}}
	w.Name = "My.Pkg"
	b := w.Build()
	root := t.TempDir()
	inst, err := install(t, root, "my.pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", b)
	if err != nil {
		t.Fatal(err)
	}
	checkRecord(t, root, inst)
	for path, want := range map[string]string{
		"bin/tool":                        "#!/opt/env/bin/python3.12\nprint('tool')\n",
		"bin/shell":                       "#!/bin/sh\necho hi\n",
		"include/python3.12/My.Pkg/api.h": "int f(void);\n",
		"share/doc/x.txt":                 "doc\n",
		"lib/python3.12/site-packages/extra_mod.py":   "X = 1\n",
		"lib/python3.12/site-packages/my_pkg/_ext.so": "ELF",
	} {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	hello, _ := os.ReadFile(filepath.Join(root, "bin/hello"))
	if !strings.Contains(string(hello), "from my_pkg.cli import main\n") || !strings.Contains(string(hello), "sys.exit(main.run())") {
		t.Errorf("bin/hello:\n%s", hello)
	}
}

// TestInstallDeterministic installs the same wheel under different umasks and compares.
func TestInstallDeterministic(t *testing.T) {
	b, _ := os.ReadFile("../testdata/wheels/wheel-0.38.4-py3-none-any.whl")
	tree := func(umask int) string {
		root := t.TempDir()
		old := syscall.Umask(umask)
		defer syscall.Umask(old)
		if _, err := install(t, root, "wheel-0.38.4-py3-none-any.whl", b); err != nil {
			t.Fatal(err)
		}
		var s strings.Builder
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			st, _ := os.Lstat(p)
			rel, _ := filepath.Rel(root, p)
			body := []byte{}
			if st.Mode().IsRegular() {
				body, _ = os.ReadFile(p)
			}
			sum := sha256.Sum256(body)
			s.WriteString(rel + " " + st.Mode().String() + " " + base64.StdEncoding.EncodeToString(sum[:]) + "\n")
			return nil
		})
		return s.String()
	}
	if a, c := tree(0o022), tree(0o077); a != c {
		t.Errorf("trees differ with the umask:\n%s\n---\n%s", a, c)
	}
}

func TestInstallHostile(t *testing.T) {
	di := "evil-1.0.dist-info"
	base := []pypitest.Entry{
		{Name: di + "/METADATA", Body: "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"},
		{Name: di + "/WHEEL", Body: "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{Name: "evil/__init__.py", Body: "x = 1\n"},
	}
	with := func(extra ...pypitest.Entry) []pypitest.Entry {
		return append(append([]pypitest.Entry{}, base...), extra...)
	}
	cases := []struct {
		name     string
		zip      []byte
		wantErr  any
		contains string
	}{
		{"hash mismatch", pypitest.Zip(base, di+"/RECORD", map[string]string{
			"evil/__init__.py": pypitest.RecordLine("evil/__init__.py", "x = 2\n")}), &RecordError{}, "sha256 is"},
		{"size lie", pypitest.Zip(base, di+"/RECORD", map[string]string{
			"evil/__init__.py": strings.Replace(pypitest.RecordLine("evil/__init__.py", "x = 1\n"), ",6", ",7", 1)}), &RecordError{}, "size is 6"},
		{"unlisted file", pypitest.Zip(base, di+"/RECORD", map[string]string{"evil/__init__.py": ""}), &RecordError{}, "not listed in RECORD"},
		{"listed but missing", pypitest.Zip(base, di+"/RECORD", map[string]string{"evil/gone.py": pypitest.RecordLine("evil/gone.py", "")}), &RecordError{}, "missing from the archive"},
		{"md5", pypitest.Zip(base, di+"/RECORD", map[string]string{"evil/__init__.py": "evil/__init__.py,md5=abc,6"}), &RecordError{}, "sha256 or stronger"},
		{"traversal", pypitest.Zip(with(pypitest.Entry{Name: "../../etc/evil", Body: "x"}), di+"/RECORD", nil), &PathError{}, `".."`},
		{"nested traversal", pypitest.Zip(with(pypitest.Entry{Name: "evil/../../../x", Body: "x"}), di+"/RECORD", nil), &PathError{}, `".."`},
		{"absolute", pypitest.Zip(with(pypitest.Entry{Name: "/etc/passwd", Body: "x"}), di+"/RECORD", nil), &PathError{}, "absolute"},
		{"symlink", pypitest.Zip(with(pypitest.Entry{Name: "evil/link", Body: "/etc/passwd", Mode: 0o120777}), di+"/RECORD", nil), &PathError{}, "not a regular file"},
		{"data traversal", pypitest.Zip(with(pypitest.Entry{Name: "evil-1.0.data/data/../../../x", Body: "x"}), di+"/RECORD", nil), &PathError{}, `".."`},
		{"unknown scheme", pypitest.Zip(with(pypitest.Entry{Name: "evil-1.0.data/etc/x", Body: "x"}), di+"/RECORD", nil), &PathError{}, "unknown .data scheme"},
		{"record traversal", pypitest.Zip(base, di+"/RECORD", map[string]string{"../x": "../x,,"}), &PathError{}, `".."`},
		{"no RECORD", pypitest.Zip(base, "", nil), nil, "RECORD is missing"},
		{"bad entry point", pypitest.Zip(with(pypitest.Entry{Name: di + "/entry_points.txt", Body: "[console_scripts]\n../../x = a:b\n"}), di+"/RECORD", nil), nil, "entry point"},
		{"not a zip", []byte("<html>oops</html>"), nil, "not a zip archive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := install(t, root, "evil-1.0-py3-none-any.whl", c.zip)
			if err == nil {
				t.Fatal("installed a hostile wheel")
			}
			if !strings.Contains(err.Error(), c.contains) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not say %q on one line", err, c.contains)
			}
			switch c.wantErr.(type) {
			case *RecordError:
				var re *RecordError
				if !errors.As(err, &re) {
					t.Errorf("error %T, want *RecordError", err)
				}
			case *PathError:
				var pe *PathError
				if !errors.As(err, &pe) {
					t.Errorf("error %T, want *PathError", err)
				}
			}
			// Nothing may be left behind.
			entries, _ := os.ReadDir(root)
			if len(entries) != 0 {
				t.Errorf("left %d entries in the root after a failed install", len(entries))
			}
		})
	}
}

func TestInstallRefusesOverwriteAndEscapingSymlink(t *testing.T) {
	b := pypitest.Wheel{Name: "a", Version: "1"}.Build()
	root := t.TempDir()
	if _, err := install(t, root, "a-1-py3-none-any.whl", b); err != nil {
		t.Fatal(err)
	}
	_, err := install(t, root, "a-1-py3-none-any.whl", b)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second install: %v", err)
	}
	// The failed second install must not have removed the first one's files.
	if _, err := os.Stat(filepath.Join(root, testScheme.Purelib, "a", "__init__.py")); err != nil {
		t.Fatalf("first install damaged: %v", err)
	}
	root2 := t.TempDir()
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "lib", "python3.12"), 0o755)
	os.Symlink(outside, filepath.Join(root2, "lib", "python3.12", "site-packages"))
	_, err = install(t, root2, "a-1-py3-none-any.whl", b)
	var pe *PathError
	if !errors.As(err, &pe) {
		t.Fatalf("install through an escaping symlink: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote %d entries outside the root", len(entries))
	}
}

func TestParseMetadata(t *testing.T) {
	w := pypitest.Wheel{Name: "Foo_Bar", Version: "2.0rc1", RequiresPy: ">=3.8", Extras: []string{"Socks"},
		Requires: []string{"idna (>=2.5,<4)", "PySocks!=1.5.7,>=1.5.6; extra == 'socks'"}}
	m, err := ParseMetadata([]byte(w.Metadata()))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "Foo_Bar" || m.Version.String() != "2.0rc1" || len(m.RequiresDist) != 2 ||
		m.RequiresPython.String() != ">=3.8" || len(m.ProvidesExtra) != 1 || m.ProvidesExtra[0] != "socks" {
		t.Fatalf("%+v", m)
	}
	if m.RequiresDist[1].Marker.String() != `extra == "socks"` {
		t.Errorf("marker %q", m.RequiresDist[1].Marker)
	}
	if _, err := ParseMetadata([]byte("Version: 1\n")); err == nil {
		t.Error("metadata without Name accepted")
	}
}

// TestInstallFilesMatchesDisk checks the in-memory install against the disk one.
func TestInstallFilesMatchesDisk(t *testing.T) {
	b, _ := os.ReadFile("../testdata/wheels/wheel-0.38.4-py3-none-any.whl")
	root := t.TempDir()
	inst, err := install(t, root, "wheel-0.38.4-py3-none-any.whl", b)
	if err != nil {
		t.Fatal(err)
	}
	files, inst2, err := InstallFiles(bytes.NewReader(b), int64(len(b)), "wheel-0.38.4-py3-none-any.whl", Options{Scheme: testScheme, Python: "/opt/env/bin/python3.12"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(inst.Files) || inst2.DistInfo != inst.DistInfo {
		t.Fatalf("%d files in memory, %d on disk", len(files), len(inst.Files))
	}
	for i, f := range files {
		if f.Path != inst.Files[i] {
			t.Fatalf("file %d: %s vs %s", i, f.Path, inst.Files[i])
		}
		disk, err := os.ReadFile(filepath.Join(root, f.Path))
		st, _ := os.Stat(filepath.Join(root, f.Path))
		if err != nil || !bytes.Equal(disk, f.Data) || st.Mode().Perm() != f.Mode {
			t.Errorf("%s differs from the disk install (mode %v vs %v)", f.Path, f.Mode, st.Mode().Perm())
		}
	}
}

// FuzzInstall feeds arbitrary archives to the installer: it must never panic, and a
// failed install must leave the root empty.
func FuzzInstall(f *testing.F) {
	good, _ := os.ReadFile("../testdata/wheels/wheel-0.38.4-py3-none-any.whl")
	f.Add(good)
	f.Add(pypitest.Wheel{Name: "evil", Version: "1.0", Scripts: map[string]string{"x": "a:b"}}.Build())
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		_, err := Install(bytes.NewReader(b), int64(len(b)), "evil-1.0-py3-none-any.whl", Options{Root: root, Scheme: testScheme, Python: "/p"})
		if err != nil {
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Fatalf("failed install (%v) left %d entries", err, len(entries))
			}
		}
	})
}
