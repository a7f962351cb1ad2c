package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/pypi/pep440"
	"github.com/reprobuild/reprobuild/internal/pypi/pep508"
)

// Provider answers the resolver's questions; it does the I/O.
type Provider interface {
	// Candidates lists a project's versions, newest first (see Select). A project no
	// index has is an error.
	Candidates(ctx context.Context, name string) ([]Candidate, error)
	// Requires lists a candidate's Requires-Dist.
	Requires(ctx context.Context, c Candidate) ([]pep508.Requirement, error)
}

// Root is a requirement of the recipe, with the place it was written.
type Root struct {
	Req   pep508.Requirement
	Where string // e.g. reprobuild.hcl:12
}

// Provided is a distribution a locked conda package installs.
type Provided struct {
	Version pep440.Version
	By      string // e.g. "conda package requests 2.31.0"
}

// Input is one target's resolution problem.
type Input struct {
	Roots    []Root
	Env      pep508.Env
	Provided map[string]Provided // by normalised name
	// MaxSteps bounds the search (default 100000).
	MaxSteps int
	// Prefer are versions to try first (the previous lock's pins, by normalised
	// name), so relocking an unchanged recipe keeps them while they still fit.
	Prefer map[string]pep440.Version
}

// Pin is one chosen distribution.
type Pin struct {
	Candidate
	Extras []string // normalised, sorted
	// Requested lists what asked for it: recipe requirement strings and
	// "name==version" of dependents, sorted.
	Requested []string
}

// IncompatibleError is a candidate a Provider finds unusable once it reads its
// metadata (its Requires-Python excludes the target's interpreter, say): the resolver
// passes over it and tries the next version.
type IncompatibleError struct {
	Name, Version, Reason string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("%s %s %s", e.Name, e.Version, e.Reason)
}

// ConflictError is a resolution that cannot succeed.
type ConflictError struct {
	Name    string
	Clauses []string // each "requirement (where)"
	Why     string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("cannot resolve PyPI requirements: %s: %s", e.Name, e.Why+": "+strings.Join(e.Clauses, ", "))
}

type constraint struct {
	spec   pep440.Specifiers
	extras []string
	from   string // requirement text and where it came from, for messages
	parent string // name==version of the dependent, or "" for a root
	exact  bool   // "==" or "===" without wildcard: yanked versions allowed
}

type state struct {
	order []string                // names in the order they were first required
	cons  map[string][]constraint // per name
	pins  map[string]*Pin         // chosen
}

func (s *state) clone() *state {
	n := &state{order: slices.Clone(s.order), cons: make(map[string][]constraint, len(s.cons)), pins: make(map[string]*Pin, len(s.pins))}
	for k, v := range s.cons {
		n.cons[k] = slices.Clip(v)
	}
	for k, v := range s.pins {
		n.pins[k] = v
	}
	return n
}

type resolver struct {
	ctx    context.Context
	in     Input
	p      Provider
	steps  int
	cands  map[string][]Candidate
	deps   map[string][]pep508.Requirement
	worst  *ConflictError
	worstN map[string]int
	fatal  error
}

