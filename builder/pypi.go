package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/reprobuild/reprobuild/internal/channel"
	"github.com/reprobuild/reprobuild/internal/conda"
	"github.com/reprobuild/reprobuild/internal/install"
	"github.com/reprobuild/reprobuild/internal/lock"
	"github.com/reprobuild/reprobuild/internal/plan"
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
		var mirrors []string
		for _, m := range ix.Mirrors {
			mirrors = append(mirrors, r.ResolveURL(m))
		}
		out = append(out, index.Index{Name: ix.Name, URL: r.ResolveURL(ix.URL), Mirrors: mirrors, Packages: ix.Packages})
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
func lockPip(ctx context.Context, r *recipes.Recipe, client *index.Client, t *lock.Target, prev *lock.Target, update []string) error {
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
		// The recipe's base name: the lock records where a pin came from, and a host
		// path must not reach it.
		roots = append(roots, resolve.Root{Req: req, Where: fmt.Sprintf("%s:%d", filepath.Base(s.Range.Filename), s.Range.Start.Line)})
	}
	var cutoff time.Time
	if r.Solver.ExcludeNewer != "" {
		if cutoff, err = time.Parse(time.RFC3339, r.Solver.ExcludeNewer); err != nil {
			return fmt.Errorf("solver.exclude_newer %q: %w", r.Solver.ExcludeNewer, err)
		}
	}
	// The previous lock's pins are kept while they fit, unless named in --update.
	prefer := map[string]pep440.Version{}
	if prev != nil {
		for _, p := range prev.Pip {
			if slices.Contains(update, p.Name) || slices.ContainsFunc(update, func(u string) bool { return pep508.NormalizeName(u) == p.Name }) {
				continue
			}
			if v, err := pep440.Parse(p.Version); err == nil {
				prefer[pep508.NormalizeName(p.Name)] = v
			}
		}
	}
	pins, err := pypilock.Lock(ctx, client, pypilock.Options{
		Indexes: Indexes(r), Roots: roots, Target: wt, Python: py,
		Provided: providedByConda(t.Packages), ExcludeNewer: cutoff, Prefer: prefer,
	})
	if err != nil {
		return fmt.Errorf("locking pip packages of %s for %s: %w", r.Filename, t.Platform, err)
	}
	t.Pip = nil
	for _, p := range pins {
		t.Pip = append(t.Pip, lock.PipPackage{
			Name: p.Name, Version: p.Version.String(), URL: lockURL(r, p.File.Index, p.File.URL), SHA256: p.File.SHA256,
			Index: p.File.Index, RequiresPython: p.File.RequiresPython, Requested: p.Requested,
		})
	}
	return nil
}

// lockPipAll locks the pip requirements of every target of l (after the conda solve)
// and records the recipe's indexes in l.
func lockPipAll(ctx context.Context, r *recipes.Recipe, o ChannelOptions, l, prev *lock.Lock, update []string) error {
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
		var pt *lock.Target
		if prev != nil {
			pt = prev.Target(l.Targets[i].Platform)
		}
		if err := lockPip(ctx, r, client, &l.Targets[i], pt, update); err != nil {
			return err
		}
	}
	return nil
}

// lockURL is how the lock records a wheel's URL: as fetched, except that a wheel of an
// index the recipe gives as a relative path is recorded relative to the recipe too, so
// no host path reaches the lock.
func lockURL(r *recipes.Recipe, ixName, u string) string {
	for _, ix := range r.PyPI {
		if ix.Name != ixName || strings.Contains(ix.URL, "://") {
			continue
		}
		root := strings.TrimSuffix(r.ResolveURL(ix.URL), "/") + "/"
		if rest, ok := strings.CutPrefix(u, root); ok {
			return ix.URL + "/" + rest
		}
	}
	return u
}

// pipIndex finds the recipe index a locked pip package names (for its mirrors and
// credentials); imported packages without one use a nameless index.
func pipIndex(r *recipes.Recipe, p lock.PipPackage) index.Index {
	for _, ix := range Indexes(r) {
		if ix.Name == p.Index {
			return ix
		}
	}
	return index.Index{Name: "lock"}
}

