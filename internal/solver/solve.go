package solver

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/reprobuild/reprobuild/internal/conda"
)

// prec is a record visible to the solve, with its parsed version.
type prec struct {
	rec     *conda.PackageRecord
	ver     conda.Version
	ch      int // channel index; -1 for virtual packages
	locked  bool
	virtual bool
	v       int32 // variable, or -1 before the record is reached
}

// nameGroup is every visible record of one package name.
type nameGroup struct {
	name string
	id   int32
	recs []*prec // in dependency preference order
	// byRoot is recs in root preference order (version before track_features).
	byRoot []*prec
}

type problem struct {
	task    *Task
	names   map[string]*nameGroup
	sorted  []string // all names, sorted, for glob specs
	vars    []*prec
	nameOf  []int32
	specs   map[string]parsedSpec
	eng     *engine
	queue   []*prec
	ngroups int32
	flex    bool
}

type parsedSpec struct {
	ms  conda.MatchSpec
	err error
}

// Solve picks one record per package name such that the task's specs, every
// dependency and every constraint hold, following conda's preferences. An impossible
// task gives an *UnsatisfiableError that explains why.
func Solve(ctx context.Context, t Task) (*Solution, error) {
	switch t.ChannelPriority {
	case "", PriorityStrict, PriorityFlexible, PriorityDisabled:
	default:
		return nil, &TaskError{Reason: fmt.Sprintf("channel priority %q is not one of strict, flexible, disabled", t.ChannelPriority)}
	}
	p := &problem{task: &t, names: map[string]*nameGroup{}, specs: map[string]parsedSpec{}}
	p.flex = t.ChannelPriority == PriorityFlexible
	p.collect()
	p.encode()
	ok, err := p.eng.solve(func() bool { return ctx.Err() != nil })
	if err != nil {
		return nil, fmt.Errorf("solving %d specs: %w", len(t.Specs), ctx.Err())
	}
	if !ok {
		return nil, p.explain()
	}
	sol := &Solution{}
	for v, pr := range p.vars {
		if p.eng.value[v] == 1 && !pr.virtual {
			sol.Records = append(sol.Records, *pr.rec)
		}
	}
	slices.SortFunc(sol.Records, func(a, b conda.PackageRecord) int { return strings.Compare(a.Name, b.Name) })
	return sol, nil
}

// collect gathers the visible records by name, applying allow-lists, ExcludeNewer
// and channel priority, and orders each name's records by preference.
func (p *problem) collect() {
	t := p.task
	locked := map[string]*conda.PackageRecord{}
	for i := range t.Locked {
		locked[t.Locked[i].Name] = &t.Locked[i]
	}
	for _, n := range t.Update {
		delete(locked, n)
	}
	add := func(r *conda.PackageRecord, ch int) {
		v, err := conda.ParseVersion(r.Version)
		if err != nil {
			return // a record conda cannot order is one it cannot install
		}
		g := p.names[r.Name]
		if g == nil {
			g = &nameGroup{name: r.Name}
			p.names[r.Name] = g
		}
		pr := &prec{rec: r, ver: v, ch: ch, v: -1, virtual: ch < 0}
		if l := locked[r.Name]; l != nil && sameRecord(l, r) {
			pr.locked = true
		}
		g.recs = append(g.recs, pr)
	}
	for i := range t.Virtual {
		add(&t.Virtual[i], -1)
	}
	for ci := range t.Channels {
		c := &t.Channels[ci]
		for ri := range c.Records {
			r := &c.Records[ri]
			if strings.HasPrefix(r.Name, "__") {
				continue // virtual packages come only from the task
			}
			if t.ExcludeNewer > 0 && r.Timestamp > t.ExcludeNewer {
				continue
			}
			if len(c.Allow) > 0 && !allowed(c.Allow, r.Name) {
				continue
			}
			add(r, ci)
		}
	}
	strict := t.ChannelPriority == "" || t.ChannelPriority == PriorityStrict
	for name, g := range p.names {
		p.sorted = append(p.sorted, name)
		if g.recs[0].virtual {
			// A virtual package hides channel records of its name.
			g.recs = slices.DeleteFunc(g.recs, func(r *prec) bool { return !r.virtual })
		} else if strict {
			best := g.recs[0].ch
			g.recs = slices.DeleteFunc(g.recs, func(r *prec) bool { return r.ch != best })
		}
		g.byRoot = slices.Clone(g.recs)
		slices.SortStableFunc(g.recs, p.depOrder)
		slices.SortStableFunc(g.byRoot, p.rootOrder)
	}
	slices.Sort(p.sorted)
}

func allowed(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func sameRecord(a, b *conda.PackageRecord) bool {
	if a.Version != b.Version || a.Build != b.Build {
		return false
	}
	if a.Subdir != "" && b.Subdir != "" && a.Subdir != b.Subdir {
		return false
	}
	return a.Channel == "" || b.Channel == "" || a.Channel == b.Channel
}

// Preference orders. Requested specs maximise version before minimising
// track_features; dependencies minimise track_features first, as conda's objective
// order does. Ties go to build number, arch-specific over noarch, newer timestamp,
// then file name so the order never depends on input order.
func (p *problem) rootOrder(a, b *prec) int {
	if c := p.head(a, b); c != 0 {
		return c
	}
	if c := b.ver.Compare(a.ver); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.rec.TrackFeatures), len(b.rec.TrackFeatures)); c != 0 {
		return c
	}
	return tail(a, b)
}