// Resolve pins every distribution the roots need.
func Resolve(ctx context.Context, in Input, p Provider) ([]Pin, error) {
	if in.MaxSteps == 0 {
		in.MaxSteps = 100000
	}
	r := &resolver{ctx: ctx, in: in, p: p, cands: map[string][]Candidate{}, deps: map[string][]pep508.Requirement{}, worstN: map[string]int{}}
	s := &state{cons: map[string][]constraint{}, pins: map[string]*Pin{}}
	for _, root := range in.Roots {
		ok, err := r.markerOK(root.Req.Marker, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", root.Where, root.Req.String(), err)
		}
		if !ok {
			continue
		}
		r.add(s, root.Req, root.Req.String()+" ("+root.Where+")", "")
	}
	final, err := r.solve(s)
	if err != nil {
		return nil, err
	}
	var out []Pin
	for _, name := range final.order {
		if p, ok := final.pins[name]; ok && p != nil {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b Pin) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (r *resolver) markerOK(m pep508.Marker, extras []string) (bool, error) {
	if m.IsEmpty() {
		return true, nil
	}
	env := pep508.Env{}
	for k, v := range r.in.Env {
		env[k] = v
	}
	env["extra"] = ""
	ok, err := m.Evaluate(env)
	if err != nil || ok {
		return ok, err
	}
	for _, e := range extras {
		env["extra"] = e
		if ok, err := m.Evaluate(env); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (r *resolver) add(s *state, req pep508.Requirement, from, parent string) {
	name := req.Normalized()
	if _, seen := s.cons[name]; !seen {
		s.order = append(s.order, name)
	}
	exact := false
	for _, sp := range req.Specifier {
		if sp.Op == "===" || sp.Op == "==" && !sp.Wildcard {
			exact = true
		}
	}
	var extras []string
	for _, e := range req.Extras {
		extras = append(extras, pep508.NormalizeName(e))
	}
	s.cons[name] = append(s.cons[name], constraint{spec: req.Specifier, extras: extras, from: from, parent: parent, exact: exact})
}

func (r *resolver) conflict(name, why string, cons []constraint) *ConflictError {
	var clauses []string
	for _, c := range cons {
		clauses = append(clauses, c.from)
	}
	slices.Sort(clauses)
	clauses = slices.Compact(clauses)
	e := &ConflictError{Name: name, Clauses: clauses, Why: why}
	r.worstN[name]++
	if r.worst == nil || r.worstN[name] >= r.worstN[r.worst.Name] {
		r.worst = e
	}
	return e
}

func extrasOf(cons []constraint) []string {
	var out []string
	for _, c := range cons {
		out = append(out, c.extras...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// solve pins the first unpinned name, trying candidates newest first.
func (r *resolver) solve(s *state) (*state, error) {
	if r.fatal != nil {
		return nil, r.fatal
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	r.steps++
	if r.steps > r.in.MaxSteps {
		r.fatal = fmt.Errorf("cannot resolve PyPI requirements: gave up after %d steps (last conflict: %v); pin more versions in the recipe", r.in.MaxSteps, r.worst)
		return nil, r.fatal
	}
	// Re-check pinned names against constraints added since, and find the next name.
	next := ""
	for _, name := range s.order {
		pin, pinned := s.pins[name]
		cons := s.cons[name]
		if !pinned {
			if next == "" {
				next = name
			}
			continue
		}
		if pin == nil { // provided by conda
			pv := r.in.Provided[name]
			for _, c := range cons {
				if !c.spec.Contains(pv.Version) {
					return nil, r.conflict(name, fmt.Sprintf("%s %s is provided by %s and cannot be installed again from PyPI, but it does not satisfy", name, pv.Version, pv.By), cons)
				}
			}
			continue
		}
		for _, c := range cons {
			if !c.spec.Contains(pin.Version) {
				return nil, r.conflict(name, "no single version satisfies", cons)
			}
		}
		// New extras on a pinned name bring in their dependencies.
		if ex := extrasOf(cons); !slices.Equal(ex, pin.Extras) {
			n := s.clone()
			np := *pin
			np.Extras = ex
			n.pins[name] = &np
			if err := r.addDeps(n, &np, pin.Extras); err != nil {
				return nil, err
			}
			return r.solve(n)
		}
	}
	if next == "" {
		for name, pin := range s.pins {
			if pin != nil {
				pin.Requested = requested(s.cons[name])
			}
		}
		return s, nil
	}
	cons := s.cons[next]
	if pv, ok := r.in.Provided[next]; ok {
		n := s.clone()
		n.pins[next] = nil
		_ = pv
		return r.solve(n)
	}
	cands, err := r.candidates(next)
	if err != nil {
		return nil, err
	}
	allowPre := false
	exact := false
	for _, c := range cons {
		if c.spec.AllowsPrereleases() {
			allowPre = true
		}
		if c.exact {
			exact = true
		}
	}
	fits := func(c Candidate, pre bool) bool {
		if c.Version.IsPrerelease() && !pre || c.Yanked && !exact {
			return false
		}
		for _, k := range cons {
			if !k.spec.Contains(c.Version) {
				return false
			}
		}
		return true
	}
	var try []Candidate
	for _, c := range cands {
		if fits(c, allowPre) {
			try = append(try, c)
		}
	}
	if len(try) == 0 && !allowPre {
		// PEP 440: pre-releases are acceptable when nothing else is.
		for _, c := range cands {
			if fits(c, true) {
				try = append(try, c)
			}
		}
	}
	if pv, ok := r.in.Prefer[next]; ok {
		for i, c := range try {
			if c.Version.Equal(pv) {
				try = append([]Candidate{c}, append(slices.Clone(try[:i]), try[i+1:]...)...)
				break
			}
		}
	}
	var wheels []Candidate
	var sdists []string
	for _, c := range try {
		if c.SdistOnly {
			sdists = append(sdists, c.Version.String())
			continue
		}
		wheels = append(wheels, c)
	}
	if len(wheels) == 0 {
		if len(sdists) > 0 {
			var wh []string
			for _, c := range cons {
				wh = append(wh, c.from)
			}
			r.fatal = &SdistOnlyError{Name: next, Versions: sdists, Where: strings.Join(wh, ", ")}
			return nil, r.fatal
		}
		var avail []string
		for _, c := range cands {
			if !c.SdistOnly && !c.Yanked {
				avail = append(avail, c.Version.String())
			}
		}
		why := "no version satisfies"
		if len(avail) == 0 {
			why = "the index has no usable wheel of it for this target"
		} else if len(avail) > 8 {
			why += " (available: " + strings.Join(avail[:8], " ") + " …)"
		} else {
			why += " (available: " + strings.Join(avail, " ") + ")"
		}
		return nil, r.conflict(next, why, cons)
	}
	var lastErr error
	for _, c := range wheels {
		n := s.clone()
		pin := &Pin{Candidate: c, Extras: extrasOf(cons)}
		n.pins[next] = pin
		if err := r.addDeps(n, pin, nil); err != nil {
			var ie *IncompatibleError
			if errors.As(err, &ie) {
				lastErr = r.conflict(next, "no usable version ("+ie.Error()+")", cons)
				continue
			}
			return nil, err
		}
		res, err := r.solve(n)
		if err == nil {
			return res, nil
		}
		var ce *ConflictError
		if !errors.As(err, &ce) {
			return nil, err
		}
		lastErr = err
	}
	if r.worst != nil {
		return nil, r.worst
	}
	return nil, lastErr
}

// addDeps adds the requirements of pin (those for extras not in had) to s.
func (r *resolver) addDeps(s *state, pin *Pin, had []string) error {
	reqs, err := r.requires(pin.Candidate)
	if err != nil {
		return err
	}
	parent := pin.Name + "==" + pin.Version.String()
	for _, q := range reqs {
		okNow, err := r.markerOK(q.Marker, pin.Extras)
		if err != nil {
			return fmt.Errorf("%s: requirement %q: %w", parent, q.String(), err)
		}
		if !okNow {
			continue
		}
		if had != nil {
			if okBefore, _ := r.markerOK(q.Marker, had); okBefore {
				continue // already added
			}
		}
		r.add(s, q, q.String()+" (from "+parent+")", parent)
	}
	return nil
}

func requested(cons []constraint) []string {
	var out []string
	for _, c := range cons {
		if c.parent != "" {
			out = append(out, c.parent)
		} else {
			out = append(out, c.from)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (r *resolver) candidates(name string) ([]Candidate, error) {
	if c, ok := r.cands[name]; ok {
		return c, nil
	}
	c, err := r.p.Candidates(r.ctx, name)
	if err != nil {
		r.fatal = err
		return nil, err
	}
	r.cands[name] = c
	return c, nil
}

func (r *resolver) requires(c Candidate) ([]pep508.Requirement, error) {
	key := c.Name + "==" + c.Version.String()
	if d, ok := r.deps[key]; ok {
		return d, nil
	}
	d, err := r.p.Requires(r.ctx, c)
	if err != nil {
		var ie *IncompatibleError
		if errors.As(err, &ie) {
			return nil, err
		}
		r.fatal = fmt.Errorf("reading the requirements of %s: %w", key, err)
		return nil, r.fatal
	}
	r.deps[key] = d
	return d, nil
}
