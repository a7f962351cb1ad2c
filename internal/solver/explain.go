package solver

import (
	"fmt"
	"slices"
	"strings"
)

// UnsatisfiableError reports that no set of records satisfies the task. It keeps the
// conflict as data (the root specs involved and a tree of reasons) and prints it as a
// tree that starts at the requested specs, like resolvo and PubGrub do.
type UnsatisfiableError struct {
	// Specs are the requested specs that take part in the conflict, in task order.
	Specs []Spec
	// NotFound are requested specs that no visible record matches at all.
	NotFound []Spec
	// Causes has one tree per spec in Specs.
	Causes []Cause
}

// Cause is one node of an explanation: a requirement or a record and why it fails.
type Cause struct {
	// Text is one line, e.g. "numpy 1.5.1 py27_0 requires python 2.7.*".
	Text     string
	Children []Cause
}

func (e *UnsatisfiableError) Error() string {
	var b strings.Builder
	if len(e.NotFound) > 0 && len(e.NotFound) == len(e.Specs) {
		names := make([]string, len(e.NotFound))
		for i, s := range e.NotFound {
			names[i] = specLabel(s)
		}
		fmt.Fprintf(&b, "cannot solve: no package in the channels matches %s; check the name and version, the channels and their allow-lists", strings.Join(names, ", "))
	} else {
		b.WriteString("cannot solve: the requested packages are incompatible; relax or remove one of the specs below")
	}
	for i, c := range e.Causes {
		last := i == len(e.Causes)-1
		writeCause(&b, c, "", last)
	}
	return b.String()
}

func writeCause(b *strings.Builder, c Cause, indent string, last bool) {
	branch, next := "├─ ", "│  "
	if last {
		branch, next = "└─ ", "   "
	}
	b.WriteString("\n" + indent + branch + c.Text)
	for i, ch := range c.Children {
		writeCause(b, ch, indent+next, i == len(c.Children)-1)
	}
}

func specLabel(s Spec) string {
	if s.Origin != "" {
		return fmt.Sprintf("%q (%s)", s.Text, s.Origin)
	}
	return fmt.Sprintf("%q", s.Text)
}

const (
	maxShown = 6 // candidates listed per requirement
	maxDepth = 6
)

type explainer struct {
	p *problem
	// byRec holds, for each record variable, the core clauses it triggers.
	byRec map[int32][]int32
	// oneName holds, for each variable, the records of its name it was excluded by.
	oneName map[int32][]int32
	// explained marks dependency texts already expanded, so shared requirements are
	// shown once.
	explained map[string]bool
	onPath    map[int32]bool
	// auxExcl and auxBy hold, per shared constraint variable, the records it excludes
	// and the records that put it in force.
	auxExcl, auxBy map[int32][]int32
}

// explain turns the unsatisfiable core into an UnsatisfiableError.
func (p *problem) explain() error {
	e := p.eng
	core := e.core()
	x := &explainer{p: p, byRec: map[int32][]int32{}, oneName: map[int32][]int32{}, explained: map[string]bool{}, onPath: map[int32]bool{}, auxExcl: map[int32][]int32{}, auxBy: map[int32][]int32{}}
	var roots []int32
	for _, id := range core {
		c := &e.clauses[id]
		switch c.kind {
		case kindRoot:
			roots = append(roots, id)
		case kindOneName:
			a, b := c.lits[0].v(), c.lits[1].v()
			x.oneName[a] = append(x.oneName[a], b)
			x.oneName[b] = append(x.oneName[b], a)
		case kindConstrainsAux:
			a, o := c.spec, c.lits[0].v()
			if o == a {
				o = c.lits[1].v()
			}
			x.auxExcl[a] = append(x.auxExcl[a], o)
			x.byRec[o] = append(x.byRec[o], id)
		case kindConstrains:
			x.byRec[c.rec] = append(x.byRec[c.rec], id)
			if len(c.lits) == 1 {
				continue
			}
			if c.spec >= int32(len(p.vars)) {
				x.auxBy[c.spec] = append(x.auxBy[c.spec], c.rec)
				continue
			}
			o := c.lits[1].v()
			if o == c.rec {
				o = c.lits[0].v()
			}
			x.byRec[o] = append(x.byRec[o], id)
		case kindDepends, kindFeature:
			x.byRec[c.rec] = append(x.byRec[c.rec], id)
		case kindTaskConstraint:
			x.byRec[c.lits[0].v()] = append(x.byRec[c.lits[0].v()], id)
		}
	}
	if len(roots) == 0 {
		// The conflict does not involve a requested spec, so every spec is involved
		// through the fixed records; show them all.
		for _, id := range e.reqs {
			if e.clauses[id].kind == kindRoot {
				roots = append(roots, id)
			}
		}
	}
	err := &UnsatisfiableError{}
	for _, id := range roots {
		c := &e.clauses[id]
		s := p.task.Specs[c.spec]
		err.Specs = append(err.Specs, s)
		if len(c.candLits) == 0 {
			err.NotFound = append(err.NotFound, s)
		}
		err.Causes = append(err.Causes, x.requirement(specLabel(s)+" is requested", c, 0))
	}
	return err
}

