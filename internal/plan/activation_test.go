package plan

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprobuild/reprobuild/internal/activate"
)

func TestActivation(t *testing.T) {
	p, err := New(nil, sampleLock(), "linux-64", Info{})
	if err != nil {
		t.Fatal(err)
	}
	const dir = "opt/env/etc/conda/activate.d/"
	exact := activate.Script{Path: dir + "gdal.sh", Data: []byte("export GDAL_DATA=$CONDA_PREFIX/share/gdal\n")}
	cond := activate.Script{Path: dir + "java.sh", Data: []byte("if [ -d x ]; then export A=1; fi\n")}
	base := &v1.ConfigFile{Config: v1.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"arg"}, Env: []string{"LANG=C"}}}
	asked := 0
	shell := func(has bool) func() (bool, error) {
		return func() (bool, error) { asked++; return has, nil }
	}

	// Exact: the environment, and the base is not read for a shell.
	cfg, err := p.Activation([]activate.Script{exact}, ActivationBase{Config: base, HasShell: shell(false)})
	if err != nil || cfg.Env["GDAL_DATA"] != "/opt/env/share/gdal" || cfg.Entrypoint != nil || asked != 0 {
		t.Errorf("exact: env %v entrypoint %v err %v, shell asked %d times", cfg.Env, cfg.Entrypoint, err, asked)
	}
	if _, ok := p.Config.Env["GDAL_DATA"]; ok {
		t.Error("Activation changed the plan's own config")
	}
	// The same path twice: the later one (a later layer) wins, whatever the order.
	later := activate.Script{Path: exact.Path, Data: []byte("export GDAL_DATA=/elsewhere\n")}
	if cfg, _ := p.Activation([]activate.Script{exact, later}, ActivationBase{}); cfg.Env["GDAL_DATA"] != "/elsewhere" {
		t.Errorf("duplicate path: GDAL_DATA=%q, want the later script's", cfg.Env["GDAL_DATA"])
	}

	// Not exact, with a shell: the wrapper runs the base's entrypoint and keeps its cmd.
	cfg, err = p.Activation([]activate.Script{cond, exact}, ActivationBase{Config: base, HasShell: shell(true)})
	if err != nil {
		t.Fatal(err)
	}
	want := activate.Entrypoint("/opt/env", []string{"/entry"})
	if d := cmp.Diff(want, cfg.Entrypoint); d != "" || !slices.Equal(cfg.Cmd, []string{"arg"}) {
		t.Errorf("wrapper (-want +got):\n%s cmd %v", d, cfg.Cmd)
	}

	// Not exact, no shell (or scratch): refused, naming the script.
	for name, b := range map[string]ActivationBase{"no shell": {Config: base, HasShell: shell(false)}, "scratch": {}} {
		_, err = p.Activation([]activate.Script{cond}, b)
		var ae *ActivationError
		if !errors.As(err, &ae) || ae.Script != "/"+cond.Path {
			t.Errorf("%s: %v, want an ActivationError for /%s", name, err, cond.Path)
		}
	}
}
