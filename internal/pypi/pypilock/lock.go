package pypilock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reprobuild/reprobuild/internal/pypi/index"
	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
	"github.com/reprobuild/reprobuild/internal/pypi/resolve"
	"github.com/reprobuild/reprobuild/internal/pypi/wheel"
)

// Options is one target's PyPI locking problem.
type Options struct {
	Indexes      []index.Index
	Roots        []resolve.Root
	Target       wheel.Target
	Python       pep440.Version // the locked interpreter, e.g. 3.12.4
	Provided     map[string]resolve.Provided
	ExcludeNewer time.Time
	// Prefer are the previous lock's pins, tried first.
	Prefer map[string]pep440.Version
	// Parallelism bounds concurrent index requests (default 8).
	Parallelism int
}

// Env is the PEP 508 marker environment of a CPython on Linux.
func Env(python pep440.Version, machine string) pep508.Env {
	mm := ""
	if len(python.Release) >= 2 {
		mm = fmt.Sprintf("%d.%d", python.Release[0], python.Release[1])
	}
	return pep508.Env{
		"python_version": mm, "python_full_version": python.String(),
		"implementation_name": "cpython", "implementation_version": python.String(),
		"platform_python_implementation": "CPython", "os_name": "posix",
		"sys_platform": "linux", "platform_system": "Linux", "platform_machine": machine,
		"platform_release": "", "platform_version": "",
	}
}

// Lock resolves the roots.
func Lock(ctx context.Context, c *index.Client, o Options) ([]resolve.Pin, error) {
	if len(o.Roots) == 0 {
		return nil, nil
	}
	if len(o.Indexes) == 0 {
		return nil, errors.New("dependencies.pip needs a package index: add a pypi \"pypi\" { url = \"https://pypi.org/simple\" } block")
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &provider{env: Env(o.Python, o.Target.Arch), c: c, o: o, sem: make(chan struct{}, o.Parallelism), pages: map[string]*future[[]resolve.Candidate]{},
		metas: map[string]*future[[]pep508.Requirement]{}, ranker: wheel.NewRanker(o.Target)}
	for _, r := range o.Roots {
		p.prefetch(ctx, r.Req.Normalized())
	}
	in := resolve.Input{Roots: o.Roots, Env: p.env, Provided: o.Provided, Prefer: o.Prefer}
	pins, err := resolve.Resolve(ctx, in, p)
	// Prefetches still running are not needed any more.
	cancel()
	p.wg.Wait()
	return pins, err
}

type future[T any] struct {
	done chan struct{}
	v    T
	err  error
}

type provider struct {
	env    pep508.Env
	wg     sync.WaitGroup
	c      *index.Client
	o      Options
	sem    chan struct{}
	ranker wheel.Ranker
	mu     sync.Mutex
	pages  map[string]*future[[]resolve.Candidate]
	metas  map[string]*future[[]pep508.Requirement]
	files  sync.Map // sha256 -> index.File
}

func (p *provider) prefetch(ctx context.Context, name string) *future[[]resolve.Candidate] {
	if _, ok := p.o.Provided[name]; ok {
		return nil
	}
	p.mu.Lock()
	f, ok := p.pages[name]
	if !ok {
		f = &future[[]resolve.Candidate]{done: make(chan struct{})}
		p.pages[name] = f
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(f.done)
			p.sem <- struct{}{}
			f.v, f.err = p.fetch(ctx, name)
			<-p.sem
			// The newest usable version is the likely pick: fetch its metadata now.
			for _, c := range f.v {
				if !c.SdistOnly && !c.Yanked && !c.Version.IsPrerelease() {
					p.requiresFuture(ctx, c)
					break
				}
			}
		}()
	}
	p.mu.Unlock()
	return f
}

// fetch finds the index that serves name and selects its candidates.
func (p *provider) fetch(ctx context.Context, name string) ([]resolve.Candidate, error) {
	var tried []string
	for _, ix := range p.o.Indexes {
		if len(ix.Packages) > 0 && !slices.Contains(ix.Packages, name) {
			continue
		}
		pinned := false
		for _, other := range p.o.Indexes {
			if other.Name != ix.Name && slices.Contains(other.Packages, name) {
				pinned = true
			}
		}
		if pinned {
			continue
		}
		proj, err := p.c.Project(ctx, ix, name)
		var nf *index.NotFoundError
		if errors.As(err, &nf) {
			tried = append(tried, ix.Name)
			continue
		}
		if err != nil {
			return nil, err
		}
		files := make([]resolve.File, 0, len(proj.Files))
		for _, f := range proj.Files {
			files = append(files, resolve.File{Filename: f.Filename, URL: f.URL, SHA256: f.SHA256,
				RequiresPython: f.RequiresPython, Yanked: f.Yanked, UploadTime: f.UploadTime, Index: ix.Name})
			if f.SHA256 != "" {
				p.files.Store(f.SHA256, f)
			}
		}
		return resolve.Select(name, files, resolve.SelectOptions{Ranker: p.ranker, Python: p.o.Python, ExcludeNewer: p.o.ExcludeNewer}), nil
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("no package index may serve %s (every index has a packages list without it)", name)
	}
	return nil, fmt.Errorf("%s is not on any package index (tried %s)", name, strings.Join(tried, ", "))
}

func (p *provider) Candidates(ctx context.Context, name string) ([]resolve.Candidate, error) {
	f := p.prefetch(ctx, name)
	if f == nil {
		return nil, fmt.Errorf("%s is provided by conda", name)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return f.v, f.err
}

func (p *provider) requiresFuture(ctx context.Context, c resolve.Candidate) *future[[]pep508.Requirement] {
	key := c.File.SHA256
	p.mu.Lock()
	f, ok := p.metas[key]
	if !ok {
		f = &future[[]pep508.Requirement]{done: make(chan struct{})}
		p.metas[key] = f
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(f.done)
			v, _ := p.files.Load(key)
			file, _ := v.(index.File)
			var ix index.Index
			for _, x := range p.o.Indexes {
				if x.Name == c.File.Index {
					ix = x
				}
			}
			p.sem <- struct{}{}
			m, err := p.c.Metadata(ctx, ix, file)
			<-p.sem
			if err != nil {
				f.err = err
				return
			}
			if wheelName := pep508.NormalizeName(m.Name); wheelName != c.Name || !m.Version.Equal(c.Version) {
				f.err = fmt.Errorf("%s: metadata says %s %s", c.File.Filename, m.Name, m.Version)
				return
			}
			if len(m.RequiresPython) > 0 && !m.RequiresPython.Contains(p.o.Python) {
				f.err = &resolve.IncompatibleError{Name: c.Name, Version: c.Version.String(),
					Reason: "requires python " + m.RequiresPython.String() + " and the target has " + p.o.Python.String()}
				return
			}
			f.v = m.RequiresDist
			// Names it needs will be asked for soon.
			for _, r := range m.RequiresDist {
				if r.Marker.IsEmpty() {
					p.prefetch(ctx, r.Normalized())
				} else if ok, err := r.Marker.Evaluate(p.env); err == nil && ok {
					p.prefetch(ctx, r.Normalized())
				}
			}
		}()
	}
	p.mu.Unlock()
	return f
}

func (p *provider) Requires(ctx context.Context, c resolve.Candidate) ([]pep508.Requirement, error) {
	f := p.requiresFuture(ctx, c)
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return f.v, f.err
}