// requirement explains why no candidate of a requirement clause can be installed.
// Candidates of one name whose explanations read the same are merged into one line,
// so a requirement with fifty builds still reads as a few lines.
func (x *explainer) requirement(head string, c *clause, depth int) Cause {
	if len(c.candLits) == 0 {
		out := Cause{Text: head + ", but no package in the channels matches it"}
		out.Children = x.hiddenMatches(c)
		return out
	}
	if c.kind == kindDepends || c.kind == kindFeature {
		if x.explained[c.text] {
			return Cause{Text: head + ", which cannot be installed (see above)"}
		}
		x.explained[c.text] = true
	}
	out := Cause{Text: head + ", which cannot be installed:"}
	if depth >= maxDepth {
		out.Text = head + ", which cannot be installed (the chain continues further)"
		return out
	}
	type group struct {
		name string
		vars []int32
	}
	var groups []*group
	index := map[string]*group{}
	for _, l := range c.candLits {
		v := l.v()
		key := x.p.vars[v].rec.Name + "\x00" + x.reasonKey(v)
		g := index[key]
		if g == nil {
			g = &group{name: x.p.vars[v].rec.Name}
			index[key] = g
			groups = append(groups, g)
		}
		g.vars = append(g.vars, v)
	}
	for _, g := range groups {
		var labels []string
		for _, v := range g.vars {
			labels = append(labels, x.short(v))
		}
		text := g.name + " " + versionList(labels)
		kids := x.reasons(g.vars, depth+1)
		if len(kids) == 0 {
			text += ", which conflicts with the requirements above"
		}
		out.Children = append(out.Children, Cause{Text: text, Children: kids})
	}
	return out
}

// reasonKey names the kinds of reasons that exclude a record, so records excluded
// for the same reasons are explained together.
func (x *explainer) reasonKey(v int32) string {
	var parts []string
	for _, id := range x.byRec[v] {
		parts = append(parts, x.clauseKey(v, id))
	}
	if len(x.oneName[v]) > 0 {
		parts = append(parts, "one")
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), "\x00")
}

func (x *explainer) clauseKey(v, id int32) string {
	c := &x.p.eng.clauses[id]
	dir := "by"
	if c.rec == v {
		dir = "of"
	}
	return fmt.Sprintf("%d/%s/%d/%s", c.kind, dir, c.spec, c.text)
}

