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
	shown   map[int32]bool
}

// explain turns the unsatisfiable core into an UnsatisfiableError.
func (p *problem) explain() error {
	e := p.eng
	core := e.core()
	x := &explainer{p: p, byRec: map[int32][]int32{}, oneName: map[int32][]int32{}, shown: map[int32]bool{}}
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
		case kindConstrains:
			x.byRec[c.rec] = append(x.byRec[c.rec], id)
			o := c.lits[1].v()
			if o == c.rec {
				o = c.lits[0].v()
			}
			x.byRec[o] = append(x.byRec[o], id)
		case kindDepends, kindFeature:
			x.byRec[c.rec] = append(x.byRec[c.rec], id)
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
func (x *explainer) requirement(head string, c *clause, depth int) Cause {
	if len(c.candLits) == 0 {
		return Cause{Text: head + ", but no package in the channels matches it"}
	}
	out := Cause{Text: head + ", which cannot be installed:"}
	if depth >= maxDepth {
		out.Text = head + " (conflicts further down)"
		return out
	}
	for i, l := range c.candLits {
		if i == maxShown {
			out.Children = append(out.Children, Cause{Text: fmt.Sprintf("... and %d more candidates, excluded the same way", len(c.candLits)-maxShown)})
			break
		}
		out.Children = append(out.Children, x.record(l.v(), depth+1))
	}
	return out
}

// record explains why one record cannot be part of the solution.
func (x *explainer) record(v int32, depth int) Cause {
	label := x.label(v)
	if x.shown[v] {
		return Cause{Text: label + ", excluded as shown above"}
	}
	x.shown[v] = true
	out := Cause{Text: label}
	e := x.p.eng
	for _, id := range x.byRec[v] {
		c := &e.clauses[id]
		switch c.kind {
		case kindDepends:
			out.Children = append(out.Children, x.requirement("requires "+c.text, c, depth))
		case kindFeature:
			out.Children = append(out.Children, x.requirement("needs feature "+c.text, c, depth))
		case kindConstrains:
			other := c.lits[0].v()
			if other == v {
				other = c.lits[1].v()
			}
			if c.rec == v {
				out.Children = append(out.Children, Cause{Text: fmt.Sprintf("constrains %s, which excludes %s", c.text, x.label(other))})
			} else {
				out.Children = append(out.Children, Cause{Text: fmt.Sprintf("is excluded by %s, which constrains %s", x.label(other), c.text)})
			}
		}
	}
	others := slices.Clone(x.oneName[v])
	slices.Sort(others)
	others = slices.Compact(others)
	for _, o := range others {
		out.Children = append(out.Children, Cause{Text: fmt.Sprintf("conflicts with %s (only one %s can be installed)", x.label(o), x.p.vars[o].rec.Name)})
	}
	if len(out.Children) == 0 {
		out.Text += ", which conflicts with the requirements above"
	}
	return out
}

func (x *explainer) label(v int32) string {
	r := x.p.vars[v]
	if r.virtual {
		return fmt.Sprintf("%s %s (virtual package of the target)", r.rec.Name, r.rec.Version)
	}
	return fmt.Sprintf("%s %s %s", r.rec.Name, r.rec.Version, r.rec.Build)
}

func sortInt32(s []int32) { slices.Sort(s) }
