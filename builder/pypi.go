package builder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/pypi/index"
	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
	"github.com/reprobuild/reprobuild/internal/pypi/pypilock"
	"github.com/reprobuild/reprobuild/internal/pypi/resolve"
	"github.com/reprobuild/reprobuild/internal/pypi/wheel"
	"github.com/reprobuild/reprobuild/recipes"
)

// NewIndexClient makes the PyPI index client, sharing the channel cache, offline mode
// and credentials.
func NewIndexClient(o ChannelOptions) (*index.Client, error) {
	opts := []index.Option{index.WithOffline(o.Offline), index.WithAuthorizer(o.Credentials.Authorize)}
	return index.New(o.CacheDir, opts...)
}

// Indexes are the recipe's pypi blocks as the index client takes them; relative file
// URLs resolve from the recipe's directory.
func Indexes(r *recipes.Recipe) []index.Index {
	var out []index.Index
	for _, ix := range r.PyPI {
		out = append(out, index.Index{Name: ix.Name, URL: r.ResolveURL(ix.URL), Mirrors: ix.Mirrors, Packages: ix.Packages})
	}
	return out
}

// condaProvides maps conda package names to the python distribution they install,
// where the two differ; every other python package provides its own name.
var condaProvides = map[string]string{
	"pytorch": "torch", "matplotlib-base": "matplotlib", "msgpack-python": "msgpack",
	"py-opencv": "opencv-python", "tensorflow-base": "tensorflow", "pillow-simd": "pillow",
}

// providedByConda lists the python distributions the locked conda packages install:
// every package that depends on python (or is noarch python), under its PyPI name.
func providedByConda(pkgs []conda.PackageRecord) map[string]resolve.Provided {
	out := map[string]resolve.Provided{}
	for _, p := range pkgs {
		isPy := p.Noarch == "python"
		for _, d := range p.Depends {
			if n, _, _ := strings.Cut(strings.TrimSpace(d), " "); n == "python" {
				isPy = true
			}
		}
		if !isPy || p.Name == "python" {
			continue
		}
		v, err := pep440.Parse(p.Version)
		if err != nil {
			continue
		}
		name := p.Name
		if alias, ok := condaProvides[name]; ok {
			name = alias
		}
		out[pep508.NormalizeName(name)] = resolve.Provided{Version: v, By: fmt.Sprintf("conda package %s %s (%s)", p.Name, p.Version, p.Build)}
	}
	return out
}

// pipTarget is the wheel target and interpreter of a locked conda target.
func pipTarget(r *recipes.Recipe, t *lock.Target) (wheel.Target, pep440.Version, error) {
	var wt wheel.Target
	var py pep440.Version
	switch t.Platform {
	case "linux-64":
		wt.Arch = "x86_64"
	case "linux-aarch64":
		wt.Arch = "aarch64"
	case "linux-ppc64le":
		wt.Arch = "ppc64le"
	case "linux-s390x":
		wt.Arch = "s390x"
	default:
		return wt, py, fmt.Errorf("pip packages are supported for linux targets only, and %s is not one; drop it from platform.targets or dependencies.pip", t.Platform)
	}
	pyVersion := ""
	for _, p := range t.Packages {
		if p.Name == "python" {
			pyVersion = p.Version
		}
	}
	if pyVersion == "" {
		if bp := basePython(r, t.Platform); bp != nil {
			pyVersion = bp.Version
		}
	}
	if pyVersion == "" {
		return wt, py, fmt.Errorf("%s: dependencies.pip needs a python: add a python block", t.Platform)
	}
	var err error
	if py, err = pep440.Parse(pyVersion); err != nil || len(py.Release) < 2 {
		return wt, py, fmt.Errorf("%s: python version %q is not a PEP 440 version", t.Platform, pyVersion)
	}
	wt.Python = [2]int{int(py.Release[0]), int(py.Release[1])}
	wt.Glibc = [2]int{2, 17}
	for _, v := range t.Virtual {
		if v.Name == "__glibc" {
			if gv, err := pep440.Parse(v.Version); err == nil && len(gv.Release) >= 2 {
				wt.Glibc = [2]int{int(gv.Release[0]), int(gv.Release[1])}
			}
		}
	}
	return wt, py, nil
}

// lockPip resolves the recipe's pip requirements for one locked target and records
// the pins in it.
func lockPip(ctx context.Context, r *recipes.Recipe, client *index.Client, t *lock.Target) error {
	if len(r.Dependencies.Pip) == 0 {
		return nil
	}
	wt, py, err := pipTarget(r, t)
	if err != nil {
		return err
	}
	var roots []resolve.Root
	for _, s := range r.Dependencies.Pip {
		req, err := pep508.ParseRequirement(s.Text)
		if err != nil {
			return fmt.Errorf("%s: %w", rangeString(s.Range.Filename, s.Range.Start.Line, s.Range.Start.Column), err)
		}
		roots = append(roots, resolve.Root{Req: req, Where: fmt.Sprintf("%s:%d", s.Range.Filename, s.Range.Start.Line)})
	}
	var cutoff time.Time
	if r.Solver.ExcludeNewer != "" {
		if cutoff, err = time.Parse(time.RFC3339, r.Solver.ExcludeNewer); err != nil {
			return fmt.Errorf("solver.exclude_newer %q: %w", r.Solver.ExcludeNewer, err)
		}
	}
	pins, err := pypilock.Lock(ctx, client, pypilock.Options{
		Indexes: Indexes(r), Roots: roots, Target: wt, Python: py,
		Provided: providedByConda(t.Packages), ExcludeNewer: cutoff,
	})
	if err != nil {
		return fmt.Errorf("locking pip packages of %s for %s: %w", r.Filename, t.Platform, err)
	}
	t.Pip = nil
	for _, p := range pins {
		t.Pip = append(t.Pip, lock.PipPackage{
			Name: p.Name, Version: p.Version.String(), URL: p.File.URL, SHA256: p.File.SHA256,
			Index: p.File.Index, RequiresPython: p.File.RequiresPython, Requested: p.Requested,
		})
	}
	return nil
}

// lockPipAll locks the pip requirements of every target of l (after the conda solve)
// and records the recipe's indexes in l.
func lockPipAll(ctx context.Context, r *recipes.Recipe, o ChannelOptions, l *lock.Lock) error {
	l.PyPI = nil
	for _, ix := range r.PyPI {
		l.PyPI = append(l.PyPI, lock.Channel{Name: ix.Name, URL: ix.URL})
	}
	if len(r.Dependencies.Pip) == 0 {
		for i := range l.Targets {
			l.Targets[i].Pip = nil
		}
		return nil
	}
	client, err := NewIndexClient(o)
	if err != nil {
		return err
	}
	for i := range l.Targets {
		if err := lockPip(ctx, r, client, &l.Targets[i]); err != nil {
			return err
		}
	}
	return nil
}
