package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/builder"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pkgmaker"
	"github.com/reprobuild/reprobuild/internal/testutil"
)

// activationProject writes real conda packages with activation scripts into a file://
// channel, and a recipe over base with a lock of the named packages.
func activationProject(t *testing.T, base string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	ch := filepath.Join(dir, "channel", "linux-64")
	pkgs := map[string]pkgmaker.Package{
		// Exact: computed at build time into the image's environment.
		"geodata": {Record: conda.PackageRecord{Name: "geodata", Version: "1.0", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{
			{Path: "share/gdal/gcs.csv", Data: []byte("4326\n")},
			{Path: "etc/conda/activate.d/geodata-activate.sh", Data: []byte("#!/bin/sh\nexport GDAL_DATA=\"${CONDA_PREFIX}/share/gdal\"\n")},
			{Path: "etc/conda/deactivate.d/geodata-deactivate.sh", Data: []byte("unset GDAL_DATA\n")},
		}},
		// Not exact (a condition): sourced by the entrypoint when the container starts.
		"javaish": {Record: conda.PackageRecord{Name: "javaish", Version: "1.0", Build: "0", Subdir: "linux-64"}, Files: []pkgmaker.File{
			{Path: "lib/jvm/release", Data: []byte("JAVA_VERSION=1\n")},
			{Path: "etc/conda/activate.d/java.sh", Data: []byte("if [ -d \"$CONDA_PREFIX/lib/jvm\" ]; then\n  export JAVA_HOME=\"$CONDA_PREFIX/lib/jvm\"\nfi\n")},
		}},
	}
	var recs []conda.PackageRecord
	for _, n := range names {
		rec, err := pkgmaker.Write(ch, pkgs[n], pkgmaker.Conda)
		if err != nil {
			t.Fatal(err)
		}
		rec.URL = "file://" + filepath.Join(ch, rec.Fn)
		rec.Channel = "file://" + filepath.Dir(ch)
		recs = append(recs, rec)
	}
	recipe := filepath.Join(dir, "reprobuild.hcl")
	src := fmt.Sprintf("image \"act\" {\n  base = %q\n  tags = [\"localhost/act:1\"]\n}\nchannel \"local\" { url = \"./channel\" }\n"+
		"dependencies {\n  conda = [%s]\n}\nplatform { targets = [\"linux-64\"] }\n", base, `"`+strings.Join(names, `", "`)+`"`)
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := builder.LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := builder.NewLock(r)
	l.Targets = []lock.Target{{Platform: "linux-64", Packages: lock.SortedPackages(recs)}}
	if err := builder.WriteLock(r, l); err != nil {
		t.Fatal(err)
	}
	return recipe
}

func layoutConfig(t *testing.T, dir string) *v1.ConfigFile {
	t.Helper()
	cf, err := testutil.LayoutImage(t, dir).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

// TestActivationScripts builds images of real packages with activation scripts: an
// exact one becomes image environment; a conditional one is sourced by the entrypoint,
// checked by running the image with runc; without a shell in the base that is refused.
// audit lists both.
func TestActivationScripts(t *testing.T) {
	t.Setenv("REPROBUILD_CACHE", t.TempDir())
	busybox, err := filepath.Abs(filepath.Join("..", "..", "examples", "bases", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	busybox = "oci:" + busybox + "@sha256:b62d72d4c45fe80379be0be099e66f6ff223df2e965164c002afe26cd277619c"

	// Exact, on scratch: the variable is in the config.
	exact := activationProject(t, "scratch", "geodata")
	out := filepath.Join(t.TempDir(), "exact")
	if _, _, err := run(t, "image", "-f", exact, "--offline", "--locked", "--output", "oci:"+out); err != nil {
		t.Fatal(err)
	}
	cf := layoutConfig(t, out)
	if !slices.Contains(cf.Config.Env, "GDAL_DATA=/opt/env/share/gdal") || len(cf.Config.Entrypoint) != 0 {
		t.Errorf("exact activation: env %v, entrypoint %v; want GDAL_DATA set and no wrapper", cf.Config.Env, cf.Config.Entrypoint)
	}

	// A condition on scratch: nothing can source it.
	if _, _, err := run(t, "image", "-f", activationProject(t, "scratch", "javaish"), "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "x")); err == nil ||
		!strings.Contains(err.Error(), "java.sh") || !strings.Contains(err.Error(), "/bin/sh") {
		t.Errorf("conditional activation on scratch: %v, want a refusal naming the script and /bin/sh", err)
	}

	// Both, on busybox: GDAL_DATA in the config, the entrypoint sources java.sh.
	both := activationProject(t, busybox, "geodata", "javaish")
	out = filepath.Join(t.TempDir(), "both")
	first, _, err := run(t, "image", "-f", both, "--offline", "--locked", "--output", "oci:"+out)
	if err != nil {
		t.Fatal(err)
	}
	// A rebuild from the layer cache finds the scripts in the cache's memos, not by
	// decompressing the layers again, and gives the same image.
	if memos, _ := filepath.Glob(filepath.Join(os.Getenv("REPROBUILD_CACHE"), "layers", "activation", "*.json")); len(memos) == 0 {
		t.Error("no activation memos in the layer cache")
	}
	if again, _, err := run(t, "image", "-f", both, "--offline", "--locked", "--output", "oci:"+filepath.Join(t.TempDir(), "again")); err != nil || again != first {
		t.Errorf("rebuild from the cache: %s %v, want %s", again, err, first)
	}
	cf = layoutConfig(t, out)
	if len(cf.Config.Entrypoint) < 3 || cf.Config.Entrypoint[0] != "/bin/sh" || !strings.Contains(cf.Config.Entrypoint[2], "/opt/env/etc/conda/activate.d") {
		t.Fatalf("entrypoint %q does not source the activation scripts", cf.Config.Entrypoint)
	}

	stdout, _, err := run(t, "audit", "-f", both)
	if codeOf(err) != 0 && codeOf(err) != exitAuditLevel {
		t.Fatal(err)
	}
	for _, w := range []string{"geodata", "/opt/env/etc/conda/activate.d/geodata-activate.sh", "javaish", "/opt/env/etc/conda/activate.d/java.sh"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("audit does not list %s:\n%s", w, stdout)
		}
	}

	testutil.RequireRoot(t)
	runc := testutil.RequireBinary(t, "runc", "REPROBUILD_RUNC")
	umoci := tool(t, "umoci")
	bundle := filepath.Join(t.TempDir(), "bundle")
	sh(t, umoci, "unpack", "--image", out+":1", bundle)
	got := testutil.RuncRun(t, context.Background(), runc, bundle, func(_, proc map[string]any) {
		// As `docker run IMAGE /bin/sh -c ...`: the entrypoint, then the command given.
		proc["args"] = append(append([]string{}, cf.Config.Entrypoint...), "/bin/sh", "-c", `echo "$GDAL_DATA|$JAVA_HOME"`)
	})
	if got, want := strings.TrimSpace(got), "/opt/env/share/gdal|/opt/env/lib/jvm"; got != want {
		t.Errorf("in the container: %q, want %q", got, want)
	}
}
