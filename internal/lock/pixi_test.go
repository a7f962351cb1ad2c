package lock

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprobuild/reprobuild/internal/testutil"
)

func readFixture(t *testing.T, rel string) []byte {
	t.Helper()
	return testutil.ReadFile(t, filepath.Join(lockfiles, rel))
}

// TestImportPixiReal reads pixi's own example lock (format 6) and checks what each
// package becomes, then that an export reads back to the same lock.
func TestImportPixiReal(t *testing.T) {
	data := readFixture(t, "pixi/simple-calculator/pixi.lock")
	l, err := ImportPixi(data, "")
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, tg := range l.Targets {
		platforms = append(platforms, tg.Platform)
	}
	if d := cmp.Diff([]string{"linux-64", "osx-64", "osx-arm64", "win-64"}, platforms); d != "" {
		t.Fatalf("targets (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]Channel{{Name: "conda-forge", URL: "https://conda.anaconda.org/conda-forge"}}, l.Channels); d != "" {
		t.Errorf("channels (-want +got):\n%s", d)
	}
	linux := l.Target("linux-64")
	if n := strings.Count(string(data[:strings.Index(string(data), "      osx-64:")]), "- conda:"); len(linux.Packages) != n {
		t.Errorf("linux-64 has %d packages, the file lists %d", len(linux.Packages), n)
	}
	byName := map[string]int{}
	for i, p := range linux.Packages {
		byName[p.Name] = i
	}
	omp := linux.Packages[byName["_openmp_mutex"]]
	if omp.Version != "4.5" || omp.Build != "2_gnu" || omp.BuildNumber != 16 || omp.Subdir != "linux-64" ||
		omp.SHA256 != "fbe2c5e56a653bebb982eda4876a9178aedfc2b545f25d0ce9c4c0b508253d22" || omp.MD5 != "73aaf86a425cc6e73fcf236a5a46396d" ||
		!cmp.Equal(omp.Depends, []string{"_libgcc_mutex 0.1 conda_forge", "libgomp >=7.5.0"}) || omp.Size != 23621 || omp.Timestamp != 1650670423406 {
		t.Errorf("_openmp_mutex = %+v", omp)
	}
	if bz := linux.Packages[byName["bzip2"]]; bz.BuildNumber != 7 || bz.License != "bzip2-1.0.6" || bz.Channel != "https://conda.anaconda.org/conda-forge" {
		t.Errorf("bzip2 = %+v", bz)
	}
	for _, p := range linux.Packages {
		if len(p.SHA256) != 64 || len(p.MD5) != 32 {
			t.Errorf("%s lacks a hash: %+v", p.Name, p)
		}
	}

	out, err := ExportPixi(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ImportPixi(out, "default")
	if err != nil {
		t.Fatalf("reading the export back: %v\n%s", err, out)
	}
	if d := cmp.Diff(l, back); d != "" {
		t.Errorf("export then import (-imported +round trip):\n%s", d)
	}
	// What the file name gives is left out, as pixi does: the same build numbers are
	// written (those the build string does not end with), and no names.
	if got, want := strings.Count(string(out), "build_number:"), strings.Count(string(data), "build_number:"); got != want || strings.Contains(string(out), "name: bzip2") {
		t.Errorf("export writes %d build numbers (pixi %d) or derivable names:\n%.1500s", got, want, out)
	}
}

func TestImportPixiErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		env  string
		want string
	}{
		"version 5":   {readFixture(t, "pixi/conda_mapping/pixi.lock"), "", "format version 5"},
		"no such env": {readFixture(t, "pixi/simple-calculator/pixi.lock"), "gpu", `no environment "gpu" (it has default)`},
		"not yaml":    {[]byte("version: [6"), "", "not valid YAML"},
		"dangling":    {[]byte("version: 6\nenvironments:\n  default:\n    channels: []\n    packages:\n      linux-64:\n      - conda: https://x/linux-64/a-1-0.conda\npackages: []\n"), "", "not in the packages list"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ImportPixi(tc.data, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