func (p *problem) depOrder(a, b *prec) int {
	if c := p.head(a, b); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.rec.TrackFeatures), len(b.rec.TrackFeatures)); c != 0 {
		return c
	}
	if c := b.ver.Compare(a.ver); c != 0 {
		return c
	}
	return tail(a, b)
}

func (p *problem) head(a, b *prec) int {
	if a.locked != b.locked {
		if a.locked {
			return -1
		}
		return 1
	}
	if p.flex {
		return cmp.Compare(a.ch, b.ch)
	}
	return 0
}

func tail(a, b *prec) int {
	if c := cmp.Compare(b.rec.BuildNumber, a.rec.BuildNumber); c != 0 {
		return c
	}
	an, bn := a.rec.Subdir == "noarch", b.rec.Subdir == "noarch"
	if an != bn {
		if bn {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.rec.Timestamp, a.rec.Timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ch, b.ch); c != 0 {
		return c
	}
	return strings.Compare(a.rec.Fn, b.rec.Fn)
}

func (p *problem) spec(text string) parsedSpec {
	if s, ok := p.specs[text]; ok {
		return s
	}
	ms, err := conda.ParseMatchSpec(text)
	s := parsedSpec{ms: ms, err: err}
	p.specs[text] = s
	return s
}

// candidates lists the records matching ms, in the given preference order.
func (p *problem) candidates(ms conda.MatchSpec, root bool) []*prec {
	var groups []*nameGroup
	if n, ok := ms.ExactName(); ok {
		if g := p.names[n]; g != nil {
			groups = append(groups, g)
		}
	} else {
		for _, n := range p.sorted {
			if ok, _ := path.Match(ms.Name, n); ok {
				groups = append(groups, p.names[n])
			}
		}
	}
	var out []*prec
	for _, g := range groups {
		list := g.recs
		if root {
			list = g.byRoot
		}
		for _, r := range list {
			if ms.MatchVersion(r.rec, r.ver) {
				out = append(out, r)
			}
		}
	}
	return out
}

// varOf gives a record its variable the first time it is reached.
func (p *problem) varOf(r *prec) int32 {
	if r.v >= 0 {
		return r.v
	}
	g := p.names[r.rec.Name]
	if g.id == 0 {
		p.ngroups++
		g.id = p.ngroups
	}
	r.v = int32(len(p.vars))
	p.vars = append(p.vars, r)
	p.nameOf = append(p.nameOf, g.id-1)
	p.queue = append(p.queue, r)
	return r.v
}

type pendingClause struct {
	c     clause
	cands []*prec
}

// encode reaches every record the specs can pull in and builds the clauses.
func (p *problem) encode() {
	var reqs []pendingClause
	for i, s := range p.task.Specs {
		cands := p.candidates(s.MatchSpec, true)
		for _, r := range cands {
			p.varOf(r)
		}
		reqs = append(reqs, pendingClause{c: clause{kind: kindRoot, rec: -1, spec: int32(i), text: s.Text}, cands: cands})
	}
	for _, r := range p.task.Virtual {
		if g := p.names[r.Name]; g != nil {
			for _, pr := range g.recs {
				p.varOf(pr)
			}
		}
	}
	for qi := 0; qi < len(p.queue); qi++ {
		r := p.queue[qi]
		for _, d := range r.rec.Depends {
			s := p.spec(d)
			var cands []*prec
			if s.err == nil {
				cands = p.candidates(s.ms, false)
			}
			for _, c := range cands {
				p.varOf(c)
			}
			reqs = append(reqs, pendingClause{c: clause{kind: kindDepends, rec: r.v, text: d}, cands: cands})
		}
		if r.rec.Features != "" {
			for _, f := range strings.Fields(strings.ReplaceAll(r.rec.Features, ",", " ")) {
				cands := p.trackers(f)
				for _, c := range cands {
					p.varOf(c)
				}
				reqs = append(reqs, pendingClause{c: clause{kind: kindFeature, rec: r.v, text: f}, cands: cands})
			}
		}
	}
	p.eng = newEngine(len(p.vars), p.nameOf, int(p.ngroups))
	for _, pr := range p.vars {
		if pr.virtual {
			p.eng.addClause(clause{lits: []lit{posLit(pr.v)}, kind: kindFixed, rec: pr.v})
		}
	}
	for _, q := range reqs {
		c := q.c
		for _, r := range q.cands {
			c.candLits = append(c.candLits, posLit(r.v))
		}
		if c.rec >= 0 {
			c.lits = append([]lit{negLit(c.rec)}, c.candLits...)
		} else {
			c.lits = slices.Clone(c.candLits)
		}
		p.eng.addClause(c)
	}
	// Constraints only matter between reached records, so they come after the closure.
	for _, r := range p.vars {
		for _, text := range r.rec.Constrains {
			s := p.spec(text)
			if s.err != nil {
				continue // conda ignores a constraint it cannot read
			}
			n, ok := s.ms.ExactName()
			if !ok {
				continue
			}
			g := p.names[n]
			if g == nil {
				continue
			}
			for _, o := range g.recs {
				if o.v < 0 || o == r || s.ms.MatchVersion(o.rec, o.ver) {
					continue
				}
				p.eng.addClause(clause{lits: []lit{negLit(r.v), negLit(o.v)}, kind: kindConstrains, rec: r.v, text: text})
			}
		}
	}
}

// trackers lists records whose track_features include the feature.
func (p *problem) trackers(f string) []*prec {
	var out []*prec
	for _, n := range p.sorted {
		for _, r := range p.names[n].recs {
			if slices.Contains(r.rec.TrackFeatures, f) {
				out = append(out, r)
			}
		}
	}
	return out
}