// FetchWheels fetches the target's locked wheels through the verified cache and returns
// their paths, in the order of t.Pip.
func FetchWheels(ctx context.Context, r *recipes.Recipe, client *index.Client, t *lock.Target) ([]string, error) {
	out := make([]string, len(t.Pip))
	for i, p := range t.Pip {
		f := index.File{Filename: wheelFilename(p.URL), URL: r.ResolveURL(p.URL), SHA256: p.SHA256}
		path, err := client.Wheel(ctx, pipIndex(r, p), f)
		if err != nil {
			return nil, fmt.Errorf("pip package %s %s: %w", p.Name, p.Version, err)
		}
		out[i] = path
	}
	return out, nil
}

func wheelFilename(u string) string {
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u
}

// vendorPyPI writes the lock's wheels under dir/pypi as a static simple index (PEP 503
// HTML: pypi/index.html, pypi/NAME/index.html beside the wheels), which a pypi block
// (url = "DIR/pypi") or the file:// index client reads. It returns the wheels written.
func vendorPyPI(ctx context.Context, r *recipes.Recipe, l *lock.Lock, dir string, client *index.Client, platforms []string) (int, error) {
	type file struct{ name, fn, sha, rp, src string }
	byName := map[string][]file{}
	seen := map[string]bool{}
	for i := range l.Targets {
		t := &l.Targets[i]
		if len(t.Pip) == 0 || len(platforms) > 0 && !slices.Contains(platforms, t.Platform) {
			continue
		}
		if client == nil {
			return 0, fmt.Errorf("vendor: the lock has pip packages but no index client was given")
		}
		paths, err := FetchWheels(ctx, r, client, t)
		if err != nil {
			return 0, fmt.Errorf("vendor: %w", err)
		}
		for j, p := range t.Pip {
			fn := wheelFilename(p.URL)
			if seen[fn] {
				continue
			}
			seen[fn] = true
			byName[p.Name] = append(byName[p.Name], file{p.Name, fn, p.SHA256, p.RequiresPython, paths[j]})
		}
	}
	if len(byName) == 0 {
		return 0, nil
	}
	root := filepath.Join(dir, "pypi")
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	var top strings.Builder
	top.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Simple index</title></head><body>\n")
	for _, n := range names {
		files := byName[n]
		slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.fn, b.fn) })
		pd := filepath.Join(root, n)
		if err := os.MkdirAll(pd, 0o755); err != nil {
			return 0, fmt.Errorf("vendor: %w", err)
		}
		var page strings.Builder
		fmt.Fprintf(&page, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n", html.EscapeString(n))
		for _, f := range files {
			data, err := os.ReadFile(f.src)
			if err != nil {
				return 0, fmt.Errorf("vendor: %w", err)
			}
			if err := os.WriteFile(filepath.Join(pd, f.fn), data, 0o644); err != nil {
				return 0, fmt.Errorf("vendor: %w", err)
			}
			rp := ""
			if f.rp != "" {
				rp = fmt.Sprintf(" data-requires-python=\"%s\"", html.EscapeString(f.rp))
			}
			fmt.Fprintf(&page, "<a href=\"%s#sha256=%s\"%s>%s</a><br/>\n", url.PathEscape(f.fn), f.sha, rp, html.EscapeString(f.fn))
		}
		page.WriteString("</body></html>\n")
		if err := os.WriteFile(filepath.Join(pd, "index.html"), []byte(page.String()), 0o644); err != nil {
			return 0, fmt.Errorf("vendor: %w", err)
		}
		fmt.Fprintf(&top, "<a href=\"%s/\">%s</a><br/>\n", n, n)
	}
	top.WriteString("</body></html>\n")
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(top.String()), 0o644); err != nil {
		return 0, fmt.Errorf("vendor: %w", err)
	}
	return len(seen), nil
}