// reasons lists why a group of records of one name cannot be part of the solution.
func (x *explainer) reasons(vs []int32, depth int) []Cause {
	for _, v := range vs {
		if x.onPath[v] {
			return []Cause{{Text: "(depends on itself through the chain above)"}}
		}
	}
	for _, v := range vs {
		x.onPath[v] = true
	}
	defer func() {
		for _, v := range vs {
			delete(x.onPath, v)
		}
	}()
	type item struct {
		cause  Cause
		others []string // records a constraint excludes (or that exclude this one)
		tmpl   string
	}
	var items []*item
	byKey := map[string]*item{}
	var others []int32
	e := x.p.eng
	for _, v := range vs {
		others = append(others, x.oneName[v]...)
		for _, id := range x.byRec[v] {
			c := &e.clauses[id]
			key := x.clauseKey(v, id)
			it := byKey[key]
			if it == nil {
				it = &item{}
				byKey[key] = it
				items = append(items, it)
				switch c.kind {
				case kindDepends:
					it.cause = x.requirement("requires "+c.text, c, depth)
				case kindFeature:
					it.cause = x.requirement("needs feature "+c.text, c, depth)
				case kindTaskConstraint:
					it.cause = Cause{Text: "is excluded by the constraint " + specLabel(x.p.task.Constraints[c.spec])}
				case kindConstrains:
					switch {
					case len(c.lits) == 1:
						it.cause = Cause{Text: fmt.Sprintf("has a constraint %q that cannot be read, so it cannot be checked: %v", c.text, x.p.spec(c.text).err)}
					case c.rec == v:
						it.tmpl = "constrains " + c.text + ", which excludes %s"
					default:
						it.tmpl = "is excluded by %s, which constrains " + c.text
					}
				case kindConstrainsAux:
					it.tmpl = "is excluded by %s, which constrains " + c.text
				}
			}
			switch {
			case c.kind == kindConstrainsAux:
				for _, r := range x.auxBy[c.spec] {
					it.others = append(it.others, x.label(r))
				}
			case c.kind == kindConstrains && len(c.lits) == 2 && c.spec >= int32(len(x.p.vars)):
				for _, o := range x.auxExcl[c.spec] {
					it.others = append(it.others, x.label(o))
				}
			case c.kind == kindConstrains && len(c.lits) == 2:
				other := c.lits[0].v()
				if other == v {
					other = c.lits[1].v()
				}
				it.others = append(it.others, x.label(other))
			}
		}
	}
	var out []Cause
	for _, it := range items {
		if it.tmpl != "" {
			it.cause = Cause{Text: fmt.Sprintf(it.tmpl, joinCapped(uniq(it.others), " | ", maxShown))}
		}
		out = append(out, it.cause)
	}
	slices.Sort(others)
	others = slices.Compact(others)
	if len(others) > 0 {
		var labels []string
		for _, o := range others {
			labels = append(labels, x.short(o))
		}
		name := x.p.vars[vs[0]].rec.Name
		out = append(out, Cause{Text: fmt.Sprintf("conflicts with %s %s, needed by another requirement (only one %s can be installed)", name, versionList(labels), name)})
	}
	return out
}

// short is a record's version, marked for virtual packages.
func (x *explainer) short(v int32) string {
	r := x.p.vars[v]
	if r.virtual {
		return r.rec.Version + " (virtual package of the target)"
	}
	return r.rec.Version
}

// versionList joins versions in preference order without repeats, with the build
// count when builds share versions.
func versionList(versions []string) string {
	uniq := slices.Compact(slices.Clone(versions))
	s := joinCapped(uniq, " | ", maxShown)
	if len(versions) > len(uniq) {
		s += fmt.Sprintf(" (%d builds)", len(versions))
	}
	return s
}

func joinCapped(items []string, sep string, limit int) string {
	if len(items) <= limit {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:limit], sep) + fmt.Sprintf(" and %d more", len(items)-limit)
}

func (x *explainer) label(v int32) string {
	r := x.p.vars[v]
	if r.virtual {
		return fmt.Sprintf("%s %s (virtual package of the target)", r.rec.Name, r.rec.Version)
	}
	return fmt.Sprintf("%s %s %s", r.rec.Name, r.rec.Version, r.rec.Build)
}

func sortInt32(s []int32) { slices.Sort(s) }

// hiddenMatches names records that would match an unmatched requirement but were
// hidden from the solve, and why, so the user knows which setting to change.
func (x *explainer) hiddenMatches(c *clause) []Cause {
	var ms *parsedSpec
	if c.kind == kindRoot {
		ms = &parsedSpec{ms: x.p.task.Specs[c.spec].MatchSpec}
	} else if c.kind == kindDepends {
		ms = x.p.spec(c.text)
	}
	if ms == nil || ms.err != nil {
		if ms != nil {
			return []Cause{{Text: fmt.Sprintf("the dependency cannot be read: %v", ms.err)}}
		}
		return nil
	}
	n, ok := ms.ms.ExactName()
	if !ok {
		return nil
	}
	var out []Cause
	for _, h := range x.p.hidden[n] {
		if len(out) == maxShown {
			out = append(out, Cause{Text: "... and more hidden records"})
			break
		}
		if ms.ms.Match(h.rec) {
			out = append(out, Cause{Text: fmt.Sprintf("%s %s %s %s", h.rec.Name, h.rec.Version, h.rec.Build, h.why)})
		}
	}
	return out
}

// uniq drops repeated strings, keeping the first occurrence's position.
func uniq(items []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