// pipEntries installs the target's locked wheels (fetched through the verified cache)
// in memory, for the environment at prefix with python X.Y, and returns their files
// with every parent directory, as image entries. Both engines put them in reprobuild's
// own layer, after the conda packages.
func pipEntries(ctx context.Context, r *recipes.Recipe, t *lock.Target, client *index.Client, prefix, python string) ([]install.Entry, error) {
	if len(t.Pip) == 0 {
		return nil, nil
	}
	if python == "" {
		return nil, fmt.Errorf("%s: the lock has pip packages but the environment has no python", t.Platform)
	}
	paths, err := FetchWheels(ctx, r, client, t)
	if err != nil {
		return nil, err
	}
	p := strings.TrimPrefix(prefix, "/")
	site := p + "/lib/python" + python + "/site-packages"
	scheme := wheel.Scheme{Purelib: site, Platlib: site, Scripts: p + "/bin", Headers: p + "/include/python" + python, Data: p}
	var out []install.Entry
	files := map[string]string{}
	for i, pp := range t.Pip {
		// The cache was verified when filled; the bytes installed are checked again, so
		// a cache file changed since cannot reach an image.
		data, err := os.ReadFile(paths[i])
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != pp.SHA256 {
			return nil, fmt.Errorf("pip package %s %s: the cached wheel %s does not match the lock's sha256 %s; delete that file and build again", pp.Name, pp.Version, paths[i], pp.SHA256)
		}
		got, _, err := wheel.InstallFiles(bytes.NewReader(data), int64(len(data)), wheelFilename(pp.URL), wheel.Options{Scheme: scheme, Python: prefix + "/bin/python"})
		if err != nil {
			return nil, fmt.Errorf("installing pip package %s %s: %w", pp.Name, pp.Version, err)
		}
		for _, g := range got {
			if other, dup := files[g.Path]; dup {
				return nil, fmt.Errorf("pip packages %s and %s both install /%s; pin versions that do not clash", other, pp.Name, g.Path)
			}
			files[g.Path] = pp.Name
			for _, d := range parents(path.Dir(g.Path)) {
				out = append(out, install.Entry{Path: d, Type: install.TypeDir, Mode: 0o755})
			}
			out = append(out, install.Entry{Path: g.Path, Type: install.TypeFile, Mode: g.Mode, Data: g.Data})
		}
	}
	return out, nil
}

// withPip adds the pip entries to reprobuild's own entries (sorted, each directory once).
func withPip(own, pip []install.Entry) []install.Entry {
	if len(pip) == 0 {
		return own
	}
	out := append(slices.Clone(own), pip...)
	slices.SortStableFunc(out, func(a, b install.Entry) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(out, func(a, b install.Entry) bool {
		return a.Path == b.Path && a.Type == install.TypeDir && b.Type == install.TypeDir
	})
}

// indexClientFor is the index client of a build: from the channel options, or (a
// library caller that passed only a channel client) on the same cache.
func indexClientFor(o ChannelOptions, client *channel.Client) (*index.Client, error) {
	if o.CacheDir == "" && client != nil {
		o.CacheDir = filepath.Dir(client.Store().Dir())
	}
	return NewIndexClient(o)
}

func hasPip(l *lock.Lock) bool {
	for _, t := range l.Targets {
		if len(t.Pip) > 0 {
			return true
		}
	}
	return false
}

// addPip installs the locked wheels of each plan's target into its own files.
func addPip(ctx context.Context, plans []*plan.Plan, client *index.Client) error {
	for _, p := range plans {
		t := p.Lock.Target(p.Subdir)
		if t == nil || len(t.Pip) == 0 {
			continue
		}
		if p.Recipe == nil {
			return fmt.Errorf("%s: installing pip packages needs the recipe (for its indexes)", p.Subdir)
		}
		pip, err := pipEntries(ctx, p.Recipe, t, client, p.Prefix, p.Python)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Subdir, err)
		}
		if len(p.Own) == 0 {
			// The plan counted no own layer; there is always one with a recipe.
			return fmt.Errorf("%s: the plan has no layer for reprobuild's own files", p.Subdir)
		}
		p.Own = withPip(p.Own, pip)
	}
	return nil
}

// parents returns p and every ancestor directory of it, outermost first.
func parents(p string) []string {
	var out []string
	for d := p; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}
